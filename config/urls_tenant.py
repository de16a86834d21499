"""URLs of a workspace host (<slug>.APP_DOMAIN). Every view here declares its capability."""

from django.urls import include, path

from api import views as api_views
from rbac import urls as rbac_urls
from workspace import public_views

urlpatterns = [
    # RFC 9116 on every host, for anyone (PUBLIC): the same file as the public site's.
    path(
        ".well-known/security.txt",
        public_views.security_txt_workspace,
        name="security-txt",
    ),
    path("api/v1/", include((api_views.urlpatterns(), "api"), namespace="api")),
    path("accounts/", include("accounts.urls")),
    path("settings/audit/", include("audit.urls")),
    path("settings/exports/", include("exports.urls")),
    path("settings/two-factor/", include("workspace.two_factor_urls")),
    path("settings/api-tokens/", include("api.urls")),
    path("settings/", include("rbac.urls")),
    path("settings/", include("workspace.urls")),
    path("invitations/", include(rbac_urls.invitation_patterns)),
    path("", include("support.urls_tenant")),
    path("", include("incidents.urls_tenant")),
    path("", include("shop.urls")),
    path("", include("desk.urls")),
    path("", include("docrequests.urls")),
]

# Our pages for errors, the same on every host (kernel/errors.py). A dependency that is
# briefly down (PostgreSQL restarting, Redis refusing the rate limiter) is a 503 page, not a
# 500 with a traceback.
handler400 = "kernel.errors.bad_request"
handler403 = "kernel.errors.permission_denied"
handler404 = "kernel.errors.page_not_found"
handler500 = "kernel.errors.server_error"
