"""What every desk page module shares on top of ``kernel.views``."""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from kernel.views import PAGE_SIZE, WorkspaceRequest
from rbac.models import Membership
from tenants.models import Tenant

from .. import selectors

# A list counts at most this many rows: past it the page says "1,000+" and pages forward by
# its next link, so a page of a workspace with years of closed tickets costs what a page of a
# new one does (bench/bench_desk.py). Tests patch it small.
COUNT_CAP = 1_000
# Past the count the page number is taken on trust; this bounds the OFFSET it becomes.
MAX_PAGE_NUMBER = 100_000


class DeskRequest(WorkspaceRequest):
    tenant: Tenant
    membership: Membership


class CappedPage(Page):
    """A page past the counted rows knows it has a next page by reading one row more."""

    def __init__(self, object_list, number, paginator, *, has_more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self) -> bool:
        return self.has_more


class CappedPaginator(Paginator):
    """Django's paginator with a count that reads at most ``cap + 1`` rows.

    Invariant: below the cap it behaves exactly as ``Paginator`` (count, page numbers, a page
    past the end shows the last one). Past the cap the count says so (``capped``, "1,000+"),
    any page number from 1 to ``MAX_PAGE_NUMBER`` may be asked for, and each page reads its
    own rows plus one to know whether a next page exists, so nothing reads the whole list.
    """

    def __init__(self, object_list: QuerySet, per_page: int, *, cap: int) -> None:
        super().__init__(object_list, per_page)
        self.records = object_list
        self.cap = cap

    @cached_property
    def count(self) -> int:
        # No ORDER BY: which rows are counted does not matter, only whether there are more.
        return self.records.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_label(self) -> str:
        return f"{self.cap:,}+" if self.capped else f"{self.count:,}"

    def validate_number(self, number) -> int:
        if not self.capped:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer.") from None
        if number < 1 or number > MAX_PAGE_NUMBER:
            raise EmptyPage("That page contains no results.")
        return number

    def get_page(self, number) -> Page:
        """The page asked for; the first for a page that is not a number, the last counted
        one for a page past the end (below the cap: Django's own rule)."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.capped:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.records[bottom : bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage("That page contains no results.")
        return CappedPage(rows[: self.per_page], number, self, has_more=len(rows) > self.per_page)


def paginate(request: DeskRequest, records: QuerySet) -> Page:
    paginator = CappedPaginator(records, PAGE_SIZE, cap=COUNT_CAP)
    return paginator.get_page(request.GET.get("page"))


def with_sla(page, *, now=None) -> list:
    """Each ticket of the page with its SLA state and company name attached."""
    tickets = list(page)
    names = selectors.company_name_map({t.company_id for t in tickets})
    for ticket in tickets:
        ticket.sla = selectors.ticket_sla(ticket, now=now)
        ticket.company_name = names.get(ticket.company_id, "—")
    return tickets
