"""A misspelt capability is a type error: mypy refuses it wherever a capability is taken.

The run-time checks (``require``, the view declarations, the vocabulary check at import) stay
for what mypy does not see; the last tests here prove those. mypy reads only the snippet and
the modules that take a capability (everything they import is skipped), so it runs in seconds.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED_MODULES = ("kernel/capabilities.py", "kernel/decorators.py", "rbac/authz.py")

SNIPPET = textwrap.dedent(
    """
    from kernel.capabilities import QUOTES_VIEW, has_capability, require
    from kernel.decorators import require_capability
    from rbac.authz import authorize

    def valid(membership, tenant, typed_elsewhere: str) -> None:
        require(membership, QUOTES_VIEW)
        require(membership, "quotes:view")
        require_capability("public")
        authorize(tenant, membership, QUOTES_VIEW)

    def misspelt(membership, tenant, typed_elsewhere: str) -> None:
        require(membership, "quote:veiw")  # line 13
        has_capability(membership, "quotes:veiw")  # line 14
        require_capability("quotes:veiw")  # line 15
        authorize(tenant, membership, "quote:view")  # line 16
        require(membership, typed_elsewhere)  # line 17: any str is not a capability
    """
)


def _mypy_errors(tmp_path: Path) -> list[str]:
    from mypy import api as mypy_api  # here, not at collection: the fast tier never loads mypy

    snippet = tmp_path / "capability_snippet.py"
    snippet.write_text(SNIPPET)
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file=",  # no Django plugin: the snippet needs no settings
            "--python-version=3.11",
            "--follow-imports=skip",
            "--ignore-missing-imports",
            f"--cache-dir={tmp_path / 'mypy_cache'}",
            "--no-error-summary",
            "--hide-error-context",
            "--show-error-codes",
            str(snippet),
            *(str(ROOT / module) for module in CHECKED_MODULES),
        ]
    )
    assert not stderr, stderr
    return [line for line in stdout.splitlines() if line.strip()]


@pytest.mark.slow
def test_a_misspelt_capability_is_a_mypy_error_and_a_known_one_is_not(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # so mypy names the checked files as the kernel and rbac modules
    errors = _mypy_errors(tmp_path)

    flagged_lines = sorted(
        int(line.split(":")[1]) for line in errors if line.startswith(str(tmp_path))
    )
    assert flagged_lines == [13, 14, 15, 16, 17], errors
    assert all("[arg-type]" in line for line in errors), errors
    assert all(not line.startswith(str(ROOT)) for line in errors), errors
    assert any("Literal['quote:veiw']" in line for line in errors), errors


def test_a_misspelt_view_declaration_is_refused_when_the_view_is_declared():
    from kernel.decorators import require_capability

    with pytest.raises(ValueError, match="unknown capability 'quotes:veiw'"):
        require_capability("quotes:veiw")  # type: ignore[arg-type]


def test_a_constant_missing_from_the_type_stops_the_import(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from kernel import capabilities

    capabilities._vocabulary_check()  # the vocabulary as shipped agrees with itself
    monkeypatch.setattr(capabilities, "QUOTES_TELEPORT", "quotes:teleport", raising=False)
    with pytest.raises(ImproperlyConfigured, match="quotes:teleport"):
        capabilities._vocabulary_check()
