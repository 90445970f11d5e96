"""Playback over the API: timelines, signed media URLs, live and VOD HLS that ffmpeg really plays over HTTP,
token refusals (403), camera scope (404) and audited views."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import av
import pytest

from tests import factories
from tests.unit.streaming.recorded import cut_clip, record_run, run_tool, seconds_ago, serve
from vms.auth.permissions import Role
from vms.events.models import Event
from vms.kernel.tenancy import TenantScope
from vms.ports import AuditQuery
from vms.streaming import hls
from vms.streaming.tokens import MediaTokens
from vms.tenants import service as tenants
from vms.tenants.schemas import CustomerUpdate
from vms.uow import Actor

API = "/api/v1"


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("clips")
    return {"main": cut_clip(tmp, width=640, height=360), "sub": cut_clip(tmp, width=320, height=180)}


@pytest.fixture
async def world(container, client, tmp_path: Path, pieces):
    """Customer A: camera `cam` recorded t0..t0+12 s, gap 20 s, t0+32..t0+44 s (main and sub), and live
    (the last ~20 s); camera `cam2` recorded t0..t0+12 s. Customer B has a viewer."""
    a, b = await factories.customer(container), await factories.customer(container)
    cam = await factories.camera(container, tenant_id=a.id)
    cam2 = await factories.camera(container, tenant_id=a.id)
    t0 = seconds_ago(3600)
    live_start = seconds_ago(20)
    for stream in ("main", "sub"):
        common = {"tenant_id": a.id, "camera_id": cam.id, "stream": stream, "pieces": pieces[stream]}
        end = await record_run(container, **common, start=t0, first_sequence=0, work=tmp_path / "w")
        await record_run(container, **common, start=end + timedelta(seconds=20), first_sequence=3, work=tmp_path / "w")
        await record_run(container, **common, start=live_start, first_sequence=100, work=tmp_path / "w")
    await record_run(
        container, tenant_id=a.id, camera_id=cam2.id, stream="main", pieces=pieces["main"], start=t0,
        first_sequence=0, work=tmp_path / "w",
    )  # fmt: skip
    users = {
        "viewer": await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        "b_viewer": await factories.account(client, container, tenant_id=b.id, role=Role.VIEWER),
        "provider": await factories.account(client, container, tenant_id=None, role=Role.PROVIDER_ADMIN),
    }
    return {"a": a, "cam": cam, "cam2": cam2, "t0": t0, "users": users}


def rng(t0: datetime, a: float, b: float) -> dict[str, str]:
    return {"start": (t0 + timedelta(seconds=a)).isoformat(), "end": (t0 + timedelta(seconds=b)).isoformat()}


async def urls(client, world, **body) -> dict:
    payload = {"camera_ids": [str(world["cam"].id)], **body}
    r = await client.post(f"{API}/playback/urls", json=payload, headers=world["users"]["viewer"].headers)
    assert r.status_code == 200, r.text
    return r.json()["cameras"][0]


def token_of(url: str) -> str:
    """The media token of a URL, from its path (…/hls/t/<token>/…) or its query."""
    parts = urlsplit(url)
    if "/hls/t/" in parts.path:
        return parts.path.split("/hls/t/", 1)[1].split("/", 1)[0]
    return parse_qs(parts.query)["token"][0]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


# --- timeline -------------------------------------------------------------------------------------------


async def test_the_timeline_shows_recorded_ranges_gaps_and_events(client, container, world):
    t0 = world["t0"]
    async with container.unit_of_work(TenantScope.of(world["a"].id), Actor.system("test")) as uow:
        uow.add(
            Event(
                tenant_id=world["a"].id, camera_id=world["cam"].id, event_type="intrusion", confidence=0.9,
                occurred_at=t0 + timedelta(seconds=5), priority="HIGH", object_class="person", tracking_id="1",
                bounding_box=[0, 0, 1, 1],
            )
        )  # fmt: skip
        await uow.commit()
    r = await client.get(
        f"{API}/cameras/{world['cam'].id}/timeline", params=rng(t0, -10, 60), headers=world["users"]["viewer"].headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(round(s["seconds"], 3)) for s in body["ranges"]] == [12.0, 12.0]
    assert [round(g["seconds"], 3) for g in body["gaps"]] == [10.0, 20.0, 16.0]
    assert body["recorded_s"] == pytest.approx(24.0, abs=0.01)
    assert datetime.fromisoformat(body["ranges"][1]["start"]) == t0 + timedelta(seconds=32)
    [event] = body["events"]
    assert event["event_type"] == "intrusion" and body["events_total"] == 1
    r = await client.get(path_of(event["thumbnail_url"]))  # signed: no Bearer header needed
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with av.open(io.BytesIO(r.content)) as jpeg:
        picture = next(jpeg.decode(video=0))
        assert (picture.width, picture.height) == (320, 180)  # from the sub stream, whose width it keeps
    parts = urlsplit(event["thumbnail_url"])
    token = parse_qs(parts.query)["token"][0]
    in_gap = (t0 + timedelta(seconds=20)).isoformat()
    r = await client.get(parts.path, params={"token": token, "at": in_gap})
    assert r.status_code == 404  # nothing recorded then
    shots = []
    for second in (1, 3):
        at = (t0 + timedelta(seconds=second)).isoformat()
        shots.append((await client.get(parts.path, params={"token": token, "at": at})).content)
    early, late = shots
    assert early != late  # the frame of that moment, not just any frame


async def test_several_cameras_share_one_window_for_synchronised_playback(client, world):
    ids = f"{world['cam'].id},{world['cam2'].id}"
    r = await client.get(
        f"{API}/playback/timeline",
        params={"camera_ids": ids, **rng(world["t0"], 0, 60)},
        headers=world["users"]["viewer"].headers,
    )
    assert r.status_code == 200, r.text
    cams = r.json()["cameras"]
    assert [c["camera_id"] for c in cams] == [str(world["cam"].id), str(world["cam2"].id)]
    assert [len(c["ranges"]) for c in cams] == [2, 1]
    assert {(c["start"], c["end"]) for c in cams} == {(r.json()["start"], r.json()["end"])}

    body = await client.post(
        f"{API}/playback/urls",
        json={"camera_ids": [str(world["cam"].id), str(world["cam2"].id)], **rng(world["t0"], 0, 60)},
        headers=world["users"]["viewer"].headers,
    )
    links = body.json()["cameras"]
    starts = {parse_qs(urlsplit(c["vod_master"]).query)["start"][0] for c in links}
    assert len(links) == 2 and len(starts) == 1  # the same range for both


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "2026-11-24T12:00:00Z", "end": "2026-11-24T11:00:00Z"}, 422),  # end before start
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-24T00:00:00Z"}, 422),  # window too long
        ({"start": "yesterday", "end": "2026-11-24T00:00:00Z"}, 422),
    ],
)
async def test_bad_timeline_windows_are_4xx(client, world, params, status):
    r = await client.get(
        f"{API}/cameras/{world['cam'].id}/timeline", params=params, headers=world["users"]["viewer"].headers
    )
    assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), r.text


async def test_unknown_foreign_and_malformed_cameras(client, world):
    viewer, other = world["users"]["viewer"], world["users"]["b_viewer"]
    w = rng(world["t0"], 0, 60)
    r = await client.get(f"{API}/cameras/{uuid.uuid4()}/timeline", params=w, headers=viewer.headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/cameras/{world['cam'].id}/timeline", params=w, headers=other.headers)
    assert r.status_code == 404  # another customer's camera looks missing
    r = await client.get(
        f"{API}/playback/timeline", params={"camera_ids": f"{world['cam'].id},x", **w}, headers=viewer.headers
    )
    assert r.status_code == 422
    many = ",".join(str(uuid.uuid4()) for _ in range(17))
    r = await client.get(f"{API}/playback/timeline", params={"camera_ids": many, **w}, headers=viewer.headers)
    assert r.status_code == 422
    r = await client.post(f"{API}/playback/urls", json={"camera_ids": [str(world["cam"].id)]}, headers=other.headers)
    assert r.status_code == 404
    r = await client.get(
        f"{API}/cameras/{world['cam'].id}/timeline", params=w, headers=world["users"]["provider"].headers
    )
    assert r.status_code == 403


# --- HLS played by ffmpeg over real HTTP ------------------------------------------------------------------


async def test_ffprobe_plays_the_vod_playlist_over_http_across_the_gap(app, client, world):
    links = await urls(client, world, **rng(world["t0"], -5, 60))
    async with serve(app) as base:
        master = base + path_of(links["vod_master"])
        code, out, err = await run_tool(
            "ffprobe", "-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "csv=p=0", master
        )
        assert code == 0, err
        assert sorted(set(out.split())) == ["h264,320,180", "h264,640,360"]  # both ABR variants open

        text = (await client.get(path_of(links["vod_master"]))).text
        main = next(line for line in text.splitlines() if line.startswith("../vod/main.m3u8"))
        media = urljoin(master, main)
        code, out, err = await run_tool(
            "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", media,
        )  # fmt: skip
        assert code == 0, err
        assert int(out.split()[0]) == 2 * 12 * 25  # both recorded runs, every frame decoded


async def test_ffmpeg_plays_the_live_master_playlist_over_http(app, client, world):
    links = await urls(client, world)
    async with serve(app) as base:
        code, _, err = await run_tool(
            "ffmpeg", "-v", "error", "-i", base + path_of(links["live_master"]),
            "-map", "0:v:0", "-frames:v", "100", "-f", "null", "-",
        )  # fmt: skip
        assert code == 0, err


async def test_the_live_playlist_is_a_window_of_the_newest_run(client, world):
    links = await urls(client, world)
    master = (await client.get(path_of(links["live_master"]))).text
    sub = next(line for line in master.splitlines() if line.startswith("../live/sub.m3u8"))
    r = await client.get(urljoin(path_of(links["live_master"]), sub))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = r.text.splitlines()
    assert "#EXT-X-MEDIA-SEQUENCE:100" in lines and "#EXT-X-ENDLIST" not in lines
    assert sum(line.startswith("#EXTINF") for line in lines) == 3


async def test_a_segment_is_mpegts_stamped_with_its_wall_clock_start(client, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    text = (await client.get(path_of(links["vod_master"]))).text
    main = next(line for line in text.splitlines() if line.startswith("../vod/main.m3u8"))
    media_url = urljoin(path_of(links["vod_master"]), main)
    playlist = (await client.get(media_url)).text
    first = next(line for line in playlist.splitlines() if line.startswith("../segments/"))
    r = await client.get(urljoin(media_url, first))
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"
    with av.open(io.BytesIO(r.content)) as ts:
        stream = ts.streams.video[0]
        packets = [p for p in ts.demux(stream) if p.size]
        expected = round(world["t0"].timestamp() * 90_000) % (1 << 33)
        assert packets[0].dts == expected  # wall clock in the 90 kHz TS clock: segments line up across gaps
        frames = [f for p in packets for f in stream.decode(p)] + list(stream.decode(None))
    assert len(frames) == 5 * 25  # the whole first segment, decodable on its own


# --- access -----------------------------------------------------------------------------------------------


async def test_tampered_expired_other_camera_and_garbage_tokens_are_403(client, container, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    vod = path_of(links["vod_master"])
    token = token_of(vod)
    assert (await client.get(vod)).status_code == 200

    tampered = vod.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    other_cam = vod.replace(str(world["cam"].id), str(world["cam2"].id))
    garbage = vod.replace(token, "not-a-token")
    signer = MediaTokens(secret=container.settings.security.jwt_secret)
    viewer = world["users"]["viewer"]
    expired_token = signer.issue(
        user_id=viewer.user.id, tenant_id=world["a"].id, camera_id=world["cam"].id, role="viewer",
        session_id=uuid.UUID(viewer.session_id), scope=f"{API}/cameras/{world['cam'].id}/hls/",
        expires_at=seconds_ago(1),
    )  # fmt: skip
    expired = vod.replace(token, expired_token)
    segment = f"{API}/cameras/{world['cam2'].id}/hls/segments/{hls.segment_name('main', world['t0'])}?token={token}"
    refusals = {tampered: "signature", other_cam: "another camera", garbage: "malformed", expired: "expired"}
    refusals[segment] = "another camera"
    for url, why in refusals.items():
        r = await client.get(url)
        assert r.status_code == 403, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert why in r.json()["detail"], r.json()


async def test_a_signed_out_session_stops_its_media_urls(client, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    vod = path_of(links["vod_master"])
    assert (await client.get(vod)).status_code == 200
    r = await client.post(f"{API}/auth/logout", headers=world["users"]["viewer"].headers)
    assert r.status_code in (200, 204), r.text
    assert (await client.get(vod)).status_code == 403


async def test_bearer_callers_play_too_but_only_their_customers_cameras(client, world):
    path = f"{API}/cameras/{world['cam'].id}/hls/vod/master.m3u8"
    r = await client.get(path, params=rng(world["t0"], 0, 60), headers=world["users"]["viewer"].headers)
    assert r.status_code == 200
    variant = next(line for line in r.text.splitlines() if line.startswith("../t/"))  # a freshly minted token
    r = await client.get(urljoin(path, variant))  # as a player resolves it: no Bearer needed any more
    assert r.status_code == 200 and "../segments/" in r.text and "token" not in r.text
    r = await client.get(path, params=rng(world["t0"], 0, 60), headers=world["users"]["b_viewer"].headers)
    assert r.status_code == 404
    r = await client.get(path, params=rng(world["t0"], 0, 60))
    assert r.status_code == 401


async def test_playlists_name_segments_without_repeating_the_token(client, world):
    """The token sits once in the playlist's own path; every segment URI inherits it by relative resolution."""
    links = await urls(client, world, **rng(world["t0"], -5, 60))
    vod = path_of(links["vod_master"])
    token = token_of(vod)
    assert vod.startswith(f"{API}/cameras/{world['cam'].id}/hls/t/{token}/vod/master.m3u8?") and "token=" not in vod
    master = (await client.get(vod)).text
    variant = next(line for line in master.splitlines() if line.startswith("../vod/main.m3u8?"))
    media_url = urljoin(vod, variant)
    playlist = (await client.get(media_url)).text
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert len(segments) == 6 and all(len(line) <= 40 and "token" not in line for line in segments)
    r = await client.get(urljoin(media_url, segments[0]))
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"

    # The same playlist asked for with ?token= points its segments into the path form (token once per URI).
    plain = media_url.replace(f"/hls/t/{token}/", "/hls/") + f"&token={token}"
    playlist = (await client.get(plain)).text
    assert f"../t/{token}/segments/" in playlist and "?token=" not in playlist


