"""Cameras through the API, with a fake prober: CRUD, write-only encrypted credentials, URL
checks, license limits, licensed and compatible AI models, probe errors, filters, moves, groups."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from tests import factories
from tests.unit.cameras.conftest import (
    CAMERAS,
    GROUPS,
    HD_720,
    HD_1080,
    SD_360,
    SUB_480,
    FakeProber,
    World,
    assert_problem,
    count_rows,
    make_tree,
    new_id,
)
from vms.bootstrap import Container
from vms.cameras.models import Camera
from vms.kernel.errors import NotAMediaStream, StreamCredentialsRefused, StreamUnreachable, UnsupportedCodec
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

MAIN = "rtsp://10.0.0.7:554/Streaming/Channels/101"
SUB = "rtsp://10.0.0.7:554/Streaming/Channels/102"
PASSWORD = "Very$ecret-Pa55"


def body(**overrides: Any) -> dict[str, Any]:
    """A valid camera."""
    return {"name": "Gate 1", "main_url": MAIN, **overrides}


async def stored(container: Container, camera_id: str | uuid.UUID) -> dict[str, Any] | None:
    """A camera's raw row (the table, not the ORM entity), read across tenants."""
    table = Camera.__table__
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        query = select(table).where(table.c.id == uuid.UUID(str(camera_id)))
        row = (await uow.session.execute(query)).mappings().first()
        return dict(row) if row else None


# --- create, read, update, delete -----------------------------------------------------------------


async def test_a_camera_is_created_with_its_probed_streams(client, world: World, prober: FakeProber):
    prober.streams = {MAIN: HD_1080, SUB: SUB_480}
    tree = await make_tree(client, world.admin)

    r = await client.post(
        CAMERAS,
        headers=world.supervisor.headers,
        json=body(
            sub_url=SUB,
            zone_id=tree.lobby,
            manufacturer="Hikvision",
            model="DS-2CD2T86G2",
            firmware="V5.7.3",
            tags=["Entrance", " north  gate ", "entrance"],
            enabled_models=["fire_smoke", "intrusion"],
            external_id="nvr-7/ch1",
        ),
    )

    assert r.status_code == 201, r.text
    cam = r.json()
    assert (cam["name"], cam["main_url"], cam["sub_url"], cam["zone_id"]) == ("Gate 1", MAIN, SUB, tree.lobby)
    assert (cam["manufacturer"], cam["model"], cam["firmware"]) == ("Hikvision", "DS-2CD2T86G2", "V5.7.3")
    assert cam["tags"] == ["entrance", "north gate"]
    assert cam["status"] == "unknown"
    assert (cam["auth_method"], cam["has_credentials"]) == ("none", False)
    assert cam["main_stream"]["height"] == 1080 and cam["sub_stream"]["height"] == 480
    assert cam["probed_at"] is not None
    assert cam["enabled_models"] == ["fire_smoke", "intrusion"]
    assert cam["model_streams"] == {"fire_smoke": "main", "intrusion": "sub"}
    assert sorted(url for url, _ in prober.calls) == sorted([MAIN, SUB])
    got = await client.get(f"{CAMERAS}/{cam['id']}", headers=world.viewer.headers)
    assert got.json() == cam


async def test_a_camera_is_updated_without_a_probe_when_its_streams_stay(client, world, prober):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body())).json()
    calls = len(prober.calls)

    r = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"name": "Gate 1 (north)", "tags": ["a", "b"]}
    )

    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["tags"]) == ("Gate 1 (north)", ["a", "b"])
    assert r.json()["updated_at"] is not None
    assert len(prober.calls) == calls


async def test_a_new_main_url_is_probed_and_the_models_checked_again(client, world, prober):
    prober.streams = {MAIN: HD_1080, "rtsp://10.0.0.8/low": HD_720}
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(enabled_models=["anpr"]))).json()

    r = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"main_url": "rtsp://10.0.0.8/low"}
    )

    assert "anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps" in assert_problem(r, 422)["detail"]
    after = (await client.get(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)).json()
    assert after["main_url"] == MAIN and after["main_stream"]["height"] == 1080


