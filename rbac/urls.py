"""Member pages, under the workspace's settings/ (app_name "rbac"), and the public invitation
link (``invitation_patterns``, namespace "invitations", mounted at /invitations/).
Each view declares its capability in ``views.py``."""

from django.urls import path

from . import views

app_name = "rbac"

urlpatterns = [
    path("members/", views.member_list, name="member-list"),
    path("members/invite/", views.member_invite, name="member-invite"),
    path("members/<int:pk>/", views.member_detail, name="member-detail"),
    path("members/<int:pk>/role/", views.member_role, name="member-role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path(
        "members/<int:pk>/temporary-password/",
        views.member_temporary_password,
        name="member-temporary-password",
    ),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("ownership/", views.ownership_transfer, name="ownership-transfer"),
    path("ownership/confirm/", views.ownership_confirm, name="ownership-confirm"),
    path("roles/", views.roles, name="roles"),
    # A company administrator's own company's people
    path("people/", views.company_people, name="company-people"),
    path("people/invite/", views.company_people_invite, name="company-people-invite"),
    path("people/<int:pk>/remove/", views.company_person_remove, name="company-person-remove"),
    path(
        "people/invitations/<int:pk>/revoke/",
        views.company_invitation_revoke,
        name="company-invitation-revoke",
    ),
]

invitation_patterns = (
    [path("<str:token>/", views.invitation_accept, name="accept")],
    "invitations",
)
