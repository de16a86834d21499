"""The tier lists in conftest.py name tests that exist, so a rename cannot silently move a
sweep into the fast tier (a pure check: no database)."""

from __future__ import annotations

import ast

from conftest import (
    NEEDS_SERVICES_WITHOUT_DB,
    REAL_CLONE_MODULES,
    ROOT,
    SLOW_TESTS,
    SWEEP_MODULES,
    SWEEP_TESTS,
)


def _test_functions(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_module_named_in_a_tier_list_exists():
    for path in SWEEP_MODULES | NEEDS_SERVICES_WITHOUT_DB | REAL_CLONE_MODULES:
        assert (ROOT / path).is_file(), path


def test_every_test_named_in_a_tier_list_exists():
    for name in SWEEP_TESTS | SLOW_TESTS:
        path, function = name.split("::")
        assert function in _test_functions(path), name
