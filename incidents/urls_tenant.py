"""Incident pages on a workspace host; every view declares its capability."""

from django.urls import path

from . import views_tenant

app_name = "incident_emails"

urlpatterns = [
    path("settings/incident-emails/", views_tenant.email_preference, name="preference"),
]
