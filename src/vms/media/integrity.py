"""Recording integrity: per-camera coverage and gaps, retention-job liveness, a "disk full in N hours"
forecast from the measured write rate, the figures for metrics, and an alert hook.

>>> status = await check_integrity(uow=uow, now=utcnow(), disk_usage=usage, alert=notify)
>>> status.forecast.hours_until_full
31.5
>>> integrity_metrics(status)["vms_recording_disk_full_hours"]
31.5
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import func, select

from vms.media.models import RetentionRun, Segment
from vms.media.retention import DEFAULT_INTERVAL, DiskUsage
from vms.media.service import GapReport, gap_report
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)

FORECAST_WINDOW = timedelta(hours=6)  # write rate measured over the recent past
FORECAST_ALERT_HOURS = 24.0  # alert when the disk is forecast to fill sooner than this


# --- the recording index, as the API pages it ---------------------------------------------------


async def segment_page(
    *,
    uow: UnitOfWork,
    camera_id: uuid.UUID,
    start: datetime,
    end: datetime,
    stream: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Segment], int]:
    """Segments of a camera overlapping [start, end), oldest first, one page and the total."""
    stmt = (
        select(Segment)
        .where(Segment.camera_id == camera_id, Segment.started_at < end, Segment.ended_at > start)
        .order_by(Segment.started_at, Segment.stream, Segment.id)
    )
    if stream is not None:
        stmt = stmt.where(Segment.stream == stream)
    return await uow.page(stmt, limit=limit, offset=offset)


async def coverage(
    *, uow: UnitOfWork, camera_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, GapReport]:
    """Each camera's gap report over [start, end) (main stream)."""
    return {cam: await gap_report(uow=uow, camera_id=cam, start=start, end=end) for cam in camera_ids}


# --- liveness and forecast -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionLiveness:
    """Whether the retention job has finished a run recently (within twice its interval)."""

    last_finished_at: datetime | None
    last_error: str | None
    interval_s: float
    age_s: float | None

    @property
    def alive(self) -> bool:
        """False when no run finished within 2× the interval (or none ever did)."""
        return self.age_s is not None and self.age_s <= 2 * self.interval_s