async def test_patch_with_probe_false_clears_the_stream_info_of_a_changed_url(client, world, prober):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB))).json()
    calls = len(prober.calls)

    r = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"sub_url": "rtsp://10.0.0.7/other", "probe": False}
    )

    assert r.status_code == 200, r.text
    assert r.json()["sub_stream"] is None and r.json()["main_stream"] is not None
    assert len(prober.calls) == calls


async def test_null_clears_optional_fields_but_not_required_ones(client, world):
    tree = await make_tree(client, world.admin)
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB, zone_id=tree.lab))).json()

    cleared = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"sub_url": None, "zone_id": None}
    )
    refused = await client.patch(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"name": None})

    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["sub_url"], cleared.json()["sub_stream"], cleared.json()["zone_id"]) == (None, None, None)
    assert "name cannot be null" in assert_problem(refused, 422)["detail"]


async def test_a_camera_is_deleted(client, container, world):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body())).json()

    r = await client.delete(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)

    assert r.status_code == 204
    assert_problem(await client.get(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers), 404)
    assert await stored(container, cam["id"]) is None


async def test_every_camera_write_is_audited_without_credentials(client, world):
    cam = (
        await client.post(
            CAMERAS,
            headers=world.admin.headers,
            json=body(auth={"method": "digest", "username": "viewer", "password": PASSWORD}),
        )
    ).json()
    await client.patch(
        f"{CAMERAS}/{cam['id']}",
        headers=world.admin.headers,
        json={"main_url": f"rtsp://admin:{PASSWORD}@10.0.0.9/x"},
    )
    await client.delete(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)

    r = await client.get("/api/v1/audit", headers=world.admin.headers, params={"resource_id": cam["id"]})

    items = r.json()["items"]
    assert sorted(i["action"] for i in items) == ["create", "delete", "update"]
    assert PASSWORD not in r.text
    assert {i["resource_type"] for i in items} == {"camera"}


# --- credentials ----------------------------------------------------------------------------------


async def test_credentials_are_write_only(client, world):
    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(auth={"method": "digest", "username": "svc-viewer", "password": PASSWORD}),
    )

    assert r.status_code == 201, r.text
    assert (r.json()["auth_method"], r.json()["has_credentials"]) == ("digest", True)
    for response in (r, await client.get(f"{CAMERAS}/{r.json()['id']}", headers=world.admin.headers)):
        assert PASSWORD not in response.text and "svc-viewer" not in response.text
        assert "password" not in response.json() and "auth" not in response.json()
    listed = await client.get(CAMERAS, headers=world.admin.headers)
    assert PASSWORD not in listed.text and "svc-viewer" not in listed.text


async def test_credentials_are_encrypted_at_rest(client, container, world):
    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(auth={"method": "basic", "username": "svc-viewer", "password": PASSWORD}),
    )

    row = await stored(container, r.json()["id"])
    assert row is not None
    assert not any(PASSWORD in str(value) or "svc-viewer" in str(value) for value in row.values())
    plain = container.identity.secrets.decrypt(row["credentials"])
    assert PASSWORD in plain and "svc-viewer" in plain


async def test_credentials_in_the_url_move_into_auth(client, container, world, prober):
    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(
            main_url="rtsp://admin:Very%24ecret-Pa55@10.0.0.7:554/Streaming/Channels/101",
            sub_url="rtsp://admin:Very%24ecret-Pa55@10.0.0.7:554/Streaming/Channels/102",
        ),
    )

    assert r.status_code == 201, r.text
    cam = r.json()
    assert (cam["main_url"], cam["sub_url"]) == (MAIN, SUB)
    assert (cam["auth_method"], cam["has_credentials"]) == ("basic", True)
    assert PASSWORD not in r.text and "admin" not in r.text
    row = await stored(container, cam["id"])
    assert row is not None and (row["main_url"], row["sub_url"]) == (MAIN, SUB)
    # The prober got clean URLs plus the decoded credentials.
    assert {(url, c.username, c.password) for url, c in prober.calls if c} == {
        (MAIN, "admin", PASSWORD),
        (SUB, "admin", PASSWORD),
    }


