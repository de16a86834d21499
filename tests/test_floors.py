"""The floors below the business apps never name one, not even as a string.

import-linter (``make lint``) checks the imports between floors. An import is not the only
way to reach up, though: ``importlib.import_module("shop.demo")``, ``apps.get_app_config
("shop")`` or a model label ``"shop.Quote"`` in a lower floor would tie it to a business app
just as surely, and no import graph sees them. This test reads every string literal (not
docstrings, not comments) in the product code of the floors below the business apps and
refuses any that names a business app's module, app label or model.

The floors come from the layers contract in pyproject.toml, so a new business app placed
on the business floor is covered without editing this test.

One exception, on purpose: ``audit/events.py`` is the single published event vocabulary
(design.md, "Audit"), whose stable dotted names ("shop.quote.created") are what exports and
filters carry. They are names of events, not references to the app; nothing resolves them
to a module.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_NAMING = {"audit/events.py"}


def _floors() -> list[list[str]]:
    """The layers contract, lowest floor first, each floor as its list of packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [re.split(r"\s*[|:]\s*", layer.strip()) for layer in reversed(contract["layers"])]


def _business_and_lower() -> tuple[list[str], list[str]]:
    floors = _floors()
    rbac = next(i for i, floor in enumerate(floors) if "rbac" in floor)
    above = next(i for i, floor in enumerate(floors) if "exports" in floor)
    lower = [package for floor in floors[: rbac + 1] for package in floor]
    business = [package for floor in floors[rbac + 1 : above] for package in floor]
    return business, lower


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _product_files(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "/tests/" in f"/{relative}" or "/migrations/" in relative:
            continue
        yield relative, path


def naming_strings(source: str, business: list[str]) -> list[str]:
    """String literals in ``source`` that name one of the ``business`` apps."""
    pattern = re.compile(rf"^({'|'.join(map(re.escape, business))})(\.|:|$)")
    tree = ast.parse(source)
    skip = _docstrings(tree)
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and pattern.match(node.value.strip())
    ]


def test_the_contract_has_a_business_floor_between_rbac_and_exports():
    business, lower = _business_and_lower()
    assert "shop" in business
    assert {"kernel", "tenants", "audit", "accounts", "rbac"} <= set(lower)


def test_no_lower_floor_names_a_business_app():
    business, lower = _business_and_lower()
    offenders = [
        f"{relative}: {value!r}"
        for package in lower
        for relative, path in _product_files(package)
        if relative not in ALLOWED_NAMING
        for value in naming_strings(path.read_text(), business)
    ]
    assert offenders == []


def test_the_check_sees_the_ways_a_lower_floor_could_name_an_app():
    """The scanner itself: each of these would tie a lower floor to the shop."""
    source = '''
"""A docstring may say shop.models in prose."""
import importlib
importlib.import_module("shop.demo")
LABEL = "shop.Quote"
APP = "shop"
URL = "shop:company-detail"
NOT_IT = "shopping"
'''
    assert sorted(naming_strings(source, ["shop"])) == [
        "shop",
        "shop.Quote",
        "shop.demo",
        "shop:company-detail",
    ]
