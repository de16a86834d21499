"""The workspace's two-factor requirement, mounted at /settings/two-factor/ (namespace
"two-factor-workspace"). Every view needs settings:security."""

from django.urls import path

from . import two_factor_views

app_name = "two-factor-workspace"

urlpatterns = [
    path("", two_factor_views.workspace_requirement, name="settings"),
    path("off/", two_factor_views.workspace_requirement_off, name="off"),
    path(
        "sign-out-everyone/",
        two_factor_views.workspace_sign_out_everyone,
        name="sign-out-everyone",
    ),
]
