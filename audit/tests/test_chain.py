"""The hash chain, property-tested on streams built in memory: any single edit, deletion,
insertion or re-ordering is caught at the first event it breaks."""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.chain import (
    GENESIS_HASH,
    ChainBreak,
    canonical_bytes,
    chain_verify,
    event_hash,
    json_safe,
)
from audit.models import AuditEvent

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
EDITABLE = {
    "event_type": st.integers(1, 5000),
    "outcome": st.sampled_from(["success", "failure"]),
    "actor_kind": st.sampled_from(["user", "system", "support_agent", "api_token"]),
    "actor_id": st.one_of(st.none(), st.integers(1, 10**6)),
    "actor_name": st.text(max_size=20),
    "actor_email": st.emails(),
    "remote_addr": st.ip_addresses().map(str),
    "user_agent": st.text(max_size=30),
    "request_id": st.text(max_size=20),
    "target_type": st.text(max_size=10),
    "target_id": st.text(max_size=10),
    "target_label": st.text(max_size=30),
    "timestamp": st.datetimes(timezones=st.just(dt.UTC)),
    "changes": st.dictionaries(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=2)),
    "additional_data": st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)),
    "prev_hash": st.text("0123456789abcdef", min_size=64, max_size=64),
    "hash": st.text("0123456789abcdef", min_size=64, max_size=64),
}


def build_stream(labels: list[str]) -> list[AuditEvent]:
    events, previous = [], GENESIS_HASH
    for index, label in enumerate(labels):
        event = AuditEvent(
            id=10 + index * 3,
            sequence=index + 1,
            prev_hash=previous,
            event_type=101 + index,
            outcome="success",
            actor_kind="user",
            actor_id=index,
            actor_name="A",
            actor_email="a@x",
            remote_addr="192.0.2.1",
            user_agent="ua",
            request_id=f"r{index}",
            target_type="t",
            target_id=str(index),
            target_label=label,
            timestamp=START + dt.timedelta(seconds=index),
            changes={"name": [None, label]},
            additional_data=None,
        )
        event.hash = event_hash(event)
        previous = event.hash
        events.append(event)
    return events


def rehash_from(events: list[AuditEvent], start: int) -> None:
    """What an attacker who knows the algorithm does after tampering: recompute the rest."""
    previous = events[start - 1].hash if start else GENESIS_HASH
    for event in events[start:]:
        event.prev_hash = previous
        event.hash = event_hash(event)
        previous = event.hash


def broken(report) -> ChainBreak:
    assert report.first_break is not None, "the chain verified"
    return report.first_break


streams = st.lists(st.text(max_size=12), min_size=2, max_size=12).map(build_stream)


@given(streams)
def test_an_untouched_stream_verifies(events):
    report = chain_verify(events)
    assert report.ok
    assert (report.events, report.head_sequence, report.head_hash) == (
        len(events),
        len(events),
        events[-1].hash,
    )


@settings(max_examples=300)
@given(streams, st.data())
def test_editing_any_field_of_any_event_is_caught_at_that_event(events, data):
    index = data.draw(st.integers(0, len(events) - 1))
    field = data.draw(st.sampled_from(sorted(EDITABLE)))
    value = data.draw(EDITABLE[field].filter(lambda v: v != getattr(events[index], field)))
    setattr(events[index], field, value)
    report = chain_verify(events)
    assert not report.ok
    assert broken(report).event_id == events[index].id
    assert report.head_sequence == index  # the last good event is the one before


@given(streams, st.data())
def test_deleting_an_event_is_caught_at_the_next_one(events, data):
    index = data.draw(st.integers(0, len(events) - 2))
    following = events[index + 1]
    del events[index]
    report = chain_verify(events)
    assert not report.ok
    assert broken(report).event_id == following.id
    assert "missing" in broken(report).reason


