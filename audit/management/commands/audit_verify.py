"""``manage.py audit_verify [--workspace SLUG | --all] [--expect-head SEQUENCE:HASH]``

Recomputes the keyed chain of the platform stream (default), one workspace's stream, or every
stream, checks it against the newest signed digest anchored for it (``audit_anchor``), and
names the first event where each chain breaks. A digest whose signature does not verify is a
break too; a stream without any digest yet is said so. Exits non-zero if any is broken.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.anchoring import audit_digest_check, audit_streams
from audit.selectors import audit_stream_verify


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
        for stream in streams:
            label = stream.label
            with stream.context():
                check = audit_digest_check(stream=stream)
                if check.problem:
                    broken.append(label)
                    self.stdout.write(f"{label}: BROKEN: {check.problem}")
                    continue
                report = audit_stream_verify(
                    schema_name=stream.schema_name, anchors={**check.anchors, **anchors}
                )
            bad = report.first_break
            if bad is None:
                anchored = f", matches digest {check.digest.name}" if check.digest else ""
                self.stdout.write(
                    f"{label}: OK, {report.events} events, head "
                    f"{report.head_sequence}:{report.head_hash}{anchored}"
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

    def _streams(self, options):
        try:
            return audit_streams(workspace=options["workspace"], everything=options["all"])
        except LookupError as error:
            raise CommandError(str(error)) from None

    @staticmethod
    def _anchors(values: list[str]) -> dict[int, str]:
        anchors = {}
        for value in values:
            sequence, _, digest = value.partition(":")
            if not sequence.isdigit() or len(digest) != 64:
                raise CommandError(f"--expect-head wants SEQUENCE:HASH, got {value!r}")
            anchors[int(sequence)] = digest.lower()
        return anchors
