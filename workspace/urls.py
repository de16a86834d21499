"""Workspace settings pages (namespace "workspace"), mounted at /settings/.

Other apps mount their own pages beside these: rbac (members/, roles/, ...), audit (audit/),
exports (exports/). Every view declares its capability in ``settings_views.py``.
"""

from django.urls import path

from . import settings_views

app_name = "workspace"

urlpatterns = [
    path("", settings_views.settings_index, name="settings"),
    path("security/", settings_views.security_settings, name="security-settings"),
    path("verify/", settings_views.verify_page, name="verify"),
    path("cancel/", settings_views.workspace_cancel_page, name="cancel"),
    path("delete/", settings_views.workspace_delete_page, name="delete"),
]
