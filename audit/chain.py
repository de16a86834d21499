"""The keyed hash chain: canonical encoding of an event, its link, and verification of a stream.

Invariant: ``hash`` is the event's link, computed over ``canonical_bytes(event)``, where the
canonical encoding covers every recorded field plus ``sequence``, ``prev_hash``, the chain
version and the key id, and ``prev_hash`` is the previous event's ``hash`` (``GENESIS_HASH``
for sequence 1). Two chain versions exist, recorded per event in ``chain_version``:

* version 2 (``KEYED``, every event written now): ``hash = HMAC-SHA-256(key, canonical_bytes)``
  under the key named by the event's ``key_id``. The keys live in the environment
  (``AUDIT_CHAIN_KEYS``), never in the database, so someone who can write the table cannot
  recompute a valid chain. Old key ids stay configured after a rotation, so every event keeps
  verifying under the key that made it.
* version 1 (``LEGACY``, events written before keyed chains): ``hash = sha256(canonical_bytes)``.
  A stream may start with version 1 events (the rotation point is the first version 2 event)
  but never goes back: a version 1 event after a version 2 one is a break, and with
  ``require_keyed`` a stream must have at least one keyed event sealing its legacy prefix.

The encoding is deterministic: JSON with sorted keys and no whitespace, UTC timestamps in one
fixed format, and JSON payloads (``changes``, ``additional_data``) reduced by :func:`json_safe`
to strings, integers, booleans, null, lists and objects, which PostgreSQL's jsonb gives back
unchanged.

Pure functions only: nothing here touches the database, so the verifier can be property-tested
on rows built in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

LEGACY = 1  # plain SHA-256, no secret: events written before keyed chains
KEYED = 2  # HMAC-SHA-256 under the key named by the event's key_id
CHAIN_VERSION = KEYED  # what new events are written with
GENESIS_HASH = "0" * 64  # prev_hash of sequence 1
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def json_safe(value: Any) -> Any:
    """Reduce a payload to types that survive a jsonb round trip exactly.

    Decimal, UUID, dates and floats become strings (jsonb would rewrite ``1e20`` as
    ``100000000000000000000``); dict keys become strings; NUL (rejected by jsonb) is replaced.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {str(key).replace("\x00", "\ufffd"): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime):
        return format_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, float | Decimal | UUID | dt.date | dt.time):
        return str(value)
    return str(value).replace("\x00", "\ufffd")


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime(TIME_FORMAT)


def chain_version_of(event) -> int:
    return getattr(event, "chain_version", None) or LEGACY


def canonical_payload(event) -> dict[str, Any]:
    version = chain_version_of(event)
    payload = {
        "v": version,
        "sequence": event.sequence,
        "prev_hash": event.prev_hash,
        "time": format_time(event.timestamp),
        "event_type": event.event_type,
        "outcome": event.outcome,
        "action": event.action,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_email": event.actor_email,
        "on_behalf_of_id": event.on_behalf_of_id,
        "on_behalf_of_name": event.on_behalf_of_name,
        "on_behalf_of_email": event.on_behalf_of_email,
        "ip": event.remote_addr,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "changes": event.changes,
        "data": event.additional_data,
    }
    if version >= KEYED:
        payload["key_id"] = event.key_id
    return payload


