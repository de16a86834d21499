"""The Audit page: who may see it, filters, pagination, detail, export; and that reading the log
is itself recorded."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.events import Event
from audit.forms import DATE_ORDER_ERROR
from audit.services import Target, audit_event_record
from audit.tests.streams import events_since, stream_head
from kernel.context import ActorKind, audit_context

pytestmark = pytest.mark.django_db
LIST = "/settings/audit/"
EXPORT = "/settings/audit/export/"


def _record(tenant, label: str, *, event_type=Event.MEMBER_ROLE_CHANGED, actor=None, **extra):
    with tenant_context(tenant), audit_context(actor_kind=ActorKind.USER, actor=actor):
        return audit_event_record(
            event_type=event_type, target=Target("t.thing", "1", label), **extra
        )


@pytest.fixture
def acme_marker(acme, member):
    return _record(
        acme,
        "MARKER-acme-probe",
        actor=member("acme", "admin"),
        changes={"name": ["Old Name", "MARKER-acme-new-name"]},
        data={"why": "test"},
    )


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("manager", 403), ("employee", 403)]
)
def test_audit_page_needs_audit_read(client_for, role, status):
    assert client_for("acme", role).get(LIST).status_code == status


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("accountant", 403)])
def test_export_needs_audit_export(client_for, role, status):
    response = client_for("acme", role).get(EXPORT)
    assert response.status_code == status


def test_anonymous_visitor_is_sent_to_sign_in(acme):
    from django.test import Client

    response = Client(HTTP_HOST="acme.localhost").get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")


def test_list_shows_recent_events_newest_first_and_records_the_viewing(
    acme, client_for, acme_marker
):
    head = stream_head(acme)
    response = client_for("acme", "owner").get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "MARKER-acme-probe" in body
    assert f'href="/settings/audit/{acme_marker.pk}/"' in body
    viewed = events_since(acme, head)
    assert [(e.event_name, e.actor_email) for e in viewed] == [
        ("audit.log.viewed", "owner@acme.example")
    ]
    today = timezone.localdate()
    assert viewed[0].additional_data == {
        "page": 1,
        "filters": {
            "actor": "",
            "event_type": None,
            "target": "",
            "date_to": None,
            "date_from": (today - dt.timedelta(days=90)).isoformat(),
        },
    }


def test_filters_narrow_by_actor_event_type_target_and_dates(acme, client_for, member, acme_marker):
    other = _record(
        acme, "Other thing", event_type=Event.MEMBER_REMOVED, actor=member("acme", "owner")
    )
    client = client_for("acme", "owner")

    def shown(**query) -> set[int]:
        response = client.get(LIST, query)
        assert response.status_code == 200, response.content
        return {e.pk for e in response.context["events"]}

    by_admin = shown(actor="admin@acme")
    assert acme_marker.pk in by_admin
    assert other.pk not in by_admin
    assert shown(event_type=int(Event.MEMBER_REMOVED)) >= {other.pk}
    assert acme_marker.pk not in shown(event_type=int(Event.MEMBER_REMOVED))
    assert shown(target="MARKER-acme-probe") == {acme_marker.pk}
    today = timezone.localdate()
    assert acme_marker.pk in shown(date_from=today.isoformat(), date_to=today.isoformat())
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert shown(date_from=tomorrow) == set()
    assert (
        shown(date_to=(today - dt.timedelta(days=1)).isoformat()) & {acme_marker.pk, other.pk}
        == set()
    )


def test_default_window_is_the_last_90_days(acme, client_for):
    with tenant_context(acme):
        old = audit_event_record(event_type=Event.MEMBER_ADDED, target=Target("t", "1", "ancient"))
    # The table refuses UPDATE: move "now" instead, 91 days on.
    import time_machine

    with time_machine.travel(timezone.now() + dt.timedelta(days=91), tick=False):
        client = client_for("acme", "owner")
        default = {e.pk for e in client.get(LIST).context["events"]}
        older = client.get(LIST, {"date_from": "2000-01-01", "target": "ancient"})
    assert old.pk not in default
    assert {e.pk for e in older.context["events"]} == {old.pk}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2025-02-30"}, "date_to"),
        ({"date_from": "2025-03-01", "date_to": "2025-01-01"}, "date_to"),
        ({"event_type": "999999"}, "event_type"),
        ({"event_type": "sign-in"}, "event_type"),
        ({"page": "two"}, "page"),
        ({"page": "0"}, "page"),
        ({"actor": "x" * 300}, "actor"),
    ],
)
def test_bad_filter_input_is_a_form_error_not_a_crash(client_for, query, field):
    client = client_for("acme", "owner")
    response = client.get(LIST, query)
    assert response.status_code == 400
    form = response.context["page_form" if field == "page" else "form"]
    assert field in form.errors
    if field != "page":  # an export has no pages
        assert client.get(EXPORT, query).status_code == 400


def test_date_order_error_is_shown_next_to_the_field(client_for):
    response = client_for("acme", "owner").get(
        LIST, {"date_from": "2025-03-01", "date_to": "2025-01-01"}
    )
    assert DATE_ORDER_ERROR in response.content.decode()


def test_a_page_beyond_the_last_shows_the_last_page_like_the_other_lists(
    acme, client_for, settings
):
    settings.AUDIT_PAGE_SIZE = 2
    for number in range(3):
        _record(acme, f"beyond-{number}")
    client = client_for("acme", "owner")
    last = client.get(LIST, {"target": "beyond", "page": 2})
    beyond = client.get(LIST, {"target": "beyond", "page": "99999"})
    assert beyond.status_code == 200
    assert beyond.context["page"].number == 2
    assert (
        [e.target_label for e in beyond.context["events"]]
        == [e.target_label for e in last.context["events"]]
        == ["beyond-0"]
    )


def test_pagination_splits_the_stream(acme, client_for, settings):
    settings.AUDIT_PAGE_SIZE = 2
    for number in range(3):
        _record(acme, f"paged-{number}")
    client = client_for("acme", "owner")
    first = [e.target_label for e in client.get(LIST, {"target": "paged"}).context["events"]]
    second = [
        e.target_label for e in client.get(LIST, {"target": "paged", "page": 2}).context["events"]
    ]
    assert (first, second) == (["paged-2", "paged-1"], ["paged-0"])


def test_detail_shows_the_diff_and_records_the_viewing(acme, client_for, acme_marker):
    head = stream_head(acme)
    response = client_for("acme", "owner").get(f"{LIST}{acme_marker.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    for shown_text in ("Old Name", "MARKER-acme-new-name", acme_marker.hash):
        assert shown_text in body
    assert [(e.event_name, e.target_type, e.target_id) for e in events_since(acme, head)] == [
        ("audit.event.viewed", "audit.auditevent", str(acme_marker.pk)),
    ]


def test_detail_of_a_missing_event_is_404_for_every_method(client_for):
    client = client_for("acme", "owner")
    assert client.get(f"{LIST}999999/").status_code == 404
    assert client.post(f"{LIST}999999/").status_code == 404


def test_csv_export_streams_the_filtered_set_and_is_recorded(acme, client_for, acme_marker):
    head = stream_head(acme)
    response = client_for("acme", "owner").get(
        EXPORT, {"target": "MARKER-acme-probe", "format": "csv"}
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-acme-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [
        (r["sequence"], r["event_name"], r["actor_email"], r["target_label"]) for r in rows
    ] == [
        (
            str(acme_marker.sequence),
            "member.role_changed",
            "admin@acme.example",
            "MARKER-acme-probe",
        ),
    ]
    assert rows[0]["hash"] == acme_marker.hash
    exported = events_since(acme, head)
    assert [(e.event_name, e.actor_email) for e in exported] == [
        ("audit.log.exported", "owner@acme.example")
    ]
    assert exported[0].additional_data["format"] == "csv"
    assert exported[0].additional_data["up_to_sequence"] == head


def test_jsonl_export_has_one_object_per_event(acme, client_for, acme_marker):
    response = client_for("acme", "owner").get(
        EXPORT, {"target": "MARKER-acme-probe", "format": "jsonl"}
    )
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["changes"] for line in lines] == [
        {"name": ["Old Name", "MARKER-acme-new-name"]}
    ]


def test_csv_cells_cannot_smuggle_spreadsheet_formulas(acme, client_for):
    from django.test import Client

    Client(HTTP_HOST="acme.localhost", HTTP_USER_AGENT="=HYPERLINK(1)").post(
        "/accounts/sign-in/", {"email": "=cmd@evil.example", "password": "whatever it is"}
    )
    response = client_for("acme", "owner").get(EXPORT, {"event_type": int(Event.SIGN_IN_FAILED)})
    text = b"".join(response.streaming_content).decode()
    assert ",'=HYPERLINK(1)," in text
    assert '"{""email"": ""=cmd@evil.example""}"' in text  # a JSON cell starts with {
    assert "\n=" not in text
    assert ",=" not in text


def test_export_times_are_the_chains_time_format(acme, client_for, acme_marker):
    from audit.chain import format_time

    response = client_for("acme", "owner").get(
        EXPORT, {"target": "MARKER-acme-probe", "format": "jsonl"}
    )
    (line,) = b"".join(response.streaming_content).decode().splitlines()
    assert json.loads(line)["time"] == format_time(acme_marker.timestamp)


def test_unknown_export_format_is_a_form_error(client_for):
    response = client_for("acme", "owner").get(EXPORT, {"format": "xml"})
    assert response.status_code == 400
    assert "format" in response.context["form"].errors