async def test_url_credentials_fill_a_username_only_auth(client, world, prober):
    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(main_url="rtsp://svc:pw1@10.0.0.7/ch1", auth={"method": "digest", "username": "svc"}),
    )

    assert r.status_code == 201, r.text
    assert r.json()["auth_method"] == "digest"
    assert prober.calls[-1][1] is not None and prober.calls[-1][1].password == "pw1"


@pytest.mark.parametrize(
    ("main_url", "auth", "message"),
    [
        ("rtsp://a:1@10.0.0.7/x", {"method": "basic", "username": "b", "password": "2"}, "different credentials"),
        ("rtsp://a:1@10.0.0.7/x", {"method": "token", "token": "t"}, "auth method is token"),
    ],
)
async def test_url_credentials_that_contradict_auth_are_refused(client, container, world, main_url, auth, message):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(main_url=main_url, auth=auth))

    assert message in assert_problem(r, 422)["detail"]
    assert await count_rows(container, Camera) == 0


async def test_different_credentials_in_main_and_sub_url_are_refused(client, world):
    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(main_url="rtsp://a:1@10.0.0.7/x", sub_url="rtsp://a:2@10.0.0.7/y"),
    )

    assert "different credentials" in assert_problem(r, 422)["detail"]


async def test_auth_null_removes_the_credentials(client, container, world):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(main_url="rtsp://a:b@10.0.0.7/x"))).json()

    r = await client.patch(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"auth": None})

    assert (r.json()["auth_method"], r.json()["has_credentials"]) == ("none", False)
    row = await stored(container, cam["id"])
    assert row is not None and row["credentials"] is None


def certificate_pems() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "vms-client")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


async def test_certificate_auth_is_stored_and_handed_to_the_prober(client, container, world, prober):
    cert, key = certificate_pems()

    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(
            main_url="rtsps://10.0.0.7:322/ch1",
            auth={"method": "certificate", "client_cert_pem": cert, "client_key_pem": key},
        ),
    )

    assert r.status_code == 201, r.text
    assert r.json()["auth_method"] == "certificate"
    assert "PRIVATE KEY" not in r.text
    assert prober.calls[-1][1] is not None and prober.calls[-1][1].client_key_pem == key
    row = await stored(container, r.json()["id"])
    assert row is not None and "PRIVATE KEY" not in row["credentials"]


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"method": "basic"}, "needs username"),
        ({"method": "token"}, "needs token"),
        ({"method": "basic", "username": "a", "token": "t"}, "does not use token"),
        ({"method": "certificate", "client_cert_pem": "junk", "client_key_pem": "junk"}, "not a PEM certificate"),
        ({"method": "vendor"}, "needs a username and password, or a token"),
        ({"method": "kerberos", "username": "a"}, "method"),
    ],
)
async def test_incomplete_or_wrong_auth_is_refused(client, container, world, auth, message):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(auth=auth))

    assert message in assert_problem(r, 422)["detail"]
    assert await count_rows(container, Camera) == 0


async def test_a_wrong_private_key_is_refused(client, world):
    cert, _ = certificate_pems()

    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(
            auth={"method": "certificate", "client_cert_pem": cert, "client_key_pem": "-----BEGIN PRIVATE KEY-----"}
        ),
    )

    assert "not an unencrypted PEM private key" in assert_problem(r, 422)["detail"]


