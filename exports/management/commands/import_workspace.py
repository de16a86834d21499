"""``manage.py import_workspace ARCHIVE --slug NEW [--name NAME] [--owner EMAIL]
[--restore-members] [--allow-foreign]``

Restores a workspace export into a new workspace. The whole archive is verified first (every
member's SHA-256 and size, the record counts, the manifest's signature and the audit hash
chain); a corrupt or tampered archive is refused with the reason and exit status 1, and
nothing is created. See docs/export-format.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from exports.importer import workspace_import
from exports.reader import ArchiveRefused, archive_verify
from tenants.services import slug_validate


class Command(BaseCommand):
    help = "Restore a workspace export archive into a new workspace (verified first)."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="Path of the export ZIP.")
        parser.add_argument("--slug", required=True, help="Address of the new workspace.")
        parser.add_argument("--name", default="", help="Its name (default: the exported one).")
        parser.add_argument(
            "--owner", default="", metavar="EMAIL", help="Make this existing account its owner."
        )
        parser.add_argument(
            "--restore-members",
            action="store_true",
            help="Give the exported members their roles again (accounts matched by email).",
        )
        parser.add_argument(
            "--allow-foreign",
            action="store_true",
            help="Accept a manifest not signed by this installation (an archive made "
            "elsewhere); member checksums are still verified.",
        )

    def handle(self, *args, **options):
        slug = options["slug"]
        try:
            slug_validate(slug)
        except ValidationError as error:
            raise CommandError(f"--slug {slug}: {' '.join(error.messages)}") from error
        self.stdout.write(f"Verifying {options['archive']} ...")
        try:
            archive = archive_verify(options["archive"], allow_foreign=options["allow_foreign"])
        except ArchiveRefused as error:
            raise CommandError(f"Refused: {error} Nothing was created.") from error
        manifest = archive.manifest
        self.stdout.write(
            f"Archive OK: export {manifest['export_id']} of {manifest['workspace']['slug']} "
            f"at {manifest['exported_at']}"
            + ("" if archive.signed else " (not signed by this installation)")
        )
        try:
            report = workspace_import(
                archive=archive,
                slug=slug,
                name=options["name"],
                owner_email=options["owner"],
                restore_members=options["restore_members"],
            )
        except ArchiveRefused as error:
            raise CommandError(f"Refused: {error}") from error
        for label, count in report.records.items():
            self.stdout.write(f"  {label}: {count}")
        self.stdout.write(f"  files: {report.files}")
        if report.users_repointed or report.users_cleared:
            self.stdout.write(
                f"  user references: {report.users_repointed} matched by email to another id, "
                f"{report.users_cleared} emptied (no account with that email)"
            )
        if options["restore_members"]:
            self.stdout.write(f"  members restored: {report.members_restored}")
            if report.members_skipped:
                self.stdout.write(
                    "  members skipped (no account): " + ", ".join(report.members_skipped)
                )
        self.stdout.write(
            self.style.SUCCESS(f"Imported into workspace {slug} ({report.tenant.schema_name}).")
        )
