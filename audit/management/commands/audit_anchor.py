"""``manage.py audit_anchor [--workspace SLUG | --all]``

Verifies each stream under the chain keys and writes a signed digest of its head to the
private storage (audit/anchors.py): the platform stream by default, one workspace's stream, or
every stream. A broken stream is reported and not anchored; the command then exits non-zero.
The beat task ``audit.tasks.audit_anchor_all`` runs the same for every stream.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.anchoring import audit_stream_anchor, audit_streams
from audit.anchors import AnchorRefused


class Command(BaseCommand):
    help = "Anchor the audit streams' heads as signed digests in object storage."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--workspace", metavar="SLUG", help="Anchor this workspace's stream.")
        which.add_argument(
            "--all", action="store_true", help="Anchor the platform and every workspace."
        )

    def handle(self, *args, **options):
        try:
            streams = audit_streams(workspace=options["workspace"], everything=options["all"])
        except LookupError as error:
            raise CommandError(str(error)) from None
        refused = []
        for stream in streams:
            with stream.context():
                try:
                    name = audit_stream_anchor(stream=stream)
                except AnchorRefused as error:
                    refused.append(stream.label)
                    self.stdout.write(str(error))
                    continue
            self.stdout.write(f"{stream.label}: anchored {name}")
        if refused:
            raise CommandError(f"not anchored: {', '.join(refused)}")