# --- URL checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("10.0.0.7/stream", "no scheme"),
        ("ftp://10.0.0.7/stream", "'ftp'"),
        ("rtsp:///stream", "no host"),
        ("rtsp://10.0.0.7:0/stream", "port must be a number from 1 to 65535"),
        ("rtsp://10.0.0.7:65536/stream", "port must be a number from 1 to 65535"),
        ("rtsp://10.0.0.7:abc/stream", "port must be a number from 1 to 65535"),
        ("rtsp://10.0.0.7:/stream", "port is empty"),
        ("rtsp://10.0.0.7/my stream", "whitespace or control characters"),
        ("rtsp://10.0.0.7/stream\n", "whitespace or control characters"),
        ("rtsp://10.0.0.7/\x00", "whitespace or control characters"),
        ("rtsp://bad_host!/x", "neither an IP address nor a valid host name"),
        ("rtsp://[::1/x", "cannot be parsed"),
        ("", "empty"),
        ("rtsp://10.0.0.7/" + "a" * 2100, "2048"),
    ],
)
async def test_a_bad_stream_url_gets_a_clear_422_and_nothing_is_stored(client, container, world, prober, url, message):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(main_url=url))

    problem = assert_problem(r, 422, "Validation failed")
    assert message in problem["detail"], problem["detail"]
    assert problem["errors"][0]["loc"][-1] == "main_url"
    assert prober.calls == []
    assert await count_rows(container, Camera) == 0


async def test_a_bad_sub_url_is_refused_too(client, world):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url="rtsp://10.0.0.7:99999/x"))

    assert assert_problem(r, 422)["errors"][0]["loc"][-1] == "sub_url"


async def test_a_password_in_a_bad_url_is_not_echoed(client, world):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(main_url=f"rtsp://u:{PASSWORD}@host:0/x"))

    assert_problem(r, 422)
    assert PASSWORD not in r.text


@pytest.mark.parametrize(
    "url",
    [
        "rtsps://cam.example.com/live",
        "http://10.0.0.7/mjpg/video.mjpg",
        "HTTPS://[2001:db8::7]:8443/video",
        "rtsp://cam-7.local:8554/s",
    ],
)
async def test_good_stream_urls_are_accepted(client, world, url):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(main_url=url))

    assert r.status_code == 201, r.text
    assert r.json()["main_url"].lower() == url.lower()


# --- license and models ---------------------------------------------------------------------------


async def test_the_license_camera_limit_is_enforced_and_nothing_is_stored(client, container, prober):
    small = await factories.customer(container, camera_limit=1)
    admin = await factories.account(client, container, tenant_id=small.id, role=factories.Role.ADMIN)
    first = await client.post(CAMERAS, headers=admin.headers, json=body(name="One"))
    calls = len(prober.calls)

    second = await client.post(CAMERAS, headers=admin.headers, json=body(name="Two"))

    assert first.status_code == 201
    problem = assert_problem(second, 409, "License limit reached")
    assert "allows 1 cameras; 1 exist" in problem["detail"]
    assert await count_rows(container, Camera) == 1
    assert len(prober.calls) == calls, "a refused camera is not probed"


async def test_an_expired_license_refuses_new_cameras(client, container):
    old = await factories.customer(container, valid_from_days=-400, valid_days=30)
    admin = await factories.account(client, container, tenant_id=old.id, role=factories.Role.ADMIN)

    r = await client.post(CAMERAS, headers=admin.headers, json=body())

    assert_problem(r, 403, "License expired")
    assert await count_rows(container, Camera) == 0


async def test_an_unlicensed_model_is_refused_and_nothing_is_stored(client, container, world, prober):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(enabled_models=["intrusion", "crowd"]))

    assert "crowd" in assert_problem(r, 403, "AI model not licensed")["detail"]
    assert await count_rows(container, Camera) == 0
    assert prober.calls == []


async def test_an_unlicensed_model_cannot_be_added_later(client, world):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body())).json()

    r = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"enabled_models": ["tailgating"]}
    )

    assert_problem(r, 403, "AI model not licensed")
    assert (await client.get(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)).json()["enabled_models"] == []


