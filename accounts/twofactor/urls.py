"""The member's two-factor pages and the second sign-in step, mounted at /accounts/2fa/ inside
the "accounts" namespace. Every view declares its capability in ``views.py``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.overview, name="two-factor"),
    path("setup/", views.setup, name="two-factor-setup"),
    path("recovery-codes/", views.recovery_codes_regenerate, name="two-factor-recovery-codes"),
    path("disable/", views.disable, name="two-factor-disable"),
    path("verify/", views.verify, name="two-factor-verify"),
    path("verify/recovery/", views.verify_recovery, name="two-factor-verify-recovery"),
]
