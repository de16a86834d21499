"""``manage.py subprocessor list|add|change|remove``: the sub-processor list from a shell.

The same service as the support console (subprocessors.services): the change is made in the
name of a platform support agent with two-factor authentication (``--agent EMAIL``), audited
in the platform stream, refused with the service's message on bad input or short notice.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from subprocessors import selectors
from subprocessors.services import ChangeInput, subprocessor_change_publish


class Command(BaseCommand):
    help = "List the sub-processors, or publish a change (added, changed, removed)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="Today's list and the announced changes.")
        for action in ("add", "change", "remove"):
            sub = actions.add_parser(action, help=f"{action.capitalize()} a sub-processor.")
            sub.add_argument("name")
            sub.add_argument("--agent", required=True, help="Email of the support agent.")
            sub.add_argument("--effective", required=True, help="YYYY-MM-DD")
            sub.add_argument("--purpose", default="")
            sub.add_argument("--data", default="", help="The data it handles.")
            sub.add_argument("--region", default="")
            sub.add_argument("--note", default="")

    def handle(self, *args, action, **options):
        if action == "list":
            for entry in selectors.current_entries():
                self.stdout.write(
                    f"{entry.name} | {entry.purpose} | {entry.data_involved} | {entry.region}"
                    f" | since {entry.since}"
                )
            for change in selectors.upcoming_changes():
                self.stdout.write(
                    f"announced: {change.sub_processor.name} {change.kind} on {change.effective_on}"
                )
            return
        try:
            effective_on = date.fromisoformat(options["effective"])
        except ValueError as error:
            raise CommandError("--effective must be a date written YYYY-MM-DD.") from error
        agent = User.objects.filter(email__iexact=options["agent"].strip()).first()
        kind = {"add": "added", "change": "changed", "remove": "removed"}[action]
        try:
            change = subprocessor_change_publish(
                agent=agent,
                change=ChangeInput(
                    kind=kind,
                    name=options["name"],
                    purpose=options["purpose"],
                    data_involved=options["data"],
                    region=options["region"],
                    note=options["note"],
                    effective_on=effective_on,
                ),
            )
        except ValidationError as error:
            raise CommandError(error.messages[0]) from error
        self.stdout.write(
            f"Published: {change.sub_processor.name} {change.kind}, effective "
            f"{change.effective_on}; {change.notices.count()} owner notice(s) queued."
        )
