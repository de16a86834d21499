"""The support console on the public host, mounted at /support/ (config.urls_public)."""

from django.urls import path

from . import views

app_name = "support"

urlpatterns = [
    path("", views.console, name="console"),
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("workspaces/<slug:slug>/", views.workspace, name="workspace"),
    path("workspaces/<slug:slug>/restore/", views.workspace_restore, name="workspace-restore"),
    path("session/end/", views.session_end, name="session-end"),
    path("sub-processors/", views.subprocessors, name="subprocessors"),
]
