"""Settings refuse unsafe production values; the CLI migrates, creates provider staff, seeds a first run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from vms import logs
from vms.auth.models import User
from vms.cli import app
from vms.kernel.tenancy import TenantScope
from vms.roles.demo import ensure_first_accounts
from vms.settings import Settings
from vms.uow import Actor


def test_production_refuses_the_development_jwt_secret():
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(env="production")


def test_production_refuses_the_development_encryption_key():
    with pytest.raises(ValueError, match="ENCRYPTION_KEY"):
        Settings(env="production", security={"jwt_secret": "p" * 40})  # type: ignore[arg-type]


def test_production_with_real_secrets_logs_json():
    settings = Settings(env="production", security={"jwt_secret": "p" * 40, "encryption_key": "k" * 40})  # type: ignore[arg-type]
    assert settings.json_logs is True
    assert Settings().json_logs is False


def test_nested_environment_variables_reach_the_tree(monkeypatch):
    monkeypatch.setenv("VMS_CACHE__KIND", "redis")
    monkeypatch.setenv("VMS_API__PORT", "9000")
    settings = Settings()
    assert (settings.cache.kind, settings.api.port) == ("redis", 9000)


def test_json_logs_carry_bound_ids(capsys):
    import structlog

    logs.configure(level="INFO", json_output=True)
    structlog.contextvars.bind_contextvars(request_id="r-1", tenant_id="t-1")
    structlog.get_logger("test").info("hello", camera_id="c-1")
    structlog.contextvars.clear_contextvars()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "hello"
    assert (line["request_id"], line["tenant_id"], line["camera_id"]) == ("r-1", "t-1", "c-1")
    logging.getLogger().handlers.clear()


def test_cli_migrates_and_creates_a_provider_admin(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VMS_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("VMS_SECURITY__ARGON2_MEMORY_KIB", "1024")
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    created = runner.invoke(
        app, ["admin", "create-provider-admin", "--email", "ops@provider.example", "--password", "Ops-Team-Pass-2026"]
    )
    assert created.exit_code == 0, created.output
    assert "ops@provider.example" in created.output
    weak = runner.invoke(
        app, ["admin", "create-provider-admin", "--email", "two@provider.example", "--password", "short"]
    )
    assert weak.exit_code == 1
    assert "at least" in weak.output
    logging.getLogger().handlers.clear()


async def test_first_run_creates_accounts_once_and_writes_them_down(container):
    created = await ensure_first_accounts(container)
    assert [c.email for c in created] == ["provider@vms.example", "admin@demo.example"]
    note = (container.settings.data_dir / "first-sign-in.txt").read_text()
    assert all(c.password in note for c in created)
    assert (container.settings.data_dir / "first-sign-in.txt").stat().st_mode & 0o077 == 0
    assert await ensure_first_accounts(container) == []
    async with container.unit_of_work(TenantScope.platform(), Actor.system()) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(User))).scalar_one() == 2
