"""`vms …` command line: serve, role, migrate, admin."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from vms import logs, migrations
from vms.settings import Settings

app = typer.Typer(
    help="VMS Platform: video management with AI analytics.", no_args_is_help=True, pretty_exceptions_enable=False
)
role_app = typer.Typer(help="Run one process role (cluster deployments).", no_args_is_help=True)
admin_app = typer.Typer(help="Administrative tasks.", no_args_is_help=True)
app.add_typer(role_app, name="role")
app.add_typer(admin_app, name="admin")


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError: show it, not a traceback
        typer.echo(f"Invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    logs.configure(level=settings.logging.level, json_output=settings.json_logs)
    return settings


@app.command()
def serve() -> None:
    """Run the whole single box: migrate, first-run accounts, the API and camera ingest."""
    from vms.bootstrap import build_container
    from vms.events.role import EventsRole
    from vms.roles import api
    from vms.roles.demo import ensure_first_accounts
    from vms.roles.ingest import IngestRole
    from vms.roles.retention import RetentionRole
    from vms.roles.supervisor import supervise
    from vms.tickets.sync import TicketSync
    from vms.watchdog.role import WatchdogRole

    settings = _settings()
    api.migrate_if_embedded(settings)

    async def main() -> None:
        container = build_container(settings)
        try:
            created = await ensure_first_accounts(container)
            url = f"http://{settings.api.host}:{settings.api.port}"
            lines = [f"VMS Platform is starting on {url}  (API docs: {url}/docs)"]
            if created:
                lines.append(f"First run: these accounts were created (also in {settings.data_dir}/first-sign-in.txt):")
                lines += [f"  {c.label:<20} {c.email:<22} password: {c.password}" for c in created]
            else:
                lines.append(
                    f"Sign in with your account; first-run passwords are in {settings.data_dir}/first-sign-in.txt"
                )
            lines.append("Sign-in asks you to enrol an authenticator app (TOTP) the first time.")
            # The single box: the API beside the background roles (ingest of every camera, events,
            # retention, ticket sync, the watchdog) in this process, and the analytics worker as a
            # supervised child process; when the API stops (Ctrl+C), everything stops with it.
            roles: dict[str, Any] = {
                "events": EventsRole(container),
                "retention": RetentionRole(container),
                "tickets": TicketSync(container),
            }
            if settings.watchdog.enabled:
                roles["watchdog"] = WatchdogRole(container)
            shards = settings.ingest.processes
            if shards == 1:
                roles["ingest"] = IngestRole(container)
            # Each role beats on its own: one that crashes stops beating while the API lives on.
            background = [asyncio.create_task(_beating_role(container, name, role)) for name, role in roles.items()]
            background.append(asyncio.create_task(supervise(["role", "worker", "--models", "all"], name="worker")))
            if shards > 1:  # supervised ingest processes, each recording its share of the cameras
                for i in range(shards):
                    child = ["role", "ingest", "--shard", f"{i}/{shards}"]
                    background.append(asyncio.create_task(supervise(child, name=f"ingest {i}/{shards}")))
            try:
                await api.serve(container, banner="\n".join(lines))
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
        finally:
            await container.close()

    asyncio.run(main())


async def _beating_role(container: Any, name: str, role: Any) -> None:
    """Run one of the single box's in-process roles, beating its heartbeat while it runs."""
    from vms.stats.board import beating

    async with beating(container.bus, container.metrics, role=name, detail=getattr(role, "heartbeat_detail", "")):
        await role.run()


@role_app.command("api")
def role_api() -> None:
    """Serve the HTTP API only."""
    from vms.roles import api

    settings = _settings()
    api.migrate_if_embedded(settings)
    asyncio.run(api.run(settings))


def _run_background_role(name: str, make_role: Any) -> None:
    """Build the container, run one background role until interrupted (beating its heartbeat as `name`,
    serving its metrics when VMS_METRICS__PORT is set), close the container."""
    from vms.bootstrap import build_container
    from vms.roles import api
    from vms.roles.metrics_server import metrics_endpoint
    from vms.stats.board import beating

    settings = _settings()
    api.migrate_if_embedded(settings)

    async def main() -> None:
        container = build_container(settings)
        try:
            role = make_role(container)
            detail = getattr(role, "heartbeat_detail", "")
            async with metrics_endpoint(container), beating(container.bus, container.metrics, role=name, detail=detail):
                await role.run()
        finally:
            await container.close()

    from vms.kernel.errors import VmsError

    try:
        asyncio.run(main())
    except VmsError as exc:  # a taken metrics port, an unknown model: say so, no traceback
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc


@role_app.command("ingest")
def role_ingest(
    shard: Annotated[
        str, typer.Option(help="I/N: record only the cameras whose id modulo N is I (N ingest processes share them).")
    ] = "0/1",
) -> None:
    """Record every enabled camera (or this shard's share) and publish its AI jobs."""
    from vms.roles.ingest import IngestRole, Shard

    try:
        share = Shard.parse(shard)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shard") from exc
    _run_background_role("ingest", lambda container: IngestRole(container, shard=share))


@role_app.command("worker")
def role_worker(
    models: Annotated[str, typer.Option(help="Comma-separated model keys, or 'all' for every available one.")] = "all",
) -> None:
    """Run analytics models on the video jobs."""
    from vms.roles.worker import WorkerRole

    _run_background_role("worker", lambda container: WorkerRole(container, models=models))


@role_app.command("events")
def role_events() -> None:
    """Turn detections into events (correlation, dedup, suppression)."""
    from vms.events.role import EventsRole

    _run_background_role("events", EventsRole)


@role_app.command("retention")
def role_retention() -> None:
    """Apply recording retention every hour (age, watermarks, holds)."""
    from vms.roles.retention import RetentionRole

    _run_background_role("retention", RetentionRole)


@role_app.command("tickets")
def role_tickets() -> None:
    """Deliver tickets to customers' trackers (ServiceNow, Jira) and sync their status."""
    from vms.tickets.sync import TicketSync

    _run_background_role("tickets", TicketSync)


@role_app.command("watchdog")
def role_watchdog() -> None:
    """Watch heartbeats, SLAs, lag, cameras and storage; open and resolve incidents."""
    from vms.watchdog.role import WatchdogRole

    _run_background_role("watchdog", WatchdogRole)


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="Target revision.")] = "head") -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    migrations.upgrade(settings.database.url, revision)
    typer.echo(f"Database at {revision}.")


@admin_app.command("create-provider-admin")
def create_provider_admin(
    email: Annotated[str, typer.Option(help="Email to sign in with.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    full_name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a provider staff account (platform role) that manages customers."""
    from vms.auth import users
    from vms.auth.permissions import Role
    from vms.auth.schemas import UserCreate
    from vms.bootstrap import build_container
    from vms.kernel.errors import VmsError
    from vms.kernel.tenancy import TenantScope
    from vms.uow import Actor

    settings = _settings()

    async def main() -> None:
        container = build_container(settings)
        try:
            async with container.unit_of_work(TenantScope.platform(), Actor.system("cli")) as uow:
                data = UserCreate(email=email, password=password, role=Role.PROVIDER_ADMIN, full_name=full_name)
                user = await users.create_user(uow=uow, kit=container.identity, tenant_id=None, data=data)
                await uow.commit()
            typer.echo(f"Created provider admin {user.email} ({user.id}); MFA enrolment happens at first sign-in.")
        finally:
            await container.close()

    try:
        asyncio.run(main())
    except (VmsError, ValueError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
