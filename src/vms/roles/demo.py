"""First run of the single box, so `make run` ends with something to sign in to and watch.

Creates, only when the database has no users: a provider admin, a demo customer licensed for all
ten AI models, that customer's Admin, and a simulated camera — a clip generated on the spot
(moving shapes, H.264 720p, keyframe every second) that the ingest role plays in real time, in a
loop, so recording and AI jobs run from the first minute. Passwords are random, printed once and
written to `<data_dir>/first-sign-in.txt` (mode 600).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
from sqlalchemy import func, select

from vms.auth import users
from vms.auth.models import User
from vms.auth.permissions import Role
from vms.auth.schemas import UserCreate
from vms.bootstrap import Container
from vms.cameras.models import Camera
from vms.cameras.probe import StreamInfo
from vms.kernel.ai_models import AiModel
from vms.kernel.clock import utcnow
from vms.kernel.tenancy import TenantScope
from vms.tenants import service as tenants
from vms.tenants.schemas import CustomerCreate, LicenseWrite
from vms.uow import Actor


@dataclass(frozen=True)
class Credentials:
    """An account created for the first sign-in."""

    label: str
    email: str
    password: str


def new_password() -> str:
    """A random password that meets the policy."""
    return f"Vms-{secrets.token_urlsafe(12)}-9a"


async def ensure_first_accounts(container: Container) -> list[Credentials]:
    """Create the first accounts if there are no users yet; return what was created."""
    async with container.unit_of_work(TenantScope.platform(), Actor.system("first-run")) as uow:
        if (await uow.session.execute(select(func.count()).select_from(User))).scalar_one():
            return []
        kit = container.identity
        provider = Credentials("Provider admin", "provider@vms.example", new_password())
        await users.create_user(
            uow=uow,
            kit=kit,
            tenant_id=None,
            data=UserCreate(
                email=provider.email, role=Role.PROVIDER_ADMIN, full_name="Provider Admin", password=provider.password
            ),
        )
        now = utcnow()
        customer = await tenants.create_customer(
            uow=uow,
            data=CustomerCreate(
                name="Demo Customer",
                license=LicenseWrite(
                    camera_limit=16,
                    edge_server_limit=1,
                    valid_from=now,
                    valid_until=now + timedelta(days=365),
                    models=list(AiModel),
                ),
            ),
        )
        admin = Credentials("Demo customer admin", "admin@demo.example", new_password())
        await users.create_user(
            uow=uow,
            kit=kit,
            tenant_id=customer.id,
            data=UserCreate(email=admin.email, role=Role.ADMIN, full_name="Demo Admin", password=admin.password),
        )
        clip = await asyncio.to_thread(make_demo_clip, container.settings.data_dir / "demo" / "camera.mp4")
        uow.add(
            Camera(
                tenant_id=customer.id,
                name="Demo camera (simulated)",
                main_url=clip.resolve().as_uri(),
                manufacturer="VMS demo",
                enabled_models=[AiModel.MOTION.value, AiModel.TAMPERING.value],
                model_streams={AiModel.MOTION.value: "main", AiModel.TAMPERING.value: "main"},
                main_stream=StreamInfo(
                    codec="h264", width=1280, height=720, fps=25, bitrate_kbps=1500, gop_s=1.0
                ).model_dump(mode="json"),
            )
        )
        await uow.commit()
    created = [provider, admin]
    _write_note(container.settings.data_dir / "first-sign-in.txt", created)
    return created


def make_demo_clip(path: Path, *, seconds: int = 30, width: int = 1280, height: int = 720, fps: int = 25) -> Path:
    """Encode the demo camera's footage once (a few seconds of CPU): shapes moving over a gradient."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".part.mp4")
    background = np.zeros((height, width, 3), np.uint8)
    background[..., 2] = np.linspace(40, 160, width, dtype=np.uint8)[None, :]
    background[..., 1] = np.linspace(30, 90, height, dtype=np.uint8)[:, None]
    with av.open(str(temp), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = fps  # a keyframe every second: segments cut cleanly at 5 s
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i in range(seconds * fps):
            frame = background.copy()
            x = int((width - 120) * (0.5 + 0.5 * math.sin(i / 40)))
            frame[height // 2 - 60 : height // 2 + 60, x : x + 120] = (230, 200, 40)  # a "person" crossing
            frame[40:60, 40 : 40 + (i % fps) * (width - 80) // fps] = 255  # a one-second sweep
            video = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    temp.replace(path)
    return path


def _write_note(path: Path, created: list[Credentials]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{c.label}: {c.email} / {c.password}\n" for c in created))
    path.chmod(0o600)
