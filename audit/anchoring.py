"""Anchoring and checking streams against their digests: the database side of audit.anchors.

Invariant: every function here reads exactly one stream, the one of the schema the caller has
made current (a workspace through ``tenant_context``, the platform through ``schema_context``);
it refuses to run when the connection is on another schema. :func:`audit_streams` is the one
list of streams that ``audit_anchor``, ``audit_verify`` and the beat task walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from .anchors import (
    DIGEST_FORMAT,
    PLATFORM_LABEL,
    AnchorRefused,
    ContentRoot,
    StoredDigest,
    digest_document,
    digest_latest,
    digest_write,
)
from .chain import chain_verify
from .keys import chain_keys, current_key_id
from .models import AuditEvent


@dataclass(frozen=True)
class Stream:
    label: str  # "platform" or the workspace's slug
    schema_name: str
    tenant: object | None  # None for the platform stream

    def context(self) -> AbstractContextManager:
        """The stream's tenant set explicitly (the workspace's database context with it)."""
        if self.tenant is None:
            return schema_context(self.schema_name)
        return tenant_context(self.tenant)


def audit_streams(*, workspace: str | None = None, everything: bool = False) -> list[Stream]:
    """The platform stream (default), one workspace's (by slug), or all of them."""
    from tenants.models import Tenant

    public = settings.PUBLIC_SCHEMA_NAME
    platform = Stream(PLATFORM_LABEL, public, None)
    if workspace:
        tenant = Tenant.objects.filter(slug=workspace).exclude(schema_name=public).first()
        if tenant is None:
            raise LookupError(f"no workspace {workspace!r}")
        return [Stream(tenant.slug, tenant.schema_name, tenant)]
    if everything:
        workspaces = Tenant.objects.exclude(schema_name=public).order_by("slug")
        return [platform, *(Stream(t.slug, t.schema_name, t) for t in workspaces)]
    return [platform]


def _on(schema_name: str) -> None:
    if connection.schema_name != schema_name:  # type: ignore[attr-defined]
        raise RuntimeError(f"stream {schema_name} read while the connection is elsewhere")


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=5000)


def audit_stream_anchor(*, stream: Stream) -> str:
    """Verify the current stream under the chain keys and against its newest digest, then
    write a signed digest of its head; returns the digest's name. A broken chain, or one that
    no longer holds the head anchored before (a truncated or replaced stream), is refused and
    never anchored: each digest extends the one before it, so the newest one is enough to
    check."""
    _on(stream.schema_name)
    previous = audit_digest_check(stream=stream)
    if previous.problem:
        raise AnchorRefused(f"{stream.label}: not anchored, {previous.problem}")
    root = ContentRoot()
    # One snapshot for the walk: count, head and root describe the same moment.
    with transaction.atomic():
        report = chain_verify(
            root.fold(_events()),
            stream=stream.schema_name,
            anchors=previous.anchors,
            keys=chain_keys(),
            require_keyed=True,
        )
    if report.first_break is not None:
        bad = report.first_break
        raise AnchorRefused(
            f"{stream.label}: not anchored, chain broken at event #{bad.sequence}: {bad.reason}"
        )
    document = digest_document(
        stream=stream.label,
        schema_name=stream.schema_name,
        report=report,
        root=root,
        key_id=current_key_id(),
        now=timezone.now(),
        previous=previous.digest,
    )
    return digest_write(document)


@dataclass(frozen=True)
class DigestCheck:
    digest: StoredDigest | None
    problem: str | None  # why the digest itself cannot be trusted
    anchors: dict[int, str]  # {sequence: link} the stream must still hold


def audit_digest_check(*, stream: Stream) -> DigestCheck:
    """The newest digest of the stream, its signature checked, as anchors for the verifier."""
    digest = digest_latest(stream.schema_name)
    if digest is None:
        return DigestCheck(None, None, {})
    document = digest.document
    if not digest.signature_ok:
        return DigestCheck(digest, f"digest {digest.name}: signature does not verify", {})
    if document.get("format") != DIGEST_FORMAT or document.get("schema") != stream.schema_name:
        return DigestCheck(digest, f"digest {digest.name}: not a digest of this stream", {})
    last_sequence = document.get("last_sequence")
    if not isinstance(last_sequence, int) or last_sequence < 0:
        return DigestCheck(digest, f"digest {digest.name}: malformed", {})
    anchors = {last_sequence: document["last_link"]} if last_sequence else {}
    return DigestCheck(digest, None, anchors)
