"""``manage.py export_schemas [--check]``: rewrite (or check) the entity JSON Schemas.

The schemas in ``exports/schemas/`` are generated from the models; run this after changing a
tenant model, and commit the result with the migration.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from exports import schema_files
from exports.format import MANIFEST_SCHEMA_NAME


class Command(BaseCommand):
    help = "Regenerate exports/schemas/*.schema.json from the models (or --check them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Exit 1 if a file differs; write nothing."
        )

    def handle(self, *args, **options):
        if options["check"]:
            stale = schema_files.stale_schema_files()
            if stale:
                raise CommandError(
                    "Out of date: " + ", ".join(stale) + ". Run manage.py export_schemas."
                )
            self.stdout.write("Export schemas are up to date.")
            return
        written = schema_files.write_schema_files()
        self.stdout.write(f"Wrote {len(written)} entity schemas (and kept {MANIFEST_SCHEMA_NAME}).")
