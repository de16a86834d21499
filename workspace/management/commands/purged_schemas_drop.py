"""``manage.py purged_schemas_drop [--schema NAME]``: the owner queue's sweep, by hand.

Owner side: needs ``DATABASE_OWNER_URL`` (the owner's worker and the migrate job have it; the
web never does). Drops each purged workspace's schema and database role on the proof of its
keyed receipt (``workspace.lifecycle.schema_drop``), exactly as the owner-queue task does
every five minutes, and prints one line per schema it looked at.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tenants.roles import owner_configured
from workspace.lifecycle.schema_drop import WORKSPACE_SCHEMA, purged_schemas_drop

OWNER_URL_MISSING = (
    "DATABASE_OWNER_URL is not set: only the owner role drops schemas (run this where the "
    "owner's worker runs)."
)
SCHEMA_INVALID = "--schema must name a workspace schema (ws_ followed by a-z, 0-9 or _)."


class Command(BaseCommand):
    help = "Drop purged workspaces' schemas and roles on the proof of their keyed receipts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--schema", default=None, help="only this schema (default: every one a receipt names)"
        )

    def handle(self, *args, schema=None, **options):
        if not owner_configured():
            raise CommandError(OWNER_URL_MISSING)
        if schema is not None and not WORKSPACE_SCHEMA.match(schema):
            raise CommandError(SCHEMA_INVALID)
        outcomes = purged_schemas_drop(schema_name=schema)
        for outcome in outcomes:
            done = "dropped" if outcome.dropped else f"left: {outcome.reason}"
            self.stdout.write(f"{outcome.schema_name}\t{done}")
        dropped = sum(outcome.dropped for outcome in outcomes)
        self.stdout.write(f"{dropped} schema(s) dropped.")
