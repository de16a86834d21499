"""The vocabulary's own rules: unique numbers in their blocks, every event named, none reused."""

from __future__ import annotations

from audit.events import (
    EVENT_INFO,
    RECORD_EVENTS,
    RETIRED_CODES,
    Event,
    event_label,
    event_name,
    record_event,
)

# The hundreds blocks of the module docstring (the trust center's 900 included), the shop's
# thousand and the desk's.
BLOCKS = [range(100, 1000), range(1000, 2000), range(2000, 3000)]


def test_every_event_has_a_unique_name_and_a_label():
    assert set(EVENT_INFO) == set(Event)
    names = [info.name for info in EVENT_INFO.values()]
    assert len(names) == len(set(names))


def test_every_event_sits_in_a_declared_block():
    for event in Event:
        assert any(int(event) in block for block in BLOCKS), event


def test_retired_codes_are_never_handed_out_again():
    assert not {int(event) for event in Event} & RETIRED_CODES


def test_record_events_follow_created_updated_deleted_order():
    for label, (created, updated, deleted) in RECORD_EVENTS.items():
        assert (updated - created, deleted - created) == (1, 2), label
        assert [record_event(label, action) for action in (0, 1, 2)] == [created, updated, deleted]
    assert record_event("shop.somethingnew", 1) == Event.SHOP_RECORD_UPDATED


def test_unknown_codes_still_render():
    assert (event_name(4242), event_label(4242)) == ("unknown.4242", "Unknown event 4242")