async def test_an_incompatible_model_is_refused_with_the_shortfall(client, container, world, prober):
    prober.streams = {MAIN: HD_720, SUB: SD_360}

    r = await client.post(
        CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB, enabled_models=["anpr", "motion", "fire_smoke"])
    )

    problem = assert_problem(r, 422, "AI model incompatible with the camera")
    assert problem["detail"] == (
        "anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps, sub stream is 360p at 600 kbps; "
        "fire_smoke needs 720p at 2000 kbps; main stream is 720p at 1800 kbps, sub stream is 360p at 600 kbps."
    )
    assert problem["models"] == ["anpr", "fire_smoke"]
    assert await count_rows(container, Camera) == 0


async def test_each_model_runs_on_the_sub_stream_when_it_qualifies(client, world, prober):
    prober.streams = {MAIN: HD_1080, SUB: SUB_480}

    r = await client.post(
        CAMERAS,
        headers=world.admin.headers,
        json=body(sub_url=SUB, enabled_models=["anpr", "motion", "intrusion", "fire_smoke"]),
    )

    assert r.status_code == 201, r.text
    assert r.json()["model_streams"] == {"anpr": "main", "fire_smoke": "main", "intrusion": "sub", "motion": "sub"}


async def test_a_model_added_later_is_checked_against_the_stored_streams(client, world, prober):
    prober.streams = {MAIN: HD_720}
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(enabled_models=["intrusion"]))).json()
    calls = len(prober.calls)

    bad = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"enabled_models": ["intrusion", "anpr"]}
    )
    good = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"enabled_models": ["motion"]}
    )

    assert "anpr needs 1080p" in assert_problem(bad, 422)["detail"]
    assert good.json()["enabled_models"] == ["motion"] and good.json()["model_streams"] == {"motion": "main"}
    assert len(prober.calls) == calls


async def test_the_model_list_says_licensed_enabled_compatible_and_why(client, world, prober):
    prober.streams = {MAIN: HD_720, SUB: SD_360}
    cam = (
        await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB, enabled_models=["motion"]))
    ).json()

    r = await client.get(f"{CAMERAS}/{cam['id']}/models", headers=world.viewer.headers)

    assert r.status_code == 200, r.text
    models = {m["model"]: m for m in r.json()}
    assert len(models) == 10
    assert models["motion"] | {} == models["motion"]
    assert (models["motion"]["enabled"], models["motion"]["compatible"], models["motion"]["stream"]) == (
        True,
        True,
        "sub",
    )
    assert models["motion"]["reason"] is None
    anpr = models["anpr"]
    assert (anpr["licensed"], anpr["enabled"], anpr["compatible"], anpr["stream"]) == (True, False, False, None)
    assert anpr["reason"].startswith("anpr needs 1080p at 3000 kbps; main stream is 720p")
    assert (models["fire_smoke"]["compatible"], models["fire_smoke"]["stream"]) == (False, None)
    assert (models["intrusion"]["compatible"], models["intrusion"]["stream"]) == (True, "main")
    crowd = models["crowd"]
    assert (crowd["licensed"], crowd["compatible"]) == (False, False)
    assert "not part of this customer's license" in crowd["reason"]
    assert (anpr["min_height"], anpr["min_bitrate_kbps"], anpr["default_priority"]) == (1080, 3000, "MEDIUM")


async def test_without_a_probe_models_are_accepted_unverified(client, world, prober):
    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(probe=False, enabled_models=["anpr"]))

    assert r.status_code == 201, r.text
    assert (r.json()["main_stream"], r.json()["probed_at"]) == (None, None)
    assert r.json()["model_streams"] == {"anpr": "main"}
    assert prober.calls == []
    models = {
        m["model"]: m
        for m in (await client.get(f"{CAMERAS}/{r.json()['id']}/models", headers=world.admin.headers)).json()
    }
    assert models["anpr"]["compatible"] is None and "not been probed" in models["anpr"]["reason"]


