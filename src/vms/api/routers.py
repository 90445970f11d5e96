"""Every router of the versioned API, in one list."""

from __future__ import annotations

from fastapi import APIRouter

from vms.audit.api import router as audit
from vms.auth.api import customer_users
from vms.auth.api import router as auth
from vms.auth.api import users_router as users
from vms.cameras.api import groups_router as camera_groups
from vms.cameras.api import router as cameras
from vms.cameras.api import sites_router as sites
from vms.cameras.discovery_api import router as camera_discovery
from vms.cameras.ptz_api import router as camera_ptz
from vms.config.api import router as config
from vms.edge.api import router as edge
from vms.events.api import router as events
from vms.events.media_api import router as event_media
from vms.events.push_api import router as event_stream
from vms.media.api import router as recordings
from vms.media.backfill_api import router as recording_backfill
from vms.media.warnings_api import router as camera_warnings
from vms.stats.api import ops_router as ops
from vms.stats.api import statistics_router as statistics
from vms.streaming.export_api import exports_router as exports
from vms.streaming.live_api import router as live
from vms.streaming.playback_api import router as playback
from vms.tenants.api import own as account
from vms.tenants.api import router as customers
from vms.tickets.api import router as tickets
from vms.watchdog.api import router as incidents

V1_ROUTERS: list[APIRouter] = [
    auth,
    users,
    customers,
    customer_users,
    account,
    audit,
    sites,
    camera_discovery,  # before `cameras`: /cameras/discovery is not a camera id
    recording_backfill,
    cameras,
    camera_warnings,
    camera_ptz,
    camera_groups,
    config,
    recordings,
    playback,
    exports,
    event_stream,  # before `events`: /events/stream is not an event id
    event_media,
    events,
    tickets,
    edge,
    live,
    ops,
    incidents,
    statistics,
]
