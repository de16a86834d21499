"""The shop's side of what other floors and apps ask about companies, each declared on
ShopConfig (kernel.plugins): rbac's customer companies (customer-role members are bound to a
shop Company of their workspace) and the company files other business apps add (document
requests put accepted files among a company's files)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.urls import reverse
from django_tenants.utils import tenant_context

from kernel import storage
from rbac.models import Membership
from tenants.models import Tenant

from . import selectors
from .models import Company, StoredFile


class ShopCustomerCompanies:
    def names(self, ids: set[int]) -> dict[int, str]:
        return dict(Company.objects.filter(pk__in=ids).values_list("pk", "name"))

    def choices(self, viewer: Membership) -> list[tuple[int, str]]:
        # The shop's own narrowing applies: a company administrator gets only their company.
        return list(selectors.company_list(viewer=viewer).values_list("pk", "name"))

    def exists(self, tenant: Tenant, company_id: int) -> bool:
        with tenant_context(tenant):
            return Company.objects.filter(pk=company_id).exists()


CUSTOMER_COMPANIES = ShopCustomerCompanies()


class ShopCompanyFiles:
    """The shop's side of another app putting a file among a company's files (declared on
    ShopConfig as ``company_files``, kernel.plugins): the caller has already written the
    bytes under a fresh key of the workspace's prefix, checked what they are, and runs these
    inside its own transaction (with the workspace's schema active). The row is audited by
    django-auditlog (``audited_models``); the caller's service writes the event that explains
    it."""

    def add(
        self,
        *,
        company_id: int,
        storage_key: str,
        filename: str,
        content_type: str,
        extension: str,
        size: int,
        sha256: str,
    ) -> int:
        stored = StoredFile(
            company=Company.objects.get(pk=company_id),
            kind=StoredFile.Kind.DOCUMENT,
            original_filename=filename[:255],
            content_type=content_type,
            extension=extension,
            size=size,
            sha256=sha256,
            storage_key=storage_key,
        )
        stored.full_clean(exclude=["company", "quote", "order", "uploaded_by"])
        stored.save()
        return stored.pk

    def remove(self, file_id: int) -> bool:
        """Delete the row now and its bytes once the caller's transaction commits; False if
        the file is no longer there (a member deleted it)."""
        stored = StoredFile.objects.select_for_update().filter(pk=file_id).first()
        if stored is None:
            return False
        key = stored.storage_key
        stored.delete()
        transaction.on_commit(partial(storage.delete, key))
        return True

    def describe(self, ids: set[int]) -> dict[int, CompanyFile]:
        """The files among ``ids`` that still exist: name and the shop's detail page (where
        the download goes through the shop's checked, audited download)."""
        return {
            pk: CompanyFile(name=name, url=reverse("shop:file-detail", args=[pk]))
            for pk, name in StoredFile.objects.filter(pk__in=ids).values_list(
                "pk", "original_filename"
            )
        }


@dataclass(frozen=True)
class CompanyFile:
    name: str
    url: str


COMPANY_FILES = ShopCompanyFiles()