@given(streams, st.data(), st.booleans())
def test_inserting_a_forged_event_is_caught_where_it_goes_in(events, data, forger_knows_the_hash):
    index = data.draw(st.integers(0, len(events) - 1))
    forged = copy.copy(events[index])
    forged.id = 10_000  # a new row gets a new, higher id
    forged.target_label = "forged"
    forged.prev_hash = events[index - 1].hash if index else GENESIS_HASH
    forged.hash = event_hash(forged) if forger_knows_the_hash else "f" * 64
    for later in events[index:]:
        later.sequence += 1  # renumbered to make room, as the unique constraint demands
    events.insert(index, forged)
    report = chain_verify(events)
    assert not report.ok
    assert broken(report).sequence in (index + 1, index + 2)
    if not forger_knows_the_hash:
        assert broken(report).event_id == forged.id


@given(streams, st.data())
def test_swapping_two_events_is_caught_at_the_earlier_position(events, data):
    first = data.draw(st.integers(0, len(events) - 2))
    second = data.draw(st.integers(first + 1, len(events) - 1))
    events[first].sequence, events[second].sequence = (
        events[second].sequence,
        events[first].sequence,
    )
    events.sort(key=lambda event: event.sequence)
    report = chain_verify(events)
    assert not report.ok
    assert broken(report).sequence == first + 1


@given(streams, st.data())
def test_swapping_whole_rows_but_keeping_their_ids_is_caught(events, data):
    first = data.draw(st.integers(0, len(events) - 2))
    events[first].id, events[first + 1].id = events[first + 1].id, events[first].id
    report = chain_verify(events)
    assert not report.ok
    assert broken(report).sequence == first + 2
    assert "out of order" in broken(report).reason


@given(streams, st.integers(1, 3))
def test_deleting_the_newest_events_needs_an_anchor_to_show(events, cut):
    cut = min(cut, len(events) - 1)
    anchor = {len(events): events[-1].hash}
    shortened = events[:-cut]
    assert chain_verify(shortened).ok  # a shorter chain is still a chain
    report = chain_verify(shortened, anchors=anchor)
    assert not report.ok
    assert broken(report).sequence == len(shortened) + 1
    assert "gone" in broken(report).reason


@given(streams, st.data())
def test_a_fully_rehashed_rewrite_needs_an_anchor_to_show(events, data):
    anchors = {event.sequence: event.hash for event in events}
    index = data.draw(st.integers(0, len(events) - 1))
    events[index].target_label += " (edited)"
    rehash_from(events, index)
    assert chain_verify(events).ok
    report = chain_verify(events, anchors=anchors)
    assert broken(report).event_id == events[index].id


payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
    | st.dates(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(payloads)
def test_payload_reduction_is_idempotent_and_json_native(value):
    safe = json_safe(value)
    assert json_safe(safe) == safe
    import json

    assert json.loads(json.dumps(safe)) == safe


def test_canonical_encoding_does_not_depend_on_key_order():
    one, two = build_stream(["a"])[0], build_stream(["a"])[0]
    one.changes = {"b": [1, 2], "a": [None, "x"]}
    two.changes = {"a": [None, "x"], "b": [1, 2]}
    assert canonical_bytes(one) == canonical_bytes(two)
    assert b'"time":"2025-01-01T00:00:00.000000Z"' in canonical_bytes(one)


def _stop_after(count: int):
    """A ``stop`` that lets ``count`` events through, like a time budget running out."""
    asked = iter(range(10**6))
    return lambda: next(asked) >= count


def test_a_walk_stopped_early_reports_how_far_it_verified_and_nothing_beyond():
    events = build_stream([f"row {n}" for n in range(6)])
    anchor = {6: events[-1].hash}
    report = chain_verify(events, anchors=anchor, stop=_stop_after(3))
    # Not a break at the unreached anchor, and not a whole-stream pass either.
    assert report.first_break is None
    assert report.complete is False
    assert (report.events, report.head_sequence, report.head_hash) == (3, 3, events[2].hash)
    assert chain_verify(events, anchors=anchor).complete is True


def test_a_walk_stopped_early_still_reports_a_break_it_reached():
    events = build_stream([f"row {n}" for n in range(6)])
    events[1].target_label = "edited"
    report = chain_verify(events, stop=_stop_after(4))
    assert broken(report).sequence == 2
    assert report.complete is True  # the break was found before the budget ran out
