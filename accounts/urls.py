"""Account pages on a workspace host (under /accounts/). Every view declares its capability."""

from django.urls import include, path

from . import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("handoff/<str:token>/", views.handoff, name="handoff"),
    # Password reset by email (public: the visitor is not signed in)
    path("password-reset/", views.password_reset_request, name="password-reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password-reset-sent"),
    path("password-reset/link/<str:token>/", views.password_reset_link, name="password-reset-link"),
    path("password-reset/new-password/", views.password_reset_new, name="password-reset-new"),
    # The member's own security page
    path("security/", views.security, name="security"),
    path("password/change/", views.password_change, name="password-change"),
    path("security/sessions/<int:pk>/revoke/", views.session_revoke, name="session-revoke"),
    path("security/sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
    # Two-factor authentication: the member's own pages and the second sign-in step
    path("2fa/", include("accounts.twofactor.urls")),
]
