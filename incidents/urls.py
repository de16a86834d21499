"""The status page on the public host (config.urls_public)."""

from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("status/", views.status_page, name="status"),
    path("status.json", views.status_json, name="status-json"),
    path("status/feed.atom", views.status_feed, name="status-feed"),
]
