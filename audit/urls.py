from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event-list"),
    path("export/", views.event_export, name="event-export"),
    path("digests/", views.digest_download, name="digest-download"),
    path("<int:event_id>/", views.event_detail, name="event-detail"),
]
