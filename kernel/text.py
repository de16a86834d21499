"""What text the database can store, and the one check services run before they store it.

Invariants:

- PostgreSQL's text types cannot hold NUL (U+0000), and a lone surrogate (U+D800 to U+DFFF)
  has no UTF-8 encoding, so psycopg refuses either before the query is sent: left alone, such
  a value is a 500. Where it is refused instead:
  - request input (every query parameter, form field name and upload name): a 400 from
    :class:`kernel.middleware.UnstorableInputMiddleware`;
  - posted form values: a field error from the form (every Django text form field carries
    ``ProhibitNullCharactersValidator``; a request body cannot carry a lone surrogate, since
    Django decodes it with ``errors="replace"``);
  - anything a service is about to store, from a page, a task or a command:
    :func:`text_fields_check`, which services call before they save; an import's records
    are checked as they are read (``exports.reader``).
- Every text column has a length limit: a CharField's is its column's; a TextField's is its
  ``max_length``, which the database does not enforce and Django passes only to the form
  field built from the model: :func:`text_fields_check` enforces it for services.
  ``tests/test_text_limits.py`` fails on a TextField without one.

The error messages are Django's own words for the same rules (the forms' validators), so a
refusal reads the same whether a form or a service made it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models

# NUL, and the surrogate code points (which only appear in a str unpaired).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

TEXT_NUL = ProhibitNullCharactersValidator.message  # "Null characters are not allowed."
TEXT_UNSTORABLE = "Remove the broken character (an unpaired surrogate): it cannot be saved."


def text_storable(value: str) -> bool:
    """Whether PostgreSQL can store ``value`` as text."""
    return _UNSTORABLE.search(value) is None


def text_unstorable_message(value: str) -> str | None:
    """Why ``value`` cannot be stored (the message a person sees), or None if it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return str(TEXT_NUL) if found.group() == "\x00" else TEXT_UNSTORABLE


def text_too_long_message(limit: int, length: int) -> str:
    """Django's words for a value over its limit, as the form field says them."""
    return str(MaxLengthValidator(limit).message % {"limit_value": limit, "show_value": length})


def text_fields_check(record: models.Model, fields: list[str] | None = None) -> None:
    """Refuse ``record`` (ValidationError naming each field) if one of its text fields holds
    a character PostgreSQL cannot store or is longer than the field's ``max_length``.

    ``fields`` limits the check to those field names (default: every CharField and TextField
    of the model). Call it before saving, inside the service's transaction."""
    errors: dict[str, list[str]] = {}
    for field in record._meta.concrete_fields:
        if not isinstance(field, models.CharField | models.TextField):
            continue
        if fields is not None and field.name not in fields:
            continue
        value = getattr(record, field.attname)
        if not isinstance(value, str):
            continue
        unstorable = text_unstorable_message(value)
        if unstorable is not None:
            errors.setdefault(field.name, []).append(unstorable)
        if field.max_length is not None and len(value) > field.max_length:
            errors.setdefault(field.name, []).append(
                text_too_long_message(field.max_length, len(value))
            )
    if errors:
        raise ValidationError(errors)


def record_check(record: models.Model, *, exclude: Sequence[str] = ()) -> None:
    """A service's field-level check of ``record`` before it is saved: first what PostgreSQL
    could not store at all and every text field's limit, TextFields' included
    (:func:`text_fields_check`), then Django's own field validation (lengths, formats,
    digits), so bad input never reaches the database. Uniqueness and constraints are left to
    the service's own rules and the database."""
    text_fields_check(record)
    record.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
