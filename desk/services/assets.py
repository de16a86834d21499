"""Assets of customer companies: create, update, delete (each audited by django-auditlog as
desk.asset.created / updated / deleted, with before -> after)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from kernel import capabilities as caps
from rbac.companies import company_names
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors
from ..models import Asset
from ._common import _full_clean, _locked_visible, _write

ASSET_NAME_REQUIRED = "Enter the asset's name."
ASSET_TYPE_REQUIRED = "Enter what kind of asset this is."
ASSET_COMPANY_UNKNOWN = "Choose one of the workspace's customer companies."
ASSET_STATUS_UNKNOWN = "Choose one of the asset statuses."


def _fill(asset: Asset, **values: str) -> Asset:
    for field, value in values.items():
        setattr(asset, field, (value or "").strip())
    if not asset.name:
        raise ValidationError({"name": ASSET_NAME_REQUIRED})
    if not asset.asset_type:
        raise ValidationError({"asset_type": ASSET_TYPE_REQUIRED})
    if asset.status not in Asset.Status.values:
        raise ValidationError({"status": ASSET_STATUS_UNKNOWN})
    _full_clean(asset)
    asset.save()
    return asset


def asset_create(
    *,
    tenant: Tenant,
    actor: Membership,
    company_id: int,
    asset_type: str,
    name: str,
    serial: str = "",
    location: str = "",
    notes: str = "",
    status: str = Asset.Status.ACTIVE,
) -> Asset:
    with _write(tenant=tenant, actor=actor, capability=caps.ASSETS_EDIT):
        if company_id not in company_names([company_id]):
            raise ValidationError({"company": ASSET_COMPANY_UNKNOWN})
        return _fill(
            Asset(company_id=company_id),
            asset_type=asset_type,
            name=name,
            serial=serial,
            location=location,
            notes=notes,
            status=status,
        )


def asset_update(
    *,
    tenant: Tenant,
    actor: Membership,
    asset: Asset,
    asset_type: str,
    name: str,
    serial: str = "",
    location: str = "",
    notes: str = "",
    status: str = Asset.Status.ACTIVE,
) -> Asset:
    with _write(tenant=tenant, actor=actor, capability=caps.ASSETS_EDIT) as current:
        return _fill(
            _locked_visible(asset, selectors.assets_visible(current)),
            asset_type=asset_type,
            name=name,
            serial=serial,
            location=location,
            notes=notes,
            status=status,
        )


def asset_delete(*, tenant: Tenant, actor: Membership, asset: Asset) -> None:
    """Delete an asset; tickets that named it keep their history (the link goes)."""
    with _write(tenant=tenant, actor=actor, capability=caps.ASSETS_DELETE) as current:
        _locked_visible(asset, selectors.assets_visible(current)).delete()