async def test_a_reprobe_updates_the_streams(client, world, prober):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(probe=False))).json()
    prober.streams = {MAIN: HD_720}

    r = await client.post(f"{CAMERAS}/{cam['id']}/probe", headers=world.admin.headers)

    assert r.status_code == 200, r.text
    assert r.json()["main_stream"]["height"] == 720 and r.json()["probed_at"] is not None


async def test_a_reprobe_that_breaks_an_enabled_model_changes_nothing(client, world, prober):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body(enabled_models=["anpr"]))).json()
    prober.streams = {MAIN: HD_720}

    r = await client.post(f"{CAMERAS}/{cam['id']}/probe", headers=world.admin.headers)

    assert_problem(r, 422, "AI model incompatible with the camera")
    after = (await client.get(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)).json()
    assert after["main_stream"]["height"] == 1080


# --- probe errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "title"),
    [
        (StreamUnreachable("10.0.0.7:554 refused the connection"), "Stream unreachable"),
        (StreamCredentialsRefused("The camera refused the credentials (401)"), "Camera refused the credentials"),
        (NotAMediaStream("not a media stream"), "Not a media stream"),
        (UnsupportedCodec("sends mpeg4 video", codec="mpeg4"), "Unsupported codec"),
    ],
)
async def test_a_probe_error_is_a_422_naming_the_stream_and_nothing_is_stored(
    client, container, world, prober, error, title
):
    prober.streams = {SUB: error}

    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB))

    problem = assert_problem(r, 422, title)
    assert problem["detail"].startswith("Sub stream: ") and problem["stream"] == "sub"
    assert await count_rows(container, Camera) == 0


async def test_a_failing_main_stream_is_reported_first(client, world, prober):
    prober.streams = {MAIN: StreamUnreachable("main down"), SUB: NotAMediaStream("sub junk")}

    r = await client.post(CAMERAS, headers=world.admin.headers, json=body(sub_url=SUB))

    assert assert_problem(r, 422, "Stream unreachable")["detail"] == "Main stream: main down"


async def test_a_probe_error_on_edit_leaves_the_camera_as_it_was(client, world, prober):
    cam = (await client.post(CAMERAS, headers=world.admin.headers, json=body())).json()
    prober.streams = {"rtsp://10.0.0.99/x": StreamUnreachable("no answer")}

    r = await client.patch(
        f"{CAMERAS}/{cam['id']}", headers=world.admin.headers, json={"main_url": "rtsp://10.0.0.99/x", "name": "New"}
    )

    assert_problem(r, 422, "Stream unreachable")
    after = (await client.get(f"{CAMERAS}/{cam['id']}", headers=world.admin.headers)).json()
    assert (after["main_url"], after["name"]) == (MAIN, "Gate 1")


# --- zones, external ids, lists, moves ------------------------------------------------------------


async def test_a_camera_goes_only_into_an_existing_zone(client, container, world):
    tree = await make_tree(client, world.admin)

    floor = await client.post(CAMERAS, headers=world.admin.headers, json=body(zone_id=tree.f1))
    missing = await client.post(CAMERAS, headers=world.admin.headers, json=body(zone_id=new_id()))

    assert "Cameras go in zones; 'F1' is a floor" in assert_problem(floor, 422)["detail"]
    assert_problem(missing, 404)
    assert await count_rows(container, Camera) == 0


async def test_external_ids_are_unique_per_customer(client, world):
    first = await client.post(CAMERAS, headers=world.admin.headers, json=body(external_id="nvr-1/ch1"))
    again = await client.post(CAMERAS, headers=world.admin.headers, json=body(external_id="nvr-1/ch1"))
    other_customer = await client.post(CAMERAS, headers=world.b_admin.headers, json=body(external_id="nvr-1/ch1"))
    none_twice = [await client.post(CAMERAS, headers=world.admin.headers, json=body()) for _ in range(2)]

    assert first.status_code == 201
    assert "external_id" in assert_problem(again, 409)["detail"]
    assert other_customer.status_code == 201
    assert [r.status_code for r in none_twice] == [201, 201]


