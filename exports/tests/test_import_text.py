"""An archive whose records hold text the columns cannot take (a NUL, a lone surrogate, text
over the column's limit) is refused with the record's line, and nothing is created; the
export never writes such text, so only a hand-made or edited archive carries it."""

from __future__ import annotations

import json

import pytest

from exports.tests.test_verification import _assert_refused, _member, _replace_with_checksum
from shop.models import NOTES_MAX_LENGTH

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(acme, run_export, archive_copy):
    return archive_copy(run_export(acme), "good.zip")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("notes", "before\x00after", "holds a NUL character"),
        ("notes", "\ud800", "holds a character that cannot be stored"),
        ("notes", "n" * (NOTES_MAX_LENGTH + 1), f"is longer than {NOTES_MAX_LENGTH} characters"),
        ("name", "N" * 201, "is longer than 200 characters"),
    ],
)
def test_a_company_record_with_text_its_column_cannot_take_is_refused(
    archive, tmp_path, field, value, problem
):
    name = "data/shop.company.jsonl"
    lines = _member(archive, name).splitlines()
    first = json.loads(lines[0])
    first[field] = value
    data = b"\n".join([json.dumps(first).encode(), *lines[1:]]) + b"\n"
    bad = _replace_with_checksum(archive, tmp_path / "bad.zip", name, data)

    _assert_refused(
        bad,
        f"shop.company {first['id']} (record 1 of {name}) cannot be imported: its {field} "
        f"{problem}. Nothing was imported.",
        "--allow-foreign",
    )