async def retention_liveness(
    *, uow: UnitOfWork, now: datetime, interval: timedelta = DEFAULT_INTERVAL
) -> RetentionLiveness:
    """When retention last finished, and whether that is recent enough."""
    finished = (
        await uow.session.execute(
            select(RetentionRun)
            .where(RetentionRun.finished_at.is_not(None))
            .order_by(RetentionRun.finished_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    latest = (
        await uow.session.execute(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(1))
    ).scalar_one_or_none()
    at = finished.finished_at if finished else None
    return RetentionLiveness(
        last_finished_at=at,
        last_error=latest.error if latest else None,
        interval_s=interval.total_seconds(),
        age_s=(now - at).total_seconds() if at else None,
    )


@dataclass(frozen=True, slots=True)
class DiskForecast:
    """Write rate, free space and when the disk fills at that rate (None: not filling, or unknown)."""

    write_bytes_per_s: float
    used_bytes: int | None
    total_bytes: int | None
    window_s: float

    @property
    def free_bytes(self) -> int | None:
        """Bytes left on the disk."""
        if self.used_bytes is None or self.total_bytes is None:
            return None
        return max(0, self.total_bytes - self.used_bytes)

    @property
    def hours_until_full(self) -> float | None:
        """Hours until the disk is full at the measured rate."""
        free = self.free_bytes
        if free is None or self.write_bytes_per_s <= 0:
            return None
        return free / self.write_bytes_per_s / 3600


def forecast_from(*, written_bytes: int, window: timedelta, used: int | None, total: int | None) -> DiskForecast:
    """The forecast for `written_bytes` written over `window` with the disk at `used` of `total`."""
    seconds = window.total_seconds()
    return DiskForecast(
        write_bytes_per_s=written_bytes / seconds if seconds > 0 else 0.0,
        used_bytes=used,
        total_bytes=total,
        window_s=seconds,
    )


async def disk_forecast(
    *, uow: UnitOfWork, now: datetime, disk_usage: DiskUsage | None, window: timedelta = FORECAST_WINDOW
) -> DiskForecast:
    """Forecast from the bytes of segments that started in the last `window` and the disk's usage now.

    Retention frees space too, but only once recordings age out; until then the write rate is the
    honest figure. Without a disk (object storage) there is no forecast.
    """
    written = (
        await uow.session.execute(
            select(func.coalesce(func.sum(Segment.bytes), 0)).where(Segment.started_at >= now - window)
        )
    ).scalar_one()
    used, total = disk_usage() if disk_usage is not None else (None, None)
    return forecast_from(written_bytes=int(written), window=window, used=used, total=total)


# --- alerts and metrics ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntegrityAlarm:
    """One problem worth waking someone for."""

    kind: str  # retention_stalled | disk_filling
    message: str
    value: float | None = None


class IntegrityAlert(Protocol):
    """Where alarms go (the watchdog's incidents and notifications, later).

    >>> async def alert(alarm: IntegrityAlarm) -> None:
    ...     await incidents.open(kind=alarm.kind, message=alarm.message)
    """

    async def __call__(self, alarm: IntegrityAlarm) -> None:
        """Raise the alarm."""
        ...


@dataclass(frozen=True, slots=True)
class IntegrityStatus:
    """Retention liveness, the disk forecast and the alarms they raised."""

    checked_at: datetime
    liveness: RetentionLiveness
    forecast: DiskForecast
    alarms: list[IntegrityAlarm] = field(default_factory=list)


async def check_integrity(
    *,
    uow: UnitOfWork,
    now: datetime,
    disk_usage: DiskUsage | None,
    alert: IntegrityAlert | None = None,
    interval: timedelta = DEFAULT_INTERVAL,
    window: timedelta = FORECAST_WINDOW,
    alert_hours: float = FORECAST_ALERT_HOURS,
) -> IntegrityStatus:
    """Check liveness and the forecast; call `alert` once per alarm."""
    liveness = await retention_liveness(uow=uow, now=now, interval=interval)
    forecast = await disk_forecast(uow=uow, now=now, disk_usage=disk_usage, window=window)
    alarms = []
    if not liveness.alive:
        when = f"last finished {liveness.age_s / 3600:.1f} h ago" if liveness.age_s is not None else "never finished"
        alarms.append(
            IntegrityAlarm(
                "retention_stalled",
                f"Retention has not run: {when} (expected every {interval.total_seconds() / 3600:g} h)."
                + (f" Last error: {liveness.last_error}" if liveness.last_error else ""),
                liveness.age_s,
            )
        )
    hours = forecast.hours_until_full
    if hours is not None and hours < alert_hours:
        alarms.append(
            IntegrityAlarm("disk_filling", f"Recording storage is forecast to be full in {hours:.1f} h.", hours)
        )
    for alarm in alarms:
        log.warning("integrity.alarm", kind=alarm.kind, message=alarm.message)
        if alert is not None:
            await alert(alarm)
    return IntegrityStatus(checked_at=now, liveness=liveness, forecast=forecast, alarms=alarms)


def integrity_metrics(status: IntegrityStatus) -> dict[str, float]:
    """The figures as gauge name → value, for a metrics scraper (Prometheus comes with the watchdog)."""
    figures = {
        "vms_retention_alive": 1.0 if status.liveness.alive else 0.0,
        "vms_recording_write_bytes_per_second": status.forecast.write_bytes_per_s,
        "vms_recording_alarms": float(len(status.alarms)),
    }
    if status.liveness.age_s is not None:
        figures["vms_retention_last_run_age_seconds"] = status.liveness.age_s
    if status.forecast.free_bytes is not None:
        figures["vms_recording_free_bytes"] = float(status.forecast.free_bytes)
    if status.forecast.hours_until_full is not None:
        figures["vms_recording_disk_full_hours"] = status.forecast.hours_until_full
    return figures