async def test_the_list_filters_by_text_place_tag_status_model_and_group(client, container, world):
    tree = await make_tree(client, world.admin)
    a = await factories.camera(
        container, tenant_id=world.a.id, name="Lobby door", zone_id=tree.lobby, tags=["entrance"], status="online"
    )
    b = await factories.camera(
        container,
        tenant_id=world.a.id,
        name="Dock 50%_off",
        zone_id=tree.dock,
        tags=["dock", "entrance_2"],
        enabled_models=["anpr"],
    )
    c = await factories.camera(
        container, tenant_id=world.a.id, name="Lab bench", zone_id=tree.lab, status="offline", enabled_models=["motion"]
    )
    d = await factories.camera(container, tenant_id=world.a.id, name="Yard", tags=["outdoor"])
    group = (
        await client.post(
            GROUPS, headers=world.admin.headers, json={"name": "Night", "camera_ids": [str(c.id), str(d.id)]}
        )
    ).json()

    async def names(**params: Any) -> list[str]:
        r = await client.get(CAMERAS, headers=world.viewer.headers, params=params)
        assert r.status_code == 200, r.text
        return [item["name"] for item in r.json()["items"]]

    assert await names() == ["Dock 50%_off", "Lab bench", "Lobby door", "Yard"]
    assert await names(q="LAB") == ["Lab bench"]
    assert await names(q="50%_") == ["Dock 50%_off"]
    assert await names(q="%") == ["Dock 50%_off"]
    assert await names(node_id=tree.site) == ["Dock 50%_off", "Lab bench", "Lobby door"]
    assert await names(node_id=tree.f1) == ["Dock 50%_off", "Lobby door"]
    assert await names(node_id=tree.lab) == ["Lab bench"]
    assert await names(tag="Entrance") == ["Lobby door"]
    assert await names(tag="entrance_2") == ["Dock 50%_off"]
    assert await names(tag="entr") == []
    assert await names(status="online") == ["Lobby door"]
    assert await names(status="unknown") == ["Dock 50%_off", "Yard"]
    assert await names(model="anpr") == ["Dock 50%_off"]
    assert await names(group_id=group["id"]) == ["Lab bench", "Yard"]
    assert await names(node_id=tree.f1, tag="entrance") == ["Lobby door"]
    assert {a.id, b.id} == {
        uuid.UUID(i)
        for i in [
            x["id"]
            for x in (await client.get(CAMERAS, headers=world.viewer.headers, params={"node_id": tree.f1})).json()[
                "items"
            ]
        ]
    }


async def test_the_list_pages(client, container, world):
    for i in range(5):
        await factories.camera(container, tenant_id=world.a.id, name=f"Cam {i}")

    r = await client.get(CAMERAS, headers=world.viewer.headers, params={"limit": 2, "offset": 2})

    assert r.json()["total"] == 5 and (r.json()["limit"], r.json()["offset"]) == (2, 2)
    assert [c["name"] for c in r.json()["items"]] == ["Cam 2", "Cam 3"]


async def test_bad_list_filters_are_422(client, world):
    for params in ({"status": "sleeping"}, {"model": "teleport"}, {"node_id": "nope"}, {"limit": 0}):
        assert_problem(await client.get(CAMERAS, headers=world.viewer.headers, params=params), 422)
    assert_problem(await client.get(CAMERAS, headers=world.viewer.headers, params={"node_id": new_id()}), 404)


async def test_cameras_move_between_zones(client, container, world):
    tree = await make_tree(client, world.admin)
    cams = [await factories.camera(container, tenant_id=world.a.id, zone_id=tree.lobby) for _ in range(2)]

    r = await client.post(
        f"{CAMERAS}/move",
        headers=world.supervisor.headers,
        json={"camera_ids": [str(c.id) for c in cams], "zone_id": tree.lab},
    )

    assert r.status_code == 200, r.text
    assert {c["zone_id"] for c in r.json()} == {tree.lab}
    lab = await client.get(CAMERAS, headers=world.viewer.headers, params={"node_id": tree.lab})
    assert lab.json()["total"] == 2
    out = await client.post(
        f"{CAMERAS}/move", headers=world.admin.headers, json={"camera_ids": [str(cams[0].id)], "zone_id": None}
    )
    assert out.json()[0]["zone_id"] is None


