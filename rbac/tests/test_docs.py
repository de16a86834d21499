"""docs/roles.md shows exactly the map the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from kernel.capabilities import ALL_CAPABILITIES, ROLE_CAPABILITIES
from kernel.roles import Role

DOC = Path(settings.BASE_DIR) / "docs" / "roles.md"
_ROW = re.compile(r"^\|\s*`(?P<capability>[a-z_]+:[a-z_]+)`\s*\|(?P<cells>.*)\|\s*$")


def _doc_matrix() -> tuple[list[str], dict[str, set[str]]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| Capability |"))
    labels = [cell.strip() for cell in header.strip().strip("|").split("|")][1:]
    by_label = {role.label: role.value for role in Role}
    roles = [by_label[label] for label in labels]
    matrix: dict[str, set[str]] = {role: set() for role in roles}
    seen = []
    for line in lines:
        match = _ROW.match(line)
        if not match:
            continue
        capability = match["capability"]
        seen.append(capability)
        cells = [cell.strip() for cell in match["cells"].split("|")]
        assert len(cells) == len(roles), f"row {capability} has {len(cells)} cells"
        for role, cell in zip(roles, cells, strict=True):
            assert cell in ("✓", ""), f"{capability}/{role}: unexpected cell {cell!r}"
            if cell == "✓":
                matrix[role].add(capability)
    assert len(seen) == len(set(seen)), "a capability is listed twice"
    assert set(seen) == ALL_CAPABILITIES
    return roles, matrix


def test_docs_roles_table_lists_exactly_the_enforced_map():
    roles, matrix = _doc_matrix()
    assert sorted(roles) == sorted(role.value for role in Role)
    for role in Role:
        assert matrix[role.value] == set(ROLE_CAPABILITIES[role]), role
