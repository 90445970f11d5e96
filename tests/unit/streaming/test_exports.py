"""MP4 exports: stream copy in the background with progress, a playable file of the right length,
resumable (Range) download through a signed URL, evidence holds, and 4xx for bad requests."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import factories
from tests.unit.streaming.recorded import cut_clip, record_run, run_tool, seconds_ago
from tests.unit.streaming.test_delivery_api import CountingBlobs
from vms.auth.permissions import Role
from vms.ports import AuditQuery
from vms.streaming import export as export_module

API = "/api/v1"


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory):
    return cut_clip(tmp_path_factory.mktemp("clips"), width=640, height=360)


@pytest.fixture
async def world(container, client, tmp_path: Path, pieces):
    """Customer A's camera recorded t0..t0+12 s, a 20 s gap, t0+32..t0+44 s; a supervisor each in A and B."""
    a, b = await factories.customer(container), await factories.customer(container)
    cam = await factories.camera(container, tenant_id=a.id)
    t0 = seconds_ago(3600)
    common = {"tenant_id": a.id, "camera_id": cam.id, "stream": "main", "pieces": pieces, "work": tmp_path / "w"}
    end = await record_run(container, **common, start=t0, first_sequence=0)
    await record_run(container, **common, start=end + timedelta(seconds=20), first_sequence=3)
    users = {
        "supervisor": await factories.account(client, container, tenant_id=a.id, role=Role.SUPERVISOR),
        "viewer": await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        "b_supervisor": await factories.account(client, container, tenant_id=b.id, role=Role.SUPERVISOR),
    }
    return {"a": a, "cam": cam, "t0": t0, "users": users}


def body(world, a: float, b: float, **extra) -> dict:
    t0 = world["t0"]
    return {
        "camera_id": str(world["cam"].id),
        "start": (t0 + timedelta(seconds=a)).isoformat(),
        "end": (t0 + timedelta(seconds=b)).isoformat(),
        **extra,
    }


async def finished(client, headers, export_id: str) -> dict:
    async with asyncio.timeout(30):
        while True:
            r = await client.get(f"{API}/exports/{export_id}", headers=headers)
            assert r.status_code == 200, r.text
            if r.json()["status"] in ("done", "failed"):
                return r.json()
            assert 0 <= r.json()["progress"] <= 1
            await asyncio.sleep(0.05)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


async def test_an_export_is_a_playable_stream_copy_of_the_range(client, world, tmp_path: Path):
    headers = world["users"]["supervisor"].headers
    r = await client.post(f"{API}/exports", json=body(world, 2, 40), headers=headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "running") and r.json()["download_url"] is None
    done = await finished(client, headers, r.json()["id"])
    assert done["status"] == "done", done
    assert done["progress"] == 1.0
    # keyframes every second, so the cut starts exactly at +2 s; wall-clock time kept across the gap
    assert done["duration_s"] == pytest.approx(38.0, abs=5.0)  # ±1 segment

    r = await client.get(path_of(done["download_url"]))  # no Bearer: the signed URL is enough
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert len(r.content) == done["bytes"] and hashlib.sha256(r.content).hexdigest() == done["sha256"]
    out = tmp_path / "export.mp4"
    out.write_bytes(r.content)
    code, text, err = await run_tool(
        "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
        "-show_entries", "stream=codec_name,width,nb_read_frames:format=duration", "-of", "default=nw=1", str(out),
    )  # fmt: skip
    assert code == 0, err
    facts = dict(line.split("=", 1) for line in text.split())
    assert (facts["codec_name"], facts["width"]) == ("h264", "640")  # stream copy: the camera's own codec and size
    assert int(facts["nb_read_frames"]) == (12 - 2) * 25 + (40 - 32) * 25  # every frame of the range decodes
    assert float(facts["duration"]) == pytest.approx(done["duration_s"], abs=0.5)


