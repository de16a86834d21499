"""URLs of a workspace host (<slug>.APP_DOMAIN). Every view here declares its capability."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("", include("shop.urls")),
]
