"""Bounded, seeded malformed input for the fuzz sweep (tests/test_fuzz_sweep.py).

What a page offers is read from its HTML (``forms_on_page``): every ``<form>``, its method,
action and fields, each field with its kind (text, email, number, date, select, checkbox,
file, hidden...) and the value a browser would send. ``baseline`` fills the form as a careful
person would, so a submission that changes only one or two fields gets past the other fields'
validation and reaches the service; ``malformed`` picks what an attacker or a broken client
sends instead. Bodies are encoded by hand (``urlencoded``) because the test client cannot
encode a lone surrogate: the percent-encoded bytes of one (``%ED%A0%80``) are what a client
can really send.

Everything here is deterministic for a given ``random.Random`` seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

from django.utils import timezone

# A value sent as raw percent-encoded bytes instead of being encoded: the UTF-8 encoding of a
# lone surrogate (which no valid UTF-8 contains), a NUL byte, and an overlong "/".
RAW = "\x00raw:"


def raw(encoded: str) -> str:
    return RAW + encoded


def _is_raw(value: str) -> bool:
    return value.startswith(RAW)


# Categories of malformed values. None of these is a valid workspace address, so a sign-up
# with an otherwise valid form never provisions a workspace (that costs a schema clone).
HUGE_LENGTHS = (256, 1_001, 10_001, 100_001)
MALFORMED: dict[str, tuple[str, ...]] = {
    "empty": ("", " ", "\t\n"),
    "unicode": (
        "\u202eTXT.EXE\u202c RTL override",
        "مرحبا بالعالم",
        "שלום עולם",
        "👍🏽🧾 Emoji 🇩🇪",
        "e\u0301\u0301\u0301 Zalgo",
        "\ufeffBOM \u200bzero\u200dwidth",
        "\U0001d518\U0001d52b\U0001d526 \uff26\uff35\uff2c\uff2c (fraktur, fullwidth)",
    ),
    "control": (
        "A\x01B\x02C\x1b[31mD",
        "Line\r\nBreak\rAlone",
        "\x7fDEL\x08BS",
        "Tab\tTab\x0b\x0c",
    ),
    "nul": ("\x00", "A\x00B", "Trailing NUL\x00"),
    "surrogate": (raw("%ED%A0%80"), raw("A%ED%B0%80B"), raw("%C0%AF%FF%FE")),
    "wrong_type": (
        "Not A Number",
        "1E999",
        "NaN",
        "-Infinity",
        "0x1F",
        "12,5",
        "1.5.5",
        "[]",
        "{'A': 1}",
        "NULL",
        "True",
        "١٢٣",
        "-0",
        "1" * 40,
    ),
    "bad_date": (
        "2025-02-30",
        "2025-13-01",
        "0000-00-00",
        "10000-01-01",
        "31/12/2025",
        "Yesterday",
        "2025-1-1T25:61",
    ),
    "bad_id": ("-1", "0", "99999999999999999999", "1.0", "1;DROP TABLE X", "' OR 1=1 --"),
}
CATEGORIES = (*MALFORMED, "huge")


def malformed(rng: random.Random, category: str | None = None) -> str:
    category = category or rng.choice(CATEGORIES)
    if category == "huge":
        length = rng.choice(HUGE_LENGTHS)
        return (rng.choice(("X", "é", "字", "A B ")) * length)[:length]
    return rng.choice(MALFORMED[category])


# --- Reading the forms of a page -----------------------------------------------------------


@dataclass
class FormField:
    name: str
    kind: str  # the input type, "select", "textarea" or "button"
    value: str = ""
    options: list[str] = field(default_factory=list)  # a select's option values
    checked: bool = False


@dataclass
class PageForm:
    page: str
    action: str  # the path (and query) it submits to, resolved against the page
    method: str  # "get" or "post"
    multipart: bool
    fields: list[FormField]

    @property
    def path(self) -> str:
        return urlsplit(self.action).path


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: FormField | None = None
        self._textarea: FormField | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urljoin(f"http://host{self.page}", attributes.get("action") or self.page)
            parts = urlsplit(action)
            self._form = PageForm(
                page=self.page,
                action=parts.path + (f"?{parts.query}" if parts.query else ""),
                method=(attributes.get("method") or "get").lower(),
                multipart="multipart" in attributes.get("enctype", ""),
                fields=[],
            )
            self.forms.append(self._form)
            return
        if tag == "option" and self._select is not None:
            self._select.options.append(attributes.get("value", ""))
            if "selected" in attributes:
                self._select.value = attributes.get("value", "")
            return
        if self._form is None or not attributes.get("name"):
            return
        name = attributes["name"]
        if tag == "input":
            kind = attributes.get("type", "text").lower()
            self._form.fields.append(
                FormField(
                    name=name,
                    kind=kind,
                    value=attributes.get("value", "on" if kind == "checkbox" else ""),
                    checked="checked" in attributes,
                )
            )
        elif tag == "button":
            self._form.fields.append(FormField(name, "button", attributes.get("value", "")))
        elif tag == "select":
            self._select = FormField(name, "select")
            self._form.fields.append(self._select)
        elif tag == "textarea":
            self._textarea = FormField(name, "textarea")
            self._form.fields.append(self._textarea)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def forms_on_page(html: str, page: str) -> list[PageForm]:
    parser = _FormParser(page)
    parser.feed(html)
    return parser.forms


# --- Filling them in -----------------------------------------------------------------------

PASSWORD_FIELD_WORDS = ("password",)


def baseline(form: PageForm, *, password: str) -> list[tuple[str, str]]:
    """What a careful person submits: existing values kept, empty ones filled sensibly.
    Buttons are left out (a form with several names its action by the one pressed)."""
    pairs: list[tuple[str, str]] = []
    radios_done: set[str] = set()
    for item in form.fields:
        if item.kind in ("button", "submit", "image", "reset", "file"):
            continue
        if item.kind == "checkbox":
            pairs.append((item.name, item.value or "on"))  # confirmations must be ticked
        elif item.kind == "radio":
            if item.name not in radios_done:
                radios_done.add(item.name)
                pairs.append((item.name, item.value))
        elif item.kind == "select":
            chosen = item.value or next((o for o in item.options if o), "")
            pairs.append((item.name, chosen))
        elif item.value:
            pairs.append((item.name, item.value))
        else:
            pairs.append((item.name, _sensible(item, password=password)))
    return pairs


def _sensible(item: FormField, *, password: str) -> str:
    name = item.name.lower()
    if item.kind == "password" or any(word in name for word in PASSWORD_FIELD_WORDS):
        return password
    if item.kind == "email" or "email" in name:
        return "fuzz.person@example.com"
    if item.kind == "number" or name.endswith(("quantity", "price", "rate", "hours", "minutes")):
        return "1"
    if item.kind == "date" or name.endswith(("date", "until")):
        return timezone.localdate().isoformat()
    if "code" in name:
        return "123456"
    return "Fuzz Text"


def urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` with RAW values sent as the bytes they name."""
    parts = []
    for key, value in pairs:
        encoded_key = key[len(RAW) :] if _is_raw(key) else quote(key, safe="")
        encoded = value[len(RAW) :] if _is_raw(value) else quote(value, safe="")
        parts.append(f"{encoded_key}={encoded}")
    return "&".join(parts).encode("ascii")


