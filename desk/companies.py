"""The desk's side of deleting a customer company with its records (declared on
DeskConfig as ``company_records``; the shop asks ``kernel.plugins`` and never imports the
desk): how many tickets and assets a company has, what deleting them needs, and the
deletion itself, inside the shop's transaction."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from kernel import capabilities as caps
from kernel import storage
from kernel.capabilities import Capability, require
from rbac.models import Membership

from .models import Asset, Ticket, TicketAttachment, TicketMessage


class DeskCompanyRecords:
    def counts(self, company_id: int) -> dict[str, int]:
        tickets = Ticket.objects.filter(company_id=company_id)
        return {
            "tickets": tickets.count(),
            "ticket_messages": TicketMessage.objects.filter(ticket__in=tickets).count(),
            "ticket_attachments": TicketAttachment.objects.filter(ticket__in=tickets).count(),
            "assets": Asset.objects.filter(company_id=company_id).count(),
        }

    def capabilities(self, counts: dict[str, int]) -> set[Capability]:
        needed: set[Capability] = set()
        if counts.get("tickets"):
            needed.add(caps.TICKETS_DELETE)
        if counts.get("assets"):
            needed.add(caps.ASSETS_DELETE)
        return needed

    def delete(self, *, actor: Membership, company_id: int) -> None:
        """Delete the company's tickets (conversation and attachments with them; the bytes
        after commit) and assets, one row at a time so each is audited. Runs inside the
        caller's transaction, after it checked :meth:`capabilities`."""
        for capability in sorted(self.capabilities(self.counts(company_id))):
            require(actor, capability)
        for ticket in Ticket.objects.filter(company_id=company_id).order_by("pk"):
            keys = list(ticket.attachments.values_list("storage_key", flat=True))
            ticket.delete()
            for key in keys:
                transaction.on_commit(partial(storage.delete, key))
        for asset in Asset.objects.filter(company_id=company_id).order_by("pk"):
            asset.delete()


COMPANY_RECORDS = DeskCompanyRecords()
