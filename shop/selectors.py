"""Every read of the shop's data that depends on who is looking.

Invariant: each function takes the ``viewer`` (the rbac Membership of the active workspace)
and returns a queryset already narrowed to what that viewer may see:

- customer roles (``viewer.is_customer``) see only their own company's records, never a
  draft quote, never another company, and no files attached to a draft quote;
- installers see only orders assigned to them, and the files of those orders (and of the
  quotes behind them);
- other staff see the whole workspace (what they may *do* is the capability's business).

A viewer that is missing, inactive or from another workspace sees nothing. ``*_get``
lookups raise the same ``Http404`` for a missing object and a forbidden one. Search terms
and sort keys from the request are matched against whitelists; nothing from the user
becomes SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeGuard, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from kernel.capabilities import (
    COMPANIES_VIEW,
    FILES_VIEW,
    INVOICES_VIEW,
    ORDERS_VIEW,
    QUOTES_VIEW,
    capabilities_for,
)
from kernel.listing import clean_search, clean_sort
from kernel.plugins import declared_callables
from kernel.roles import Role
from rbac.models import Invitation, Membership

from .models import Company, Contact, Invoice, Order, Quote, QuoteLine, StoredFile

MAX_SEARCH_TERMS = 5
NOT_FOUND = "No such record."

SearchField = str | Callable[[str], Q]
RecordT = TypeVar("RecordT", bound=Model)


# --- Who is looking ------------------------------------------------------------------------


def _sees_anything(viewer: Membership | None) -> TypeGuard[Membership]:
    if viewer is None or not viewer.is_active:
        return False
    # The membership must belong to the workspace whose schema is active: a viewer from
    # acme can never read globex's schema through a mistaken tenant_context.
    # django-tenants sets schema_name on the connection at run time; the stubs do not know it.
    return viewer.tenant.schema_name == connection.schema_name  # type: ignore[attr-defined]


# No row has id 0 (ids start at 1), so a customer bound to no company matches nothing, as the
# ``IS NULL`` comparison a missing company_id gave before; the check constraint
# ``customer_roles_bound_to_a_company`` keeps such a membership out of the database anyway.
_NO_COMPANY = 0


def _own_company_id(viewer: Membership) -> int:
    """The shop company a customer-role viewer is bound to."""
    return _NO_COMPANY if viewer.company_id is None else viewer.company_id


def _is_installer(viewer: Membership) -> bool:
    return viewer.role == Role.INSTALLER


# --- Search and sort -----------------------------------------------------------------------
# ``clean_search`` and ``clean_sort`` are kernel.listing's: the list pages (kernel.views) show
# back exactly what the selectors search and sort by.


def _search(queryset: QuerySet, q: str | None, fields: Sequence[SearchField]) -> QuerySet:
    """Every term must match at least one of ``fields`` (case-insensitive substring)."""
    for term in clean_search(q).split()[:MAX_SEARCH_TERMS]:
        condition = Q()
        for field in fields:
            condition |= field(term) if callable(field) else Q(**{f"{field}__icontains": term})
        queryset = queryset.filter(condition)
    return queryset


def _sort(
    queryset: QuerySet, sort: str | None, options: dict[str, Sequence[str]], default: Sequence[str]
) -> QuerySet:
    sort = clean_sort(sort, options)
    if not sort:
        return queryset.order_by(*default, "-pk")
    descending = sort.startswith("-")
    fields = options[sort.removeprefix("-")]
    ordering = [_flip(field) if descending else field for field in fields]
    return queryset.order_by(*ordering, "-pk" if descending else "pk")


def _flip(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"


def _get(queryset: QuerySet[RecordT], pk: object) -> RecordT:
    """The object if the viewer may see it; the same 404 whether it is missing or hidden."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):  # the model's DoesNotExist included
        raise Http404(NOT_FOUND) from None


# --- Companies and contacts ----------------------------------------------------------------

COMPANY_SORTS: dict[str, Sequence[str]] = {
    "name": ["name"],
    "email": ["email"],
    "phone": ["phone"],
    "created": ["created_at"],
}


