"""Incident pages of the support console, mounted at /support/incidents/ (config.urls_public)."""

from django.urls import path

from . import views_console

app_name = "incident_console"

urlpatterns = [
    path("", views_console.incident_list, name="list"),
    path("new/", views_console.incident_new, name="new"),
    path("<int:pk>/", views_console.incident_detail, name="detail"),
]
