"""``manage.py audit_verify [--workspace SLUG | --all] [--expect-head SEQUENCE:HASH]``

Recomputes the hash chain of the platform stream (default), one workspace's stream, or every
stream, and names the first event where each chain breaks. Exits non-zero if any is broken.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_stream_verify
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Verify the audit streams' hash chains; exits 1 and names the first bad event."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--workspace", metavar="SLUG", help="Verify this workspace's stream.")
        which.add_argument(
            "--all", action="store_true", help="Verify the platform and every workspace."
        )
        parser.add_argument(
            "--expect-head",
            action="append",
            default=[],
            metavar="SEQUENCE:HASH",
            help="A head printed by an earlier run and kept elsewhere; catches deleted newest "
            "events and a rewritten chain. Repeatable; only with a single stream.",
        )

    def handle(self, *args, **options):
        streams = self._streams(options)
        anchors = self._anchors(options["expect_head"])
        if anchors and len(streams) != 1:
            raise CommandError("--expect-head needs exactly one stream")
        broken = []
        for label, schema_name in streams:
            report = audit_stream_verify(schema_name=schema_name, anchors=anchors)
            bad = report.first_break
            if bad is None:
                self.stdout.write(
                    f"{label}: OK, {report.events} events, head "
                    f"{report.head_sequence}:{report.head_hash}"
                )
                continue
            broken.append(label)
            self.stdout.write(
                f"{label}: BROKEN at event #{bad.sequence}"
                f"{f' (id {bad.event_id})' if bad.event_id is not None else ''}: {bad.reason}; "
                f"last good head {report.head_sequence}:{report.head_hash}"
            )
        if broken:
            raise CommandError(f"audit chain broken in: {', '.join(broken)}")

    def _streams(self, options) -> list[tuple[str, str]]:
        platform = ("platform", settings.PUBLIC_SCHEMA_NAME)
        if options["workspace"]:
            tenant = Tenant.objects.filter(slug=options["workspace"]).first()
            if tenant is None or tenant.is_public:
                raise CommandError(f"no workspace {options['workspace']!r}")
            return [(tenant.slug, tenant.schema_name)]
        if options["all"]:
            workspaces = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
            return [platform, *((t.slug, t.schema_name) for t in workspaces.order_by("slug"))]
        return [platform]

    @staticmethod
    def _anchors(values: list[str]) -> dict[int, str]:
        anchors = {}
        for value in values:
            sequence, _, digest = value.partition(":")
            if not sequence.isdigit() or len(digest) != 64:
                raise CommandError(f"--expect-head wants SEQUENCE:HASH, got {value!r}")
            anchors[int(sequence)] = digest.lower()
        return anchors
