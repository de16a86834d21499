"""``manage.py api_schema [--check]``: write (or check) ``api/openapi.json``, the API's
OpenAPI 3.1 document, so every change to the contract shows in review."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from api.schema_file import COMMITTED, document_json


class Command(BaseCommand):
    help = "Write api/openapi.json from the code (or --check that it is up to date)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Exit 1 if stale; write nothing.")

    def handle(self, *args, **options):
        current = document_json()
        if options["check"]:
            if not COMMITTED.exists() or COMMITTED.read_text() != current:
                raise CommandError("api/openapi.json is out of date. Run manage.py api_schema.")
            self.stdout.write("api/openapi.json is up to date.")
            return
        COMMITTED.write_text(current)
        self.stdout.write(f"Wrote {COMMITTED.name}.")
