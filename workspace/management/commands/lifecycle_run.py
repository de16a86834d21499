"""``manage.py lifecycle_run [--dry-run] [--now ISO-8601]``: the lifecycle's daily run by hand.

Prints one line per step (workspace, action, due date). With ``--dry-run`` it only lists what
is due and changes nothing. ``--now`` pretends the run happens at another moment (to see
what is coming); it is refused when it cannot be read as a date and time, and without
``--dry-run`` (a real run never acts before the dates the owners were given).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from kernel.context import system_audit_context
from workspace.lifecycle import lifecycle_run

NOW_INVALID = "--now must be an ISO 8601 date or date and time, e.g. 2026-01-31T03:00:00Z."
# A real run with a future --now would archive and purge before the dates owners were given.
NOW_NEEDS_DRY_RUN = "--now only works with --dry-run; a real run always uses the current time."


def parse_now(value: str) -> datetime:
    """An aware datetime from ``--now`` (naive values are UTC); CommandError otherwise."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime(day.year, day.month, day.day) if day else None  # noqa: DTZ001 - made aware below
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(NOW_INVALID)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = "Send the lifecycle warning emails, archive and purge the workspaces that are due."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what is due; change nothing."
        )
        parser.add_argument(
            "--now", help="Run as if it were this moment (ISO 8601; naive means UTC)."
        )

    def handle(self, *args, dry_run: bool = False, now: str | None = None, **options) -> None:
        moment = parse_now(now) if now else None
        if moment is not None and not dry_run:
            raise CommandError(NOW_NEEDS_DRY_RUN)
        with system_audit_context():
            steps = lifecycle_run(now=moment, dry_run=dry_run)
        verb = "would do" if dry_run else "did"
        if not steps:
            self.stdout.write(
                f"Nothing is due; {'nothing would change' if dry_run else 'nothing changed'}."
            )
            return
        for step in steps:
            due = step.due_at.astimezone(UTC)
            self.stdout.write(f"{step.tenant_slug}\t{step.action}\tdue {due:%Y-%m-%d %H:%M} UTC")
        self.stdout.write(f"{len(steps)} step{'s' if len(steps) != 1 else ''} ({verb}).")