async def test_a_move_with_an_unknown_camera_moves_nothing(client, container, world):
    tree = await make_tree(client, world.admin)
    cam = await factories.camera(container, tenant_id=world.a.id, zone_id=tree.lobby)

    r = await client.post(
        f"{CAMERAS}/move",
        headers=world.admin.headers,
        json={"camera_ids": [str(cam.id), new_id()], "zone_id": tree.lab},
    )
    not_zone = await client.post(
        f"{CAMERAS}/move", headers=world.admin.headers, json={"camera_ids": [str(cam.id)], "zone_id": tree.site}
    )

    assert_problem(r, 404)
    assert_problem(not_zone, 422)
    assert (await client.get(f"{CAMERAS}/{cam.id}", headers=world.admin.headers)).json()["zone_id"] == tree.lobby


# --- groups ---------------------------------------------------------------------------------------


async def test_groups_hold_cameras_and_lose_deleted_ones(client, container, world):
    one = await factories.camera(container, tenant_id=world.a.id)
    two = await factories.camera(container, tenant_id=world.a.id)
    r = await client.post(
        GROUPS,
        headers=world.admin.headers,
        json={"name": "Entrances", "camera_ids": [str(one.id), str(two.id), str(one.id)]},
    )
    assert r.status_code == 201, r.text
    group = r.json()
    assert sorted(group["camera_ids"]) == sorted([str(one.id), str(two.id)])

    await client.delete(f"{CAMERAS}/{one.id}", headers=world.admin.headers)

    got = await client.get(f"{GROUPS}/{group['id']}", headers=world.viewer.headers)
    assert got.json()["camera_ids"] == [str(two.id)]


async def test_groups_are_renamed_refilled_listed_and_deleted(client, container, world):
    cam = await factories.camera(container, tenant_id=world.a.id)
    group = (await client.post(GROUPS, headers=world.admin.headers, json={"name": "Old"})).json()

    patched = await client.patch(
        f"{GROUPS}/{group['id']}", headers=world.admin.headers, json={"name": "New", "camera_ids": [str(cam.id)]}
    )
    listed = await client.get(GROUPS, headers=world.viewer.headers)
    deleted = await client.delete(f"{GROUPS}/{group['id']}", headers=world.admin.headers)

    assert (patched.json()["name"], patched.json()["camera_ids"]) == ("New", [str(cam.id)])
    assert [g["name"] for g in listed.json()["items"]] == ["New"]
    assert deleted.status_code == 204
    assert (await client.get(f"{CAMERAS}/{cam.id}", headers=world.admin.headers)).status_code == 200


async def test_group_names_are_unique_and_members_must_exist(client, world):
    await client.post(GROUPS, headers=world.admin.headers, json={"name": "Entrances"})

    dup = await client.post(GROUPS, headers=world.admin.headers, json={"name": "ENTRANCES"})
    ghost = await client.post(GROUPS, headers=world.admin.headers, json={"name": "Ghosts", "camera_ids": [new_id()]})

    assert_problem(dup, 409)
    assert_problem(ghost, 404)


async def test_rows_read_by_the_orm_match_the_api(container, world):
    cam = await factories.camera(container, tenant_id=world.a.id, tags=["x"])
    async with container.unit_of_work(TenantScope.of(world.a.id), Actor.system("test")) as uow:
        row = (await uow.session.execute(select(Camera).where(Camera.id == cam.id))).scalar_one()
    assert (row.tags, row.status, row.auth_method, row.credentials) == (["x"], "unknown", "none", None)
