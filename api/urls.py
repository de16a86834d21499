"""The API tokens settings page, mounted at /settings/api-tokens/ (namespace "api-tokens")."""

from django.urls import path

from . import settings_views

app_name = "api-tokens"

urlpatterns = [
    path("", settings_views.token_list, name="list"),
    path("<int:pk>/revoke/", settings_views.token_revoke, name="revoke"),
]