def _company_search_fields() -> list[SearchField]:
    def contact_matches(term: str) -> Q:
        contacts = Contact.objects.filter(company=OuterRef("pk")).filter(
            Q(name__icontains=term) | Q(email__icontains=term)
        )
        return Q(Exists(contacts))

    return ["name", "email", "phone", "billing_address", "site_address", contact_matches]


def company_list(*, viewer: Membership | None, q: str = "", sort: str = "") -> QuerySet[Company]:
    companies = Company.objects.all()
    if not _sees_anything(viewer):
        return companies.none()
    if viewer.is_customer:
        companies = companies.filter(pk=_own_company_id(viewer))
    elif _is_installer(viewer):
        assigned = Order.objects.filter(company=OuterRef("pk"), assignee_id=viewer.user_id)
        companies = companies.filter(Exists(assigned))
    companies = _search(companies, q, _company_search_fields())
    return _sort(companies, sort, COMPANY_SORTS, ["name"])


def company_get(*, viewer: Membership | None, pk) -> Company:
    return _get(company_list(viewer=viewer), pk)


@dataclass(frozen=True)
class CompanyRecords:
    """How many rows deleting a company together with its records removes, per kind.

    ``people`` are the customer-role memberships bound to the company (they lose access) and
    ``invitations`` the open customer invitations for it (they are withdrawn).
    """

    contacts: int = 0
    quotes: int = 0
    quote_lines: int = 0
    orders: int = 0
    invoices: int = 0
    files: int = 0
    people: int = 0
    invitations: int = 0
    # Other business apps' records of the company (``company_records`` declarations,
    # kernel.plugins), as (kind, count) pairs: the service desk's tickets and assets.
    declared: tuple[tuple[str, int], ...] = ()

    @property
    def blocks_plain_delete(self) -> bool:
        """What ``services.company_delete`` refuses to delete along with the company."""
        return bool(
            self.quotes
            or self.orders
            or self.invoices
            or self.files
            or self.people
            or any(count for _, count in self.declared)
        )

    def as_data(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("declared")
        return {**data, **dict(self.declared)}


def company_records(*, viewer: Membership | None, company: Company) -> CompanyRecords:
    """Everything of ``company`` that deleting it with its records would remove.

    Deliberately not narrowed to the viewer's view of the records: it counts what the
    deletion removes (every record of the company). Only a viewer who may see the company
    gets counts; anyone else gets the same 404 as for a missing company.
    """
    if not _sees_anything(viewer):  # what company_get would say; names the viewer for below
        raise Http404(NOT_FOUND)
    company = company_get(viewer=viewer, pk=company.pk)
    return CompanyRecords(
        contacts=Contact.objects.filter(company=company).count(),
        quotes=Quote.objects.filter(company=company).count(),
        quote_lines=QuoteLine.objects.filter(quote__company=company).count(),
        orders=Order.objects.filter(company=company).count(),
        invoices=Invoice.objects.filter(company=company).count(),
        files=StoredFile.objects.filter(company=company).count(),
        people=company_people(tenant=viewer.tenant, company=company).count(),
        invitations=company_open_invitations(tenant=viewer.tenant, company=company).count(),
        declared=tuple(
            (kind, count)
            for provider in declared_callables("company_records")
            for kind, count in provider.counts(company.pk).items()
        ),
    )


def company_people(*, tenant, company: Company) -> QuerySet[Membership]:
    """Memberships bound to ``company`` (customer roles; active or not)."""
    return Membership.objects.filter(tenant=tenant, company_id=company.pk).order_by("pk")


def company_open_invitations(*, tenant, company: Company) -> QuerySet[Invitation]:
    """Invitations to join as one of ``company``'s people that are neither used nor revoked."""
    return Invitation.objects.filter(
        tenant=tenant, company_id=company.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("pk")


def contact_list(*, viewer: Membership | None) -> QuerySet[Contact]:
    if not _sees_anything(viewer) or viewer.is_customer:
        return Contact.objects.none()
    return Contact.objects.filter(company__in=company_list(viewer=viewer)).select_related("company")


def contact_get(*, viewer: Membership | None, pk) -> Contact:
    return _get(contact_list(viewer=viewer), pk)


# --- Quotes --------------------------------------------------------------------------------

QUOTE_SORTS: dict[str, Sequence[str]] = {
    "number": ["number"],
    "title": ["title"],
    "company": ["company__name"],
    "status": ["status"],
    "total": ["total"],
    "valid_until": ["valid_until"],
    "created": ["created_at"],
}
QUOTE_SEARCH_FIELDS: list[SearchField] = ["number", "title", "company__name", "notes"]
CUSTOMER_VISIBLE_QUOTE_STATUSES = (
    Quote.Status.SENT,
    Quote.Status.ACCEPTED,
    Quote.Status.DECLINED,
)


def quote_list(
    *, viewer: Membership | None, q: str = "", sort: str = "", status: str = ""
) -> QuerySet[Quote]:
    quotes = Quote.objects.select_related("company", "created_by")
    if not _sees_anything(viewer):
        return quotes.none()
    if viewer.is_customer:
        quotes = quotes.filter(
            company_id=_own_company_id(viewer), status__in=CUSTOMER_VISIBLE_QUOTE_STATUSES
        )
    elif _is_installer(viewer):
        quotes = quotes.filter(order__assignee_id=viewer.user_id)
    if status in Quote.Status.values:
        quotes = quotes.filter(status=status)
    quotes = _search(quotes, q, QUOTE_SEARCH_FIELDS)
    return _sort(quotes, sort, QUOTE_SORTS, ["-created_at"])


def quote_get(*, viewer: Membership | None, pk) -> Quote:
    return _get(quote_list(viewer=viewer), pk)


# --- Orders --------------------------------------------------------------------------------

ORDER_SORTS: dict[str, Sequence[str]] = {
    "number": ["number"],
    "company": ["company__name"],
    "title": ["quote__title"],
    "status": ["status"],
    "assignee": ["assignee__full_name"],
    "due_date": ["due_date"],
    "created": ["created_at"],
}
ORDER_SEARCH_FIELDS: list[SearchField] = [
    "number",
    "quote__number",
    "quote__title",
    "company__name",
    "site_address",
    "assignee__full_name",
]


def order_list(
    *, viewer: Membership | None, q: str = "", sort: str = "", status: str = ""
) -> QuerySet[Order]:
    orders = Order.objects.select_related("company", "quote", "assignee")
    if not _sees_anything(viewer):
        return orders.none()
    if viewer.is_customer:
        orders = orders.filter(company_id=_own_company_id(viewer))
    elif _is_installer(viewer):
        orders = orders.filter(assignee_id=viewer.user_id)
    if status in Order.Status.values:
        orders = orders.filter(status=status)
    orders = _search(orders, q, ORDER_SEARCH_FIELDS)
    return _sort(orders, sort, ORDER_SORTS, ["-created_at"])


def order_get(*, viewer: Membership | None, pk) -> Order:
    return _get(order_list(viewer=viewer), pk)


# --- Invoices ------------------------------------------------------------------------------

INVOICE_SORTS: dict[str, Sequence[str]] = {
    "number": ["number"],
    "company": ["company__name"],
    "status": ["status"],
    "issue_date": ["issue_date"],
    "due_date": ["due_date"],
    "total": ["total"],
}
INVOICE_SEARCH_FIELDS: list[SearchField] = ["number", "company__name", "order__number", "notes"]
INVOICE_FILTER_OVERDUE = "overdue"


def invoice_list(
    *, viewer: Membership | None, q: str = "", sort: str = "", status: str = ""
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("company", "order")
    if not _sees_anything(viewer) or _is_installer(viewer):
        return invoices.none()
    if viewer.is_customer:
        invoices = invoices.filter(company_id=_own_company_id(viewer))
    if status == INVOICE_FILTER_OVERDUE:
        invoices = invoices.filter(status=Invoice.Status.OPEN, due_date__lt=timezone.localdate())
    elif status in Invoice.Status.values:
        invoices = invoices.filter(status=status)
    invoices = _search(invoices, q, INVOICE_SEARCH_FIELDS)
    return _sort(invoices, sort, INVOICE_SORTS, ["-issue_date"])


def invoice_get(*, viewer: Membership | None, pk) -> Invoice:
    return _get(invoice_list(viewer=viewer), pk)


# --- Files ---------------------------------------------------------------------------------

FILE_SORTS: dict[str, Sequence[str]] = {
    "name": ["original_filename"],
    "company": ["company__name"],
    "kind": ["kind"],
    "size": ["size"],
    "uploaded": ["created_at"],
}
FILE_SEARCH_FIELDS: list[SearchField] = [
    "original_filename",
    "company__name",
    "quote__number",
    "order__number",
]


def file_list(
    *, viewer: Membership | None, q: str = "", sort: str = "", kind: str = ""
) -> QuerySet[StoredFile]:
    files = StoredFile.objects.select_related("company", "quote", "order", "uploaded_by")
    if not _sees_anything(viewer):
        return files.none()
    if viewer.is_customer:
        files = files.filter(company_id=_own_company_id(viewer)).exclude(
            quote__status=Quote.Status.DRAFT
        )
    elif _is_installer(viewer):
        files = files.filter(
            Q(order__assignee_id=viewer.user_id) | Q(quote__order__assignee_id=viewer.user_id)
        )
    if kind in StoredFile.Kind.values:
        files = files.filter(kind=kind)
    files = _search(files, q, FILE_SEARCH_FIELDS)
    return _sort(files, sort, FILE_SORTS, ["-created_at"])


def file_get(*, viewer: Membership | None, pk) -> StoredFile:
    return _get(file_list(viewer=viewer), pk)


def file_sources(ids: set[int]) -> dict[int, Any]:
    """Where other business apps' files came from (``file_sources`` declarations,
    kernel.plugins): file id -> an object with ``label`` and ``url`` (document requests: the
    request item an accepted upload was for). Call with ids the viewer may already see."""
    found: dict[int, Any] = {}
    if ids:
        for provider in declared_callables("file_sources"):
            found.update(provider.sources(ids))
    return found


# --- Dashboard -----------------------------------------------------------------------------


def dashboard(*, viewer: Membership | None, today: date | None = None) -> dict:
    """Counts and short lists for the home page, each narrowed to the viewer."""
    today = today or timezone.localdate()
    allowed = capabilities_for(viewer) if _sees_anything(viewer) else frozenset()
    data: dict = {}
    if COMPANIES_VIEW in allowed:
        data["company_count"] = company_list(viewer=viewer).count()
    if QUOTES_VIEW in allowed:
        quotes = quote_list(viewer=viewer)
        data["open_quote_count"] = quotes.filter(
            status__in=[Quote.Status.DRAFT, Quote.Status.SENT]
        ).count()
        data["awaiting_response_count"] = quotes.filter(status=Quote.Status.SENT).count()
        data["recent_quotes"] = list(quote_list(viewer=viewer, sort="-created")[:5])
    if ORDERS_VIEW in allowed:
        orders = order_list(viewer=viewer)
        data["active_order_count"] = orders.filter(
            status__in=[Order.Status.SCHEDULED, Order.Status.IN_PROGRESS]
        ).count()
        data["recent_orders"] = list(order_list(viewer=viewer, sort="-created")[:5])
    if INVOICES_VIEW in allowed:
        overdue = invoice_list(viewer=viewer, status=INVOICE_FILTER_OVERDUE).order_by(
            "due_date", "pk"
        )
        data["overdue_invoice_count"] = overdue.count()
        data["overdue_invoices"] = list(overdue[:5])
    if FILES_VIEW in allowed:
        data["file_count"] = file_list(viewer=viewer).count()
    return data
