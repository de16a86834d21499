"""Support pages on a workspace host; every view declares its capability."""

from django.urls import path

from . import views_tenant

app_name = "support_access"

urlpatterns = [
    path("settings/support/", views_tenant.support_settings, name="settings"),
    path("settings/support/access/", views_tenant.access_switch, name="access-switch"),
    path(
        "settings/support/grants/<int:pk>/revoke/", views_tenant.grant_revoke, name="grant-revoke"
    ),
    path("support-session/enter/<str:token>/", views_tenant.session_enter, name="session-enter"),
    path("support-session/end/", views_tenant.session_end, name="session-end"),
]
