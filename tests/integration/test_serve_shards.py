"""`vms serve` with VMS_INGEST__PROCESSES=2: the single box runs two supervised ingest shards, the demo
camera is recorded by one of them, and stopping the box stops every child."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def children_of(pid: int) -> dict[int, str]:
    """Running processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def segments(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM segments").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_two_ingest_shards_record_the_demo_camera_and_stop_with_the_box(tmp_path: Path):
    env = {
        **os.environ,
        "VMS_DATA_DIR": str(tmp_path),
        "VMS_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/vms.db",
        "VMS_STORAGE__ROOT": str(tmp_path / "blobs"),
        "VMS_API__PORT": str(free_port()),
        "VMS_INGEST__PROCESSES": "2",
        "VMS_SECURITY__ARGON2_MEMORY_KIB": "1024",
    }
    box = subprocess.Popen(
        [sys.executable, "-m", "vms", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        shards: list[str] = []
        recorded = 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (len(shards) == 2 and recorded):
            time.sleep(0.5)
            assert box.poll() is None, "vms serve exited"
            shards = sorted(c for c in children_of(box.pid).values() if "role ingest" in c)
            recorded = segments(tmp_path / "vms.db")
        assert [c.split("--shard ")[1].strip() for c in shards] == ["0/2", "1/2"], shards
        assert recorded, "the demo camera was not recorded within 90 s"
        children = children_of(box.pid)
    finally:
        box.send_signal(signal.SIGINT)  # Ctrl+C
        box.wait(30)
    time.sleep(1.0)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a child outlived the box"
