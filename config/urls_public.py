"""URLs of the public host (APP_DOMAIN): the platform site, sign-up, support console."""

from django.urls import include, path

from accounts import views as account_views
from workspace import public_views, signup_views

urlpatterns = [
    path("", public_views.landing, name="landing"),
    path("security/", public_views.security, name="security"),
    path("security/sub-processors/", public_views.subprocessors, name="security-subprocessors"),
    path("security/disclosure/", public_views.disclosure, name="security-disclosure"),
    path(".well-known/security.txt", public_views.security_txt, name="security-txt"),
    path("signup/", signup_views.sign_up, name="sign-up"),
    path("signup/sent/", signup_views.sign_up_sent, name="sign-up-sent"),
    path("signup/confirm/", signup_views.sign_up_confirm, name="sign-up-confirm"),
    path("signup/confirm/<str:token>/", signup_views.sign_up_link, name="sign-up-link"),
    path("find-workspaces/", account_views.find_workspaces, name="find-workspaces"),
    path("support/incidents/", include("incidents.urls_console")),
    path("support/", include("support.urls")),
    path("", include("incidents.urls")),
]

# Our pages for errors, the same on every host (kernel/errors.py). A dependency that is
# briefly down (PostgreSQL restarting, Redis refusing the rate limiter) is a 503 page, not a
# 500 with a traceback.
handler400 = "kernel.errors.bad_request"
handler403 = "kernel.errors.permission_denied"
handler404 = "kernel.errors.page_not_found"
handler500 = "kernel.errors.server_error"
