"""Guards of the dependency direction (DESIGN.md §3): roles → api → domain services → ports ← adapters.

Walks every module's imports with `ast`, so a violation fails here before it spreads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "vms"
DOMAINS = {
    "tenants",
    "auth",
    "audit",
    "cameras",
    "config",
    "media",
    "streaming",
    "analytics",
    "events",
    "notifications",
    "tickets",
    "integrations",
    "watchdog",
    "stats",
    "edge",
    "network",
    "calculator",
}
FRAMEWORKS = {"fastapi", "starlette", "uvicorn"}
ENGINE_DRIVERS = {
    "asyncpg",
    "aiosqlite",
    "psycopg",
    "redis",
    "pymongo",
    "motor",
    "aiokafka",
    "confluent_kafka",
    "boto3",
    "botocore",
    "aiobotocore",
}
MAY_NAME_ADAPTERS = {"bootstrap.py", "migrations/env.py"}


def _modules() -> list[tuple[str, set[str]]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Import):
                imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imports.add(node.module)
        found.append((rel, imports))
    return found


MODULES = _modules()


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_walk_sees_the_package():
    names = {rel for rel, _ in MODULES}
    assert {"bootstrap.py", "kernel/orm.py", "auth/service.py", "api/app.py"} <= names


@pytest.mark.parametrize(("rel", "imports"), MODULES, ids=[rel for rel, _ in MODULES])
def test_only_bootstrap_names_adapters(rel: str, imports: set[str]):
    if rel.startswith("adapters/") or rel in MAY_NAME_ADAPTERS:
        return
    assert not [i for i in imports if i.startswith("vms.adapters")], f"{rel} imports an adapter; go through a port"


@pytest.mark.parametrize(("rel", "imports"), MODULES, ids=[rel for rel, _ in MODULES])
def test_engine_drivers_stay_inside_adapters(rel: str, imports: set[str]):
    if rel.startswith("adapters/"):
        return
    assert not {_top(i) for i in imports} & ENGINE_DRIVERS, f"{rel} imports an engine driver"


@pytest.mark.parametrize(("rel", "imports"), MODULES, ids=[rel for rel, _ in MODULES])
def test_domain_logic_does_not_import_the_web_framework(rel: str, imports: set[str]):
    parts = rel.split("/")
    if parts[0] not in DOMAINS or parts[-1] == "api.py" or parts[-1].endswith("_api.py"):
        return  # routes: api.py, or <topic>_api.py where one domain has several route modules
    assert not {_top(i) for i in imports} & FRAMEWORKS, f"{rel}: only a domain's (*_)api.py may use the web framework"
    assert not [i for i in imports if i.startswith("vms.api")], f"{rel}: domain logic must not depend on the api layer"


@pytest.mark.parametrize(("rel", "imports"), MODULES, ids=[rel for rel, _ in MODULES])
def test_kernel_depends_on_nothing_of_ours(rel: str, imports: set[str]):
    if not rel.startswith("kernel/"):
        return
    ours = [i for i in imports if i.startswith("vms.") and not i.startswith("vms.kernel")]
    assert not ours, f"{rel} imports {ours}; the kernel sits under everything"


def test_domains_never_read_each_others_tables():
    """Domains talk through services (or the bus), never through another domain's models."""
    offenders = []
    for rel, imports in MODULES:
        domain = rel.split("/")[0]
        if domain not in DOMAINS:
            continue
        for name in imports:
            parts = name.split(".")
            foreign_domain = len(parts) >= 3 and parts[0] == "vms" and parts[1] in DOMAINS and parts[1] != domain
            if foreign_domain and parts[2] == "models":
                offenders.append(f"{rel} -> {name}")
    assert not offenders, offenders
