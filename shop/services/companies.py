"""Companies and their contacts: create, edit, delete, and the confirmed deletion of a
company with every record it has."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from accounts.twofactor.action_codes import Action, ConfirmedAction, action_confirmation_check
from audit.events import Event
from audit.services import audit_event_record, target_of
from kernel import capabilities as caps
from kernel.capabilities import Capability, require
from kernel.plugins import declared_callables
from rbac import services as rbac_services
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors, storage
from ..models import Company, Contact, Invoice, Order, Quote, StoredFile
from ._common import _locked_visible, _require_visible, _save_named, _write

# --- Companies -----------------------------------------------------------------------------

COMPANY_NAME_REQUIRED = "Enter the company's name."
COMPANY_HAS_RECORDS = (
    "This company still has quotes, orders, invoices, files, tickets or assets. "
    "Delete or move those first."
)
COMPANY_HAS_CUSTOMER_MEMBERS = (
    "People from this company can still sign in to the workspace. Remove their access first."
)


def company_create(
    *,
    tenant: Tenant,
    actor: Membership,
    name: str,
    email: str = "",
    phone: str = "",
    billing_address: str = "",
    site_address: str = "",
    notes: str = "",
) -> Company:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_CREATE):
        return _save_named(
            Company(),
            name_required=COMPANY_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            billing_address=billing_address,
            site_address=site_address,
            notes=notes,
        )


def company_update(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    name: str,
    email: str = "",
    phone: str = "",
    billing_address: str = "",
    site_address: str = "",
    notes: str = "",
) -> Company:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        return _save_named(
            _locked_visible(company, selectors.company_list(viewer=actor)),
            name_required=COMPANY_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            billing_address=billing_address,
            site_address=site_address,
            notes=notes,
        )


def company_delete(*, tenant: Tenant, actor: Membership, company: Company) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE):
        company = _locked_visible(company, selectors.company_list(viewer=actor))
        if (
            company.quotes.exists()
            or company.orders.exists()
            or company.invoices.exists()
            or company.files.exists()
            or any(
                any(provider.counts(company.pk).values())
                for provider in declared_callables("company_records")
            )
        ):
            raise ValidationError(COMPANY_HAS_RECORDS)
        if Membership.objects.filter(tenant=tenant, company_id=company.pk).exists():
            raise ValidationError(COMPANY_HAS_CUSTOMER_MEMBERS)
        company.delete()


def company_delete_with_records_capabilities(
    records: selectors.CompanyRecords,
) -> frozenset[Capability]:
    """The capabilities deleting a company together with ``records`` needs.

    A role must hold the delete capability of every kind of record it would remove, not just
    ``companies:delete``: otherwise a role allowed to delete companies but not invoices could
    remove invoices by deleting their company. Only the kinds actually present count (a
    company without invoices needs no ``invoices:delete``). Contacts go with their company
    as in :func:`company_delete`. Taking away access of the company's people needs
    ``members:manage`` (and withdrawing open invitations ``members:invite``), which
    ``rbac.services`` checks again when it does it.
    """
    needed: set[Capability] = {caps.COMPANIES_DELETE}
    capability: Capability
    for count, capability in (
        (records.quotes, caps.QUOTES_DELETE),
        (records.orders, caps.ORDERS_DELETE),
        (records.invoices, caps.INVOICES_DELETE),
        (records.files, caps.FILES_DELETE),
        (records.people, caps.MEMBERS_MANAGE),
        (records.invitations, caps.MEMBERS_INVITE),
    ):
        if count:
            needed.add(capability)
    for provider in declared_callables("company_records"):
        needed |= provider.capabilities(dict(records.declared))
    return frozenset(needed)


def company_delete_with_records(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    confirmation: ConfirmedAction | None,
) -> selectors.CompanyRecords:
    """Delete a company and everything of it, confirmed with an emailed code; return the counts.

    Removes, in one transaction: the company's files (rows now, stored bytes only after
    commit), invoices (paid ones too), orders, quotes with their lines, contacts, the
    memberships of its people (through ``rbac.services.membership_remove``: their sessions
    here end and each removal is audited), its open invitations (revoked through
    ``rbac.services.invitation_revoke``), and the company. Every row is deleted one by one so
    each writes its own audit event exactly as the single-record delete services do; one
    COMPANY_DELETED_WITH_RECORDS event then records the counts. The business rules of those
    services (an accepted quote or a paid invoice cannot be deleted on its own) do not apply:
    removing the whole company is the point, and the emailed code is the safeguard.

    Checks, before anything changes: the actor holds ``companies:delete``,
    ``confirmation`` was issued for exactly this member, workspace, action and company
    (``action_confirmation_check``), the company still exists (else the same 404 as a missing
    one) and the actor holds every capability of
    :func:`company_delete_with_records_capabilities`.
    """
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_DELETE):
        action_confirmation_check(
            confirmation,
            actor=actor,
            tenant=tenant,
            action=Action.COMPANY_DELETE_WITH_RECORDS,
            target=company,
        )
        locked = Company.objects.select_for_update().filter(pk=company.pk).first()
        if locked is None:  # deleted since the page was opened
            raise Http404(selectors.NOT_FOUND)
        company = locked
        _require_visible(selectors.company_list(viewer=actor), company)
        records = selectors.company_records(viewer=actor, company=company)
        for capability in sorted(company_delete_with_records_capabilities(records)):
            require(actor, capability)
        about = target_of(company)  # before delete() clears the pk

        storage_keys = []
        for stored_file in StoredFile.objects.filter(company=company).order_by("pk"):
            storage_keys.append(stored_file.storage_key)
            stored_file.delete()
        for invoice in Invoice.objects.filter(company=company).order_by("pk"):
            invoice.delete()
        for order in Order.objects.filter(company=company).order_by("pk"):
            order.delete()
        for quote in Quote.objects.filter(company=company).order_by("pk"):
            quote.delete()  # its lines go with it, each with its own event
        for contact in Contact.objects.filter(company=company).order_by("pk"):
            contact.delete()
        # Other business apps' records (the desk's tickets and assets), each audited there.
        for provider in declared_callables("company_records"):
            provider.delete(actor=actor, company_id=company.pk)
        for person in selectors.company_people(tenant=tenant, company=company):
            rbac_services.membership_remove(tenant=tenant, actor=actor, membership=person)
        for invitation in selectors.company_open_invitations(tenant=tenant, company=company):
            rbac_services.invitation_revoke(tenant=tenant, actor=actor, invitation=invitation)
        company.delete()
        audit_event_record(
            event_type=Event.COMPANY_DELETED_WITH_RECORDS,
            target=about,
            data={"counts": records.as_data()},
        )
        # Never before commit: a rollback must leave every remaining row's bytes in place.
        for key in storage_keys:
            _delete_stored_after_commit(key)
    return records


def _delete_stored_after_commit(key: str) -> None:
    """Remove ``key``'s stored bytes once (and only if) the deleting transaction commits."""
    transaction.on_commit(lambda: storage.delete(key))


# --- Contacts ------------------------------------------------------------------------------

CONTACT_NAME_REQUIRED = "Enter the contact's name."


def contact_create(
    *,
    tenant: Tenant,
    actor: Membership,
    company: Company,
    name: str,
    email: str = "",
    phone: str = "",
    role_title: str = "",
) -> Contact:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        _require_visible(selectors.company_list(viewer=actor), company)
        return _save_named(
            Contact(company=company),
            name_required=CONTACT_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            role_title=role_title,
        )


def contact_update(
    *,
    tenant: Tenant,
    actor: Membership,
    contact: Contact,
    name: str,
    email: str = "",
    phone: str = "",
    role_title: str = "",
) -> Contact:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        return _save_named(
            _locked_visible(contact, selectors.contact_list(viewer=actor)),
            name_required=CONTACT_NAME_REQUIRED,
            name=name,
            email=email,
            phone=phone,
            role_title=role_title,
        )


def contact_delete(*, tenant: Tenant, actor: Membership, contact: Contact) -> None:
    with _write(tenant=tenant, actor=actor, capability=caps.COMPANIES_EDIT):
        _locked_visible(contact, selectors.contact_list(viewer=actor)).delete()
