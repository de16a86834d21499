"""Who hears of what happens to a ticket, by email, once the change has committed.

Invariants: every message goes to one recipient (nobody sees another's address) with
Reply-To set to the workspace's own sending address, never a person's; a customer is only
ever sent public content (an internal note's text never leaves for a customer: its
recipients are staff members of the workspace, checked here, not by the caller); the person
who acted is not told of their own action. Messages are rendered inside the transaction and
sent by ``kernel.email`` on commit, so a rolled-back change sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse

from kernel.capabilities import ROLE_CAPABILITIES, TICKETS_WORK
from kernel.email import email_render, email_send_on_commit
from kernel.roles import STAFF_ROLES
from rbac.models import Membership
from tenants.models import Tenant
from tenants.selectors import workspace_url

from .models import Ticket, TicketMessage


def _staff_emails(tenant: Tenant, user_ids: Iterable[int | None]) -> set[str]:
    ids = {pk for pk in user_ids if pk is not None}
    return set(
        Membership.objects.filter(
            tenant=tenant, is_active=True, role__in=STAFF_ROLES, user_id__in=ids
        ).values_list("user__email", flat=True)
    )


def _desk_staff_emails(tenant: Tenant) -> set[str]:
    """Every active staff member who works tickets: "the shop" hears of new requests."""
    roles = [role for role in STAFF_ROLES if TICKETS_WORK in ROLE_CAPABILITIES[role]]
    return set(
        Membership.objects.filter(tenant=tenant, is_active=True, role__in=roles).values_list(
            "user__email", flat=True
        )
    )


def _links(tenant: Tenant, ticket: Ticket) -> dict[str, str]:
    staff = reverse("desk:ticket-detail", urlconf="config.urls_tenant", args=[ticket.pk])
    portal = reverse("desk:request-detail", urlconf="config.urls_tenant", args=[ticket.pk])
    return {"staff_url": workspace_url(tenant, staff), "portal_url": workspace_url(tenant, portal)}


def _send(template: str, recipients: Iterable[str], context: dict, *, skip: str = "") -> None:
    email = email_render(template, context)
    for address in sorted({a for a in recipients if a and a.lower() != skip.lower()}):
        email_send_on_commit(
            to=[address],
            subject=email.subject,
            body=email.body,
            reply_to=[settings.DEFAULT_FROM_EMAIL],
        )


def _watchers_and_assignee(tenant: Tenant, ticket: Ticket) -> set[str]:
    ids = [*ticket.watchers.values_list("pk", flat=True), ticket.assignee_id]
    return _staff_emails(tenant, ids)


def ticket_created(tenant: Tenant, ticket: Ticket, *, actor_email: str) -> None:
    context = {"ticket": ticket, "workspace": tenant, **_links(tenant, ticket)}
    _send("emails/desk_ticket_new_staff", _desk_staff_emails(tenant), context, skip=actor_email)
    _send("emails/desk_ticket_new_requester", [ticket.requester_email], context)


def message_posted(tenant: Tenant, ticket: Ticket, message: TicketMessage, *, actor_email: str):
    context = {
        "ticket": ticket,
        "message": message,
        "workspace": tenant,
        **_links(tenant, ticket),
    }
    staff = _watchers_and_assignee(tenant, ticket)
    if message.is_internal:
        # Staff only, whoever the watchers are: the requester is never among the recipients.
        _send("emails/desk_note_staff", staff, context, skip=actor_email)
        return
    _send("emails/desk_reply_staff", staff, context, skip=actor_email)
    if not message.from_customer or ticket.requester_email.lower() != actor_email.lower():
        _send("emails/desk_reply_requester", [ticket.requester_email], context, skip=actor_email)


def status_changed(tenant: Tenant, ticket: Ticket, *, before: str, actor_email: str) -> None:
    context = {
        "ticket": ticket,
        "before": Ticket.Status(before).label,
        "workspace": tenant,
        **_links(tenant, ticket),
    }
    _send(
        "emails/desk_status_staff",
        _watchers_and_assignee(tenant, ticket),
        context,
        skip=actor_email,
    )
    _send("emails/desk_status_requester", [ticket.requester_email], context, skip=actor_email)


def assigned(tenant: Tenant, ticket: Ticket, *, actor_email: str) -> None:
    context = {"ticket": ticket, "workspace": tenant, **_links(tenant, ticket)}
    _send(
        "emails/desk_assigned",
        _staff_emails(tenant, [ticket.assignee_id]),
        context,
        skip=actor_email,
    )