async def test_a_path_token_opens_only_its_camera_and_wins_over_a_query_token(client, container, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    live = path_of(links["live_master"])
    token = token_of(live)
    segment = hls.segment_name("main", world["t0"])
    own = f"{API}/cameras/{world['cam'].id}/hls/t/{token}/segments/{segment}"
    assert (await client.get(own)).status_code == 200
    r = await client.get(f"{API}/cameras/{world['cam2'].id}/hls/t/{token}/segments/{segment}")
    assert r.status_code == 403 and "another camera" in r.json()["detail"]
    r = await client.get(f"{API}/cameras/{world['cam'].id}/hls/t/{token[:-2]}xx/segments/{segment}")
    assert r.status_code == 403 and "signature" in r.json()["detail"]
    r = await client.get(f"{own}?token=not-a-token")  # the path's token counts, the query's is dropped
    assert r.status_code == 200
    r = await client.get(f"{API}/cameras/{world['cam'].id}/hls/t/{token}/no-such-route")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("suffix", "params", "status"),
    [
        ("vod/master.m3u8", {"start": "2026-11-24T12:00:00Z", "end": "2026-11-24T11:00:00Z"}, 422),
        ("vod/main.m3u8", {"start": "2026-11-20T12:00:00Z", "end": "2026-11-24T11:00:00Z"}, 422),
        ("vod/main.m3u8", {"start": "2020-01-01T00:00:00Z", "end": "2020-01-01T01:00:00Z"}, 404),  # nothing recorded
        ("vod/4k.m3u8", {"start": "2026-11-24T11:00:00Z", "end": "2026-11-24T12:00:00Z"}, 422),
        ("segments/main-x.ts", {}, 422),
        ("segments/main-1000.ts", {}, 404),
    ],
)
async def test_bad_media_requests_are_4xx(client, world, suffix, params, status):
    r = await client.get(
        f"{API}/cameras/{world['cam'].id}/hls/{suffix}", params=params, headers=world["users"]["viewer"].headers
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_views_are_audit_logged_and_live_reloads_only_once(client, container, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    assert (await client.get(path_of(links["vod_master"]))).status_code == 200
    master = path_of(links["live_master"])
    text = (await client.get(master)).text
    main = next(line for line in text.splitlines() if line.startswith("../live/main.m3u8"))
    for _ in range(3):
        assert (await client.get(urljoin(master, main))).status_code == 200
    entries, _ = await container.audit_store.query(
        AuditQuery(tenant_id=world["a"].id, action="view", resource_type="camera"), limit=50, offset=0
    )
    whats = sorted((e.new_value or {}).get("what", "") for e in entries)
    assert whats == ["live", "live", "vod"]  # master live + one of three reloads + vod master
    assert all(
        e.actor_id == world["users"]["viewer"].user.id and e.resource_id == str(world["cam"].id) for e in entries
    )
    assert {(e.new_value or {}).get("via") for e in entries} == {"token"}


async def test_a_token_whose_holder_lost_access_is_refused(client, container, world):
    """A token minted without session and role (not by us) and one of a viewer used for export download."""
    signer = MediaTokens(secret=container.settings.security.jwt_secret)
    scope = f"{API}/cameras/{world['cam'].id}/hls/"
    bare = signer.issue(
        user_id=world["users"]["viewer"].user.id, tenant_id=world["a"].id, camera_id=world["cam"].id,
        scope=scope, ttl_s=60,
    )  # fmt: skip
    r = await client.get(f"{scope}vod/master.m3u8", params={**rng(world["t0"], 0, 60), "token": bare})
    assert r.status_code == 403 and "session" in r.json()["detail"]


async def test_media_urls_of_a_suspended_customer_stop_working(client, container, world):
    links = await urls(client, world, **rng(world["t0"], 0, 60))
    vod = path_of(links["vod_master"])
    assert (await client.get(vod)).status_code == 200
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        await tenants.update_customer(uow=uow, tenant_id=world["a"].id, data=CustomerUpdate(status="suspended"))
        await uow.commit()
    await container.cache.delete(tenants.access_cache_key(world["a"].id))  # the cached access rules (30 s TTL)
    r = await client.get(vod)
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
