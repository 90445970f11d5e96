"""docs/security.md's permission matrix must say exactly what the code enforces."""

from __future__ import annotations

from pathlib import Path

from vms.auth.permissions import ROLE_PERMISSIONS, Permission, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_documented_matrix_equals_the_enforced_one():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    header = next(line for line in DOC.read_text().splitlines() if line.startswith("| permission |"))
    roles = [Role(cell.strip()) for cell in header.strip("|").split("|")[1:]]
    documented = {role: set() for role in roles}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        permission = Permission(cells[0].strip("`"))
        for role, cell in zip(roles, cells[1:], strict=True):
            if cell == "yes":
                documented[role].add(permission)
    assert len(rows) == len(Permission)
    assert documented == {role: set(perms) for role, perms in ROLE_PERMISSIONS.items()}