async def test_a_download_resumes_with_range_requests(client, container, world):
    headers = world["users"]["supervisor"].headers
    r = await client.post(f"{API}/exports", json=body(world, 0, 12), headers=headers)
    done = await finished(client, headers, r.json()["id"])
    url, size = path_of(done["download_url"]), done["bytes"]

    first = await client.get(url, headers={"Range": "bytes=0-999"})
    assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-999/{size}"
    assert len(first.content) == 1000 and first.headers["accept-ranges"] == "bytes"
    rest = await client.get(url, headers={"Range": "bytes=1000-", "If-Range": first.headers["etag"]})
    assert rest.status_code == 206 and rest.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"
    whole = await client.get(url)
    assert first.content + rest.content == whole.content
    tail = await client.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == whole.content[-100:]
    stale = await client.get(url, headers={"Range": "bytes=1000-", "If-Range": '"another-file"'})
    assert stale.status_code == 200 and stale.content == whole.content  # the file changed: start over
    r = await client.get(url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-type"].startswith("application/problem+json")

    entries, _ = await container.audit_store.query(
        AuditQuery(tenant_id=world["a"].id, action="download", resource_type="export"), limit=50, offset=0
    )
    assert len(entries) == 3  # new downloads (from byte 0) only: first, whole, stale; resumptions are the same view


async def test_a_resumed_download_reads_only_its_range_from_the_blob_store(client, container, world):
    headers = world["users"]["supervisor"].headers
    r = await client.post(f"{API}/exports", json=body(world, 0, 12), headers=headers)
    done = await finished(client, headers, r.json()["id"])
    whole = (await client.get(path_of(done["download_url"]))).content
    counting = CountingBlobs(container.blobs)
    container.blobs = counting  # what the download route reads through (on S3: ranged GETs)
    r = await client.get(path_of(done["download_url"]), headers={"Range": f"bytes={done['bytes'] - 100}-"})
    assert r.status_code == 206 and r.content == whole[-100:]
    assert counting.bytes_read == 100  # not the whole file, sliced


async def test_shutdown_records_running_and_queued_exports_as_interrupted(app, client, world, monkeypatch):
    """The api role stops: cuts in progress and those waiting for a slot end as failed, never left running."""

    async def never_ending_cut(*args: object, **kwargs: object) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(export_module, "cut_stored", never_ending_cut)
    headers = world["users"]["supervisor"].headers
    async with app.router.lifespan_context(app):
        ids = [(await client.post(f"{API}/exports", json=body(world, 0, 12), headers=headers)).json()["id"]]
        ids += [(await client.post(f"{API}/exports", json=body(world, 32, 44), headers=headers)).json()["id"]]
        ids += [(await client.post(f"{API}/exports", json=body(world, 0, 44), headers=headers)).json()["id"]]

        async def statuses() -> list[str]:
            return sorted([(await client.get(f"{API}/exports/{i}", headers=headers)).json()["status"] for i in ids])

        async with asyncio.timeout(10):  # two slots (playback.max_exports_running): two cut, one waits
            while await statuses() != ["queued", "running", "running"]:  # noqa: ASYNC110 (polled over the API)
                await asyncio.sleep(0.02)
    for export_id in ids:
        export = (await client.get(f"{API}/exports/{export_id}", headers=headers)).json()
        assert export["status"] == "failed" and "interrupted" in export["error"], export
        assert export["finished_at"] is not None and export["download_url"] is None
    assert app.state.export_runner is None  # a later start makes a new runner


async def test_an_evidence_export_holds_the_recordings_until_released(client, world):
    headers = world["users"]["supervisor"].headers
    r = await client.post(f"{API}/exports", json=body(world, 0, 12, hold="evidence"), headers=headers)
    assert r.status_code == 422 and "reference_id" in r.json()["detail"]
    r = await client.post(
        f"{API}/exports", json=body(world, 0, 12, hold="evidence", reference_id="case-7"), headers=headers
    )
    assert r.status_code == 202, r.text
    export = await finished(client, headers, r.json()["id"])
    holds = (await client.get(f"{API}/recordings/holds", params={"active": True}, headers=headers)).json()["items"]
    assert [(h["reason"], h["reference_id"], h["expires_at"]) for h in holds] == [("evidence", "case-7", None)]
    r = await client.delete(f"{API}/exports/{export['id']}", headers=headers)
    assert r.status_code == 204
    holds = (await client.get(f"{API}/recordings/holds", params={"active": True}, headers=headers)).json()["items"]
    assert [h["reason"] for h in holds] == ["evidence"]  # deleting the file does not end the evidence hold


async def test_an_export_hold_ends_with_the_export_and_a_plain_one_expires(client, world):
    headers = world["users"]["supervisor"].headers
    kept = (await client.post(f"{API}/exports", json=body(world, 0, 12, hold="export"), headers=headers)).json()
    plain = (await client.post(f"{API}/exports", json=body(world, 32, 44), headers=headers)).json()
    await finished(client, headers, kept["id"])
    await finished(client, headers, plain["id"])
    holds = (await client.get(f"{API}/recordings/holds", params={"active": True}, headers=headers)).json()["items"]
    by_ref = {h["reference_id"]: h for h in holds}
    assert by_ref[kept["id"]]["expires_at"] is None and by_ref[kept["id"]]["reason"] == "export"
    assert by_ref[plain["id"]]["expires_at"] is not None  # only while cutting
    assert (await client.delete(f"{API}/exports/{kept['id']}", headers=headers)).status_code == 204
    holds = (await client.get(f"{API}/recordings/holds", params={"active": True}, headers=headers)).json()["items"]
    assert kept["id"] not in {h["reference_id"] for h in holds}
    r = await client.get(f"{API}/exports", headers=headers)
    assert [e["id"] for e in r.json()["items"]] == [plain["id"]]


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda w: body(w, 10, 5), 422),  # end before start
        (lambda w: body(w, 10, 10), 422),
        (lambda w: body(w, 0, 5 * 3600), 422),  # longer than playback.max_export_s (4 h)
        (lambda w: body(w, -600, -500), 422),  # nothing recorded
        (lambda w: body(w, 0, 10, stream="4k"), 422),
        (lambda w: body(w, 0, 10, hold="forever"), 422),
        (lambda w: {**body(w, 0, 10), "camera_id": str(uuid.uuid4())}, 404),
        (lambda w: {**body(w, 0, 10), "start": "soon"}, 422),
    ],
)
async def test_bad_exports_are_4xx(client, world, make, status):
    r = await client.post(f"{API}/exports", json=make(world), headers=world["users"]["supervisor"].headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_exports_stay_within_the_customer_and_the_role(client, world):
    sup, other = world["users"]["supervisor"], world["users"]["b_supervisor"]
    r = await client.post(f"{API}/exports", json=body(world, 0, 12), headers=world["users"]["viewer"].headers)
    assert r.status_code == 403  # viewers may play back but not export
    r = await client.post(f"{API}/exports", json=body(world, 0, 12), headers=other.headers)
    assert r.status_code == 404  # another customer's camera
    done = await finished(
        client,
        sup.headers,
        (await client.post(f"{API}/exports", json=body(world, 0, 12), headers=sup.headers)).json()["id"],
    )
    download = f"{API}/exports/{done['id']}/download"
    assert (await client.get(f"{API}/exports/{done['id']}", headers=other.headers)).status_code == 404
    assert (await client.get(download, headers=other.headers)).status_code == 404
    assert (await client.get(download, headers=sup.headers)).status_code == 200  # Bearer works too
    token = done["download_url"].split("token=")[1]
    assert (await client.get(f"{download}?token={token[:-2]}xx")).status_code == 403
    other_export = f"{API}/exports/{uuid.uuid4()}/download?token={token}"
    assert (await client.get(other_export)).status_code == 403  # the token opens one export only
