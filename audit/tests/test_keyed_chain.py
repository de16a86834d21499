"""The keyed chain, property-tested on streams built in memory: without the key nobody can
recompute a chain that verifies, keys rotate without breaking old events, and a stream never
goes back from keyed to plain SHA-256."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from audit.chain import (
    GENESIS_HASH,
    KEYED,
    LEGACY,
    UnknownKey,
    canonical_bytes,
    chain_verify,
    content_sha256,
    event_hash,
    keyed_link_problem,
)
from audit.keys import parse_chain_keys
from audit.tests.test_chain import build_stream

OLD_KEY = b"o" * 32
NEW_KEY = b"n" * 32
KEYS = {"k-old": OLD_KEY, "k-new": NEW_KEY}


def keyed_stream(labels: list[str], *, rotate_at: int | None = None, legacy: int = 0):
    """A stream of ``legacy`` SHA-256 events, then keyed ones under "k-old" (until
    ``rotate_at``) and "k-new"."""
    events = build_stream(labels)
    relink(events, 0, legacy=legacy, rotate_at=rotate_at)
    return events


def relink(events, start: int, *, legacy: int = 0, rotate_at=None, keys=KEYS, version=None):
    previous = events[start - 1].hash if start else GENESIS_HASH
    for index, event in enumerate(events[start:], start=start):
        event.chain_version = version or (LEGACY if index < legacy else KEYED)
        if event.chain_version == KEYED:
            event.key_id = "k-new" if rotate_at is not None and index >= rotate_at else "k-old"
        else:
            event.key_id = ""
        event.prev_hash = previous
        event.hash = event_hash(event, keys)
        previous = event.hash


labels = st.lists(st.text(max_size=8), min_size=2, max_size=10)


@given(labels, st.data())
def test_a_keyed_stream_verifies_across_a_key_rotation(names, data):
    rotate_at = data.draw(st.integers(0, len(names)))
    events = keyed_stream(names, rotate_at=rotate_at)
    report = chain_verify(events, keys=KEYS, require_keyed=True)
    assert report.ok
    assert report.head_hash == events[-1].hash


@given(labels)
def test_a_keyed_link_is_an_hmac_not_a_plain_hash(names):
    event = keyed_stream(names)[0]
    assert event.hash != content_sha256(event)
    assert content_sha256(event) == __import__("hashlib").sha256(canonical_bytes(event)).hexdigest()
    assert b'"key_id":"k-old"' in canonical_bytes(event)


@given(labels, st.data())
def test_a_chain_recomputed_with_plain_sha256_is_caught_where_the_rewrite_starts(names, data):
    events = keyed_stream(names)
    index = data.draw(st.integers(0, len(events) - 1))
    events[index].target_label += " (edited)"
    relink(events, index, version=LEGACY)
    report = chain_verify(events, keys=KEYS, require_keyed=True)
    assert not report.ok
    assert report.first_break.sequence == (1 if index == 0 else index + 1)


@given(labels, st.data())
def test_a_chain_recomputed_under_a_key_of_the_attackers_is_caught_at_the_edit(names, data):
    events = keyed_stream(names)
    index = data.draw(st.integers(0, len(events) - 1))
    events[index].target_label += " (edited)"
    relink(events, index, keys={"k-old": b"a" * 32})
    report = chain_verify(events, keys=KEYS)
    assert report.first_break.event_id == events[index].id
    assert "recomputed without the chain key" in report.first_break.reason


@given(labels, st.data())
def test_an_event_naming_a_key_that_is_not_configured_is_caught(names, data):
    events = keyed_stream(names)
    index = data.draw(st.integers(0, len(events) - 1))
    forged_keys = {**KEYS, "k-mallory": b"m" * 32}
    for event in events[index:]:
        event.key_id = "k-mallory"
    relink(events, index, keys=forged_keys, rotate_at=None)
    for event in events[index:]:
        event.key_id = "k-mallory"
        event.hash = "0" * 64
    report = chain_verify(events, keys=KEYS)
    assert report.first_break.event_id == events[index].id


def test_unknown_key_ids_are_named_in_the_break():
    events = keyed_stream(["a", "b"])
    report = chain_verify(events, keys={"k-new": NEW_KEY})
    assert report.first_break.sequence == 1
    assert "key id 'k-old' is not configured" in report.first_break.reason
    with pytest.raises(UnknownKey):
        event_hash(events[0], {})


@given(labels, st.data())
def test_legacy_events_before_the_rotation_point_keep_verifying(names, data):
    legacy = data.draw(st.integers(1, len(names) - 1))
    events = keyed_stream(names, legacy=legacy)
    assert chain_verify(events, keys=KEYS, require_keyed=True).ok


@given(labels, st.data())
def test_an_unkeyed_event_after_a_keyed_one_is_caught(names, data):
    events = keyed_stream(names)
    index = data.draw(st.integers(1, len(events) - 1))
    relink(events, index, version=LEGACY)
    report = chain_verify(events, keys=KEYS)
    assert report.first_break.sequence == index + 1
    assert "unkeyed (version 1) event after the chain became keyed" in report.first_break.reason


@given(labels)
def test_a_stream_of_only_unkeyed_events_is_refused_when_keys_are_required(names):
    events = build_stream(names)
    assert chain_verify(events).ok  # the legacy verifier alone cannot tell
    report = chain_verify(events, keys=KEYS, require_keyed=True)
    assert report.first_break.sequence == 1
    assert "no keyed event seals them" in report.first_break.reason


@given(labels, st.data())
def test_editing_a_legacy_event_before_the_seal_is_caught_even_if_recomputed(names, data):
    legacy = data.draw(st.integers(1, len(names) - 1))
    events = keyed_stream(names, legacy=legacy)
    index = data.draw(st.integers(0, legacy - 1))
    tampered = copy.deepcopy(events)
    tampered[index].target_label += " (edited)"
    previous = tampered[index - 1].hash if index else GENESIS_HASH
    for event in tampered[index:legacy]:  # SHA-256 anyone can recompute, up to the seal
        event.prev_hash = previous
        event.hash = event_hash(event)
        previous = event.hash
    tampered[legacy].prev_hash = previous  # the seal's link is keyed and cannot follow
    report = chain_verify(tampered, keys=KEYS, require_keyed=True)
    assert report.first_break.sequence == legacy + 1


def test_chain_keys_parse_and_bad_input_gets_a_clear_error():
    import base64

    encoded = base64.b64encode(b"k" * 32).decode()
    assert parse_chain_keys(f"one:{encoded}, two:{encoded}") == {"one": b"k" * 32, "two": b"k" * 32}
    short = base64.b64encode(b"k" * 16).decode()
    for raw, message in (
        ("", "AUDIT_CHAIN_KEYS is empty"),
        ("nocolon", "each entry is KEY_ID:BASE64KEY"),
        ("bad id!:" + encoded, "each entry is KEY_ID:BASE64KEY"),
        ("one:not base64!", "the key of 'one' is not valid base64"),
        ("one:" + short, "the key of 'one' is shorter than 32 bytes"),
        (f"one:{encoded},one:{encoded}", "key id 'one' is listed twice"),
    ):
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_chain_keys(raw)


def test_the_key_error_never_shows_the_key():
    import base64

    secret = base64.b64encode(b"s" * 16).decode()
    with pytest.raises(ImproperlyConfigured) as error:
        parse_chain_keys(f"one:{secret}")
    assert secret not in str(error.value)


def test_a_current_key_id_that_is_not_configured_stops_with_a_clear_error(settings):
    from audit.keys import current_key_id

    settings.AUDIT_CHAIN_KEY_ID = "missing"
    with pytest.raises(ImproperlyConfigured, match="AUDIT_CHAIN_KEY_ID 'missing' is not one"):
        current_key_id()


def test_a_malformed_key_stops_manage_py_check_naming_the_variable_not_the_key(settings):
    from audit.checks import audit_keys_check

    settings.AUDIT_CHAIN_KEYS = "k1:c2hvcnQ="  # "short"
    settings.AUDIT_CHAIN_KEY_ID = "k1"
    settings.AUDIT_ANCHOR_SIGNING_KEY = "not base64!"
    errors = audit_keys_check(None)
    assert [(error.id, error.msg) for error in errors] == [
        ("audit.E001", "AUDIT_CHAIN_KEYS: the key of 'k1' is shorter than 32 bytes"),
        ("audit.E002", "AUDIT_ANCHOR_SIGNING_KEY is not valid base64"),
    ]
    assert "c2hvcnQ=" not in str([error.msg for error in errors])


def test_the_configured_keys_pass_the_start_up_check():
    from audit.checks import audit_keys_check

    assert audit_keys_check(None) == []


# --- One event as proof (audit.chain.keyed_link_problem): what the owner side's purge drop
# rests on (workspace.lifecycle.proof). Without the key, nothing about an event can be changed,
# nor can it be moved, and a keyless link is never proof.


def _pair():
    first, second = keyed_stream(["receipt before", "receipt"])
    return first, second


def test_a_genuine_keyed_event_in_its_place_is_proof():
    first, second = _pair()
    assert keyed_link_problem(first, None, KEYS) is None
    assert keyed_link_problem(second, first, KEYS) is None


def _edit(field, value):
    def tamper(event, predecessor):
        setattr(event, field, value)
        return event, predecessor

    return tamper


def _recompute_without_the_key(event, predecessor):
    event.target_id = "victim"
    event.chain_version, event.key_id = LEGACY, ""
    event.hash = content_sha256(event)  # what anyone can compute, in SQL too
    return event, predecessor


def _sign_with_another_key(key_id):
    def tamper(event, predecessor):
        event.target_id = "victim"
        event.key_id = key_id
        event.hash = event_hash(event, {key_id: b"a" * 32})
        return event, predecessor

    return tamper


def _move_after(other_predecessor):
    def tamper(event, predecessor):
        return event, other_predecessor

    return tamper


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_edit("target_id", "victim"), id="target edited"),
        pytest.param(_edit("additional_data", {"schema": "ws_victim"}), id="data edited"),
        pytest.param(_edit("event_type", 336), id="type edited"),
        pytest.param(_edit("sequence", 9), id="moved to another sequence"),
        pytest.param(_edit("prev_hash", "e" * 64), id="relinked"),
        pytest.param(_recompute_without_the_key, id="keyless SHA-256 link"),
        pytest.param(_sign_with_another_key("k-old"), id="HMAC under a configured id, wrong key"),
        pytest.param(_sign_with_another_key("k-attacker"), id="HMAC under an unknown key id"),
        pytest.param(_move_after(None), id="predecessor missing"),
    ],
)
def test_an_event_changed_moved_or_relinked_without_the_key_is_no_proof(tamper):
    first, second = _pair()
    event, predecessor = tamper(copy.copy(second), first)
    assert keyed_link_problem(event, predecessor, KEYS) is not None


def test_a_genuine_event_placed_after_another_predecessor_is_no_proof():
    first, second = _pair()
    other_first = keyed_stream(["another stream's event"])[0]
    assert other_first.hash != first.hash
    assert keyed_link_problem(second, other_first, KEYS) == "does not link to its predecessor"
