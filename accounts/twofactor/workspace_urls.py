"""The workspace's two-factor requirement, mounted at /settings/two-factor/ (namespace
"two-factor-workspace"). Every view needs settings:security."""

from django.urls import path

from . import views

app_name = "two-factor-workspace"

urlpatterns = [
    path("", views.workspace_requirement, name="settings"),
    path("off/", views.workspace_requirement_off, name="off"),
    path("sign-out-everyone/", views.workspace_sign_out_everyone, name="sign-out-everyone"),
]
