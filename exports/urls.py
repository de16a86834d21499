from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.export_list, name="list"),
    path("start/", views.export_start, name="start"),
    path("<int:pk>/progress/", views.export_progress, name="progress"),
    path("<int:pk>/link/", views.export_link, name="link"),
    path("<int:pk>/download/<str:token>/", views.export_download, name="download"),
]