def multipart_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The test client's multipart encoder takes a dict of lists (RAW values as text)."""
    data: dict[str, list[str]] = {}
    for key, value in pairs:
        data.setdefault(key, []).append(value[len(RAW) :] if _is_raw(value) else value)
    return data


def mutate(
    rng: random.Random, pairs: list[tuple[str, str]], *, how_many: int | None = None
) -> tuple[list[tuple[str, str]], str]:
    """``pairs`` with some values malformed, maybe an unknown field or a repeated key; returns
    the new pairs and a short description of what changed (for the failure report)."""
    changed = list(pairs)
    notes = []
    if changed:
        count = how_many if how_many is not None else len(changed)
        for index in rng.sample(range(len(changed)), min(count, len(changed))):
            category = rng.choice(CATEGORIES)
            key, _ = changed[index]
            changed[index] = (key, malformed(rng, category))
            notes.append(f"{key}={category}")
    if rng.random() < 0.3:
        extra = rng.choice(("zz_unknown", "id", "pk", "tenant", "role", "is_active", raw("%00")))
        changed.append((extra, malformed(rng)))
        notes.append(f"+{extra!r}")
    if changed and rng.random() < 0.3:
        key, _ = rng.choice(changed)
        changed.append((key, malformed(rng)))
        notes.append(f"repeat {key}")
    return changed, ", ".join(notes)


# The input kinds a person types text into.
TEXT_KINDS = frozenset({"text", "textarea", "email", "search", "tel", "url", "password"})

# Page numbers and sorts a list cannot use: it shows a page anyway (200) or says why (400).
PAGING_QUERIES = (
    "page=-1",
    "page=0",
    "page=99999",
    "page=99999999999999999999",
    "page=1.5",
    "sort=;drop",
    "sort=-",
    "sort=__class__",
)
# Query strings every list page gets, besides its own search and filter fields malformed.
ODD_QUERIES = (
    *PAGING_QUERIES,
    "page=%00",
    "q=" + "A" * 5_000,
    "q=%00",
    "q=%ED%A0%80",
    "q=%25%5F%5C",
    "status=%00",
    "status=" + "x" * 300,
    "q=a&q=b&page=2&page=x",
    "%00=1",
    "q",
    "&&&==&",
)
