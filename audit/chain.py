"""The hash chain: canonical encoding of an event, its SHA-256, and verification of a stream.

Invariant: ``hash = sha256(canonical_bytes(event))`` where the canonical encoding covers every
recorded field plus ``sequence`` and ``prev_hash``, and ``prev_hash`` is the previous event's
``hash`` (``GENESIS_HASH`` for sequence 1). The encoding is deterministic: JSON with sorted
keys and no whitespace, UTC timestamps in one fixed format, and JSON payloads (``changes``,
``additional_data``) reduced by :func:`json_safe` to strings, integers, booleans, null, lists
and objects, which PostgreSQL's jsonb gives back unchanged.

Pure functions only: nothing here touches the database, so the verifier can be property-tested
on rows built in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

CHAIN_VERSION = 1
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


def canonical_payload(event) -> dict[str, Any]:
    return {
        "v": CHAIN_VERSION,
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


def canonical_bytes(event) -> bytes:
    return json.dumps(
        canonical_payload(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def event_hash(event) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


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

    @property
    def ok(self) -> bool:
        return self.first_break is None


def chain_verify(
    events: Iterable, *, stream: str = "", anchors: dict[int, str] | None = None
) -> ChainReport:
    """Walk events in ``sequence`` order and report the first one that breaks the chain.

    Catches an edited row (its hash no longer matches), a deleted row (a gap in the sequence),
    an inserted row (a repeated or foreign sequence, or a link to the wrong predecessor) and
    re-ordered rows (links and ids out of step). Deleting the newest events leaves a shorter
    chain that is still valid, and so does recomputing every hash after an edit; ``anchors``
    ({sequence: hash} recorded earlier, outside the database) catch both.
    """
    anchors = anchors or {}
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    previous_id = None
    count = 0
    for event in events:
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
        elif event.hash != event_hash(event):
            problem = "content does not match its hash (edited row)"
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
        previous_hash = event.hash
        previous_id = event.id
        expected_sequence += 1
    head = expected_sequence - 1
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