def canonical_bytes(event) -> bytes:
    return json.dumps(
        canonical_payload(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def content_sha256(event) -> str:
    """The keyless SHA-256 of the event's canonical bytes: anyone can recompute it from an
    export, without the chain key (the anchors' ``content_root`` folds these)."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


class UnknownKey(LookupError):
    """The event names a key id that is not configured."""


def event_hash(event, keys: Mapping[str, bytes] | None = None) -> str:
    """The event's link under its own chain version (``keys``: key id -> key bytes)."""
    if chain_version_of(event) == LEGACY:
        return content_sha256(event)
    key = (keys or {}).get(event.key_id)
    if key is None:
        raise UnknownKey(event.key_id)
    return hmac.new(key, canonical_bytes(event), hashlib.sha256).hexdigest()


def link_matches(event, keys: Mapping[str, bytes] | None = None) -> bool:
    try:
        expected = event_hash(event, keys)
    except UnknownKey:
        return False
    return hmac.compare_digest(expected, event.hash or "")


def keyed_link_problem(event, predecessor, keys: Mapping[str, bytes] | None = None) -> str | None:
    """Why ``event`` is not proof that the application wrote exactly this content at exactly
    this place in its stream, or None when it is.

    Proof needs a KEYED link (version 2) under a configured key that matches the event's
    content, and a ``prev_hash`` equal to ``predecessor``'s link (the row one sequence before
    it in the same table; GENESIS_HASH for sequence 1). The link covers the sequence, the
    previous link, the time, the type, the actor, the target and the data, so none of them can
    be changed, nor the event moved, without the key. A version 1 link is a plain SHA-256 that
    anyone (a SQL statement, ``sha256()``) can compute: never proof. What the link does not
    cover is which table (stream) the row sits in: callers decide on the content.
    """
    if chain_version_of(event) != KEYED:
        return "not a keyed (version 2) event: its link needs no key"
    if event.key_id not in (keys or {}):
        return f"key id {event.key_id!r} is not configured"
    if not link_matches(event, keys):
        return "content does not match its keyed link"
    if event.sequence == 1:
        expected_previous = GENESIS_HASH
    elif predecessor is None or predecessor.sequence != event.sequence - 1:
        return "its predecessor is missing"
    else:
        expected_previous = predecessor.hash
    if not hmac.compare_digest(event.prev_hash or "", expected_previous or ""):
        return "does not link to its predecessor"
    return None


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which a stream stops verifying, and why."""

    sequence: int
    event_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    stream: str
    events: int
    head_sequence: int
    head_hash: str
    first_break: ChainBreak | None
    # False when ``stop`` ended the walk early: events 1..head_sequence verified, the rest not
    # looked at (so nothing is said about them, anchors beyond included).
    complete: bool = True

    @property
    def ok(self) -> bool:
        return self.first_break is None


def chain_verify(
    events: Iterable,
    *,
    stream: str = "",
    anchors: dict[int, str] | None = None,
    keys: Mapping[str, bytes] | None = None,
    require_keyed: bool = False,
    stop: Callable[[], bool] | None = None,
) -> ChainReport:
    """Walk events in ``sequence`` order and report the first one that breaks the chain.

    Catches an edited row (its hash no longer matches), a deleted row (a gap in the sequence),
    an inserted row (a repeated or foreign sequence, or a link to the wrong predecessor) and
    re-ordered rows (links and ids out of step). Deleting the newest events leaves a shorter
    chain that is still valid, and so does recomputing every hash after an edit; ``anchors``
    ({sequence: hash} recorded earlier, outside the database) catch both.

    ``keys`` (key id -> key bytes) verify keyed events; without the right key a keyed event
    does not verify, so a chain recomputed with plain SHA-256 or under another key is caught
    at its first recomputed event. ``require_keyed``: a stream whose events are all legacy
    (version 1) is a break too, since anyone could have recomputed it.

    ``stop`` (asked before each event) ends the walk early, for a caller with a time budget:
    the report then has ``complete=False`` and covers events 1..``head_sequence`` only; the
    checks that need the whole stream (anchors beyond the head, an all-legacy stream) are not
    made, rather than reported as breaks or passes they did not compute.
    """
    anchors = anchors or {}
    keys = keys or {}
    keyed_seen = False
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    previous_id = None
    count = 0
    for event in events:
        if stop is not None and stop():
            return ChainReport(stream, count, expected_sequence - 1, previous_hash, None, False)
        count += 1
        problem = None
        if event.sequence < expected_sequence:
            problem = f"sequence {event.sequence} repeats or goes back (inserted or re-ordered row)"
        elif event.sequence > expected_sequence:
            problem = (
                f"events {expected_sequence}..{event.sequence - 1} are missing (deleted rows)"
                if event.sequence > expected_sequence + 1
                else f"event {expected_sequence} is missing (deleted row)"
            )
        elif event.prev_hash != previous_hash:
            problem = "does not link to the previous event (inserted, deleted or re-ordered row)"
        elif keyed_seen and chain_version_of(event) == LEGACY:
            problem = "unkeyed (version 1) event after the chain became keyed (recomputed chain)"
        elif chain_version_of(event) not in (LEGACY, KEYED):
            problem = f"unknown chain version {chain_version_of(event)}"
        elif chain_version_of(event) == KEYED and event.key_id not in keys:
            problem = f"key id {event.key_id!r} is not configured (forged or unknown key)"
        elif not link_matches(event, keys):
            problem = (
                "content does not match its hash (edited row)"
                if chain_version_of(event) == LEGACY
                else "content does not match its hash (edited row, or a link recomputed "
                "without the chain key)"
            )
        elif previous_id is not None and event.id is not None and event.id <= previous_id:
            problem = "stored out of order (re-ordered rows)"
        elif event.sequence in anchors and anchors[event.sequence] != event.hash:
            problem = "differs from the hash recorded for it earlier (stream rewritten)"
        if problem:
            return ChainReport(
                stream,
                count,
                expected_sequence - 1,
                previous_hash,
                ChainBreak(event.sequence, event.id, problem),
            )
        keyed_seen = keyed_seen or chain_version_of(event) == KEYED
        previous_hash = event.hash
        previous_id = event.id
        expected_sequence += 1
    head = expected_sequence - 1
    if require_keyed and head and not keyed_seen:
        unsealed = ChainBreak(
            1,
            None,
            f"events 1..{head} are all unkeyed (version 1) and no keyed event seals them "
            "(recomputed chain, or a legacy stream not yet sealed)",
        )
        return ChainReport(stream, count, 0, GENESIS_HASH, unsealed)
    beyond = [sequence for sequence in anchors if sequence > head]
    if beyond:
        missing = ChainBreak(
            head + 1,
            None,
            f"events {head + 1}..{max(beyond)} were recorded earlier and are gone "
            "(newest rows deleted)",
        )
        return ChainReport(stream, count, head, previous_hash, missing)
    return ChainReport(stream, count, head, previous_hash, None)
