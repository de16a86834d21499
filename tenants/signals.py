"""Keeps the cached host -> tenant lookup honest: any change to a tenant or domain drops it."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Domain, Tenant
from .selectors import tenant_host_cache_forget


@receiver([post_save, post_delete], sender=Domain)
def _domain_changed(sender, instance: Domain, **kwargs) -> None:
    tenant_host_cache_forget(instance.domain)
    transaction.on_commit(lambda: tenant_host_cache_forget(instance.domain))


@receiver([post_save, post_delete], sender=Tenant)
def _tenant_changed(sender, instance: Tenant, **kwargs) -> None:
    hostnames = list(Domain.objects.filter(tenant_id=instance.pk).values_list("domain", flat=True))
    for hostname in hostnames:
        tenant_host_cache_forget(hostname)

    def forget_all() -> None:
        for hostname in hostnames:
            tenant_host_cache_forget(hostname)

    transaction.on_commit(forget_all)
