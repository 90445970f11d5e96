"""Bulk import of cameras through the API: CSV and XLSX, dry run, per-row errors with row numbers,
partial success, idempotent re-import by external_id, the license limit, probing, bad files,
roles and tenant isolation, and the downloadable template."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from tests import factories
from tests.unit.cameras.conftest import (
    A_MODELS,
    CAMERAS,
    HD_1080,
    FakeProber,
    assert_problem,
    count_rows,
    make_tree,
    node,
)
from vms.auth.permissions import Role
from vms.bootstrap import Container
from vms.cameras import service
from vms.cameras.bulk_import import COLUMNS, MAX_ROWS
from vms.cameras.models import Camera
from vms.cameras.probe import StreamCredentials, StreamInfo
from vms.kernel.errors import StreamUnreachable
from vms.kernel.tenancy import TenantScope
from vms.uow import Actor

IMPORT = f"{CAMERAS}/import"
TEMPLATE = f"{CAMERAS}/import/template"
PASSWORD = "Imp0rt-$ecret"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOBBY = "HQ/Main/F1/Lobby"
# Data row i of a file sits on spreadsheet row i + 2 (the header is row 1).
BAD = {10: "main_url", 50: "enabled_models", 90: "zone_path", 130: "name", 170: "external_id"}


@dataclass
class Customers:
    """Customer A (room for 500 cameras; Admin and Viewer signed in) and customer B (Admin)."""

    admin: factories.SignedIn
    viewer: factories.SignedIn
    b_admin: factories.SignedIn


@pytest.fixture
async def ab(client: httpx.AsyncClient, container: Container, prober: FakeProber) -> Customers:
    a = await factories.customer(container, camera_limit=500, models=A_MODELS)
    b = await factories.customer(container, camera_limit=500, models=A_MODELS)
    return Customers(
        admin=await factories.account(client, container, tenant_id=a.id, role=Role.ADMIN),
        viewer=await factories.account(client, container, tenant_id=a.id, role=Role.VIEWER),
        b_admin=await factories.account(client, container, tenant_id=b.id, role=Role.ADMIN),
    )


def camera_row(i: int, **overrides: str) -> dict[str, str]:
    """A valid row for camera i."""
    row = {
        "name": f"Camera {i}",
        "main_url": f"rtsp://10.1.{i // 250}.{i % 250 + 1}:554/Streaming/Channels/101",
        "sub_url": f"rtsp://10.1.{i // 250}.{i % 250 + 1}:554/Streaming/Channels/102",
        "username": "viewer",
        "password": PASSWORD,
        "auth_method": "digest",
        "manufacturer": "Hikvision",
        "model": "DS-2CD2T86G2",
        "firmware": "V5.7.3",
        "zone_path": LOBBY,
        "tags": "entrance;Floor 1",
        "enabled_models": "motion;intrusion",
        "external_id": f"nvr-1/ch{i}",
    }
    return {**row, **overrides}


def two_hundred_with_five_bad() -> list[dict[str, str]]:
    """200 rows; rows at the indexes of BAD are wrong in the column BAD names."""
    rows = [camera_row(i) for i in range(200)]
    rows[10]["main_url"] = "ftp://10.0.0.1/stream"
    rows[50]["enabled_models"] = "motion;teleportation"
    rows[90]["zone_path"] = "HQ/Main/F9/Nowhere"
    rows[130]["name"] = ""
    rows[170]["external_id"] = rows[20]["external_id"]
    return rows


def to_csv(rows: list[dict[str, str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def to_xlsx(rows: list[dict[str, str]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[c] or None for c in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient,
    who: factories.SignedIn,
    content: bytes,
    *,
    filename: str = "cameras.csv",
    content_type: str = "text/csv",
    dry_run: bool = False,
    probe: bool = False,
) -> httpx.Response:
    return await client.post(
        IMPORT,
        headers=who.headers,
        params={"dry_run": str(dry_run).lower(), "probe": str(probe).lower()},
        files={"file": (filename, content, content_type)},
    )


async def cameras_of_all_tenants(container: Container) -> list[Camera]:
    async with container.unit_of_work(TenantScope.platform(), Actor.system("test")) as uow:
        return list((await uow.session.execute(select(Camera))).scalars())


def assert_the_five_bad_rows(report: dict[str, Any]) -> None:
    got = [(e["row"], e["field"]) for e in report["errors"]]
    assert got == [(i + 2, column) for i, column in sorted(BAD.items())], report["errors"]
    messages = {e["field"]: e["message"] for e in report["errors"]}
    assert "rtsp://" in messages["main_url"]
    assert "Unknown AI model 'teleportation'" in messages["enabled_models"]
    assert "HQ/Main/F9/Nowhere" in messages["zone_path"]
    assert messages["name"] == "name is required."
    assert "already on row 22" in messages["external_id"]


# --- the 200-camera file --------------------------------------------------------------------------


async def test_200_cameras_with_5_bad_rows_create_195_and_report_each_bad_row(client, container, ab):
    await make_tree(client, ab.admin)

    r = await upload(client, ab.admin, to_csv(two_hundred_with_five_bad()))

    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["dry_run"], report["total_rows"]) == (False, 200)
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (195, 0, 0, 5)
    assert_the_five_bad_rows(report)
    assert len(set(report["cameras"])) == 195
    assert PASSWORD not in r.text
    stored = await cameras_of_all_tenants(container)
    assert len(stored) == 195
    first = next(c for c in stored if c.external_id == "nvr-1/ch0")
    assert first.credentials and PASSWORD not in first.credentials
    assert (first.auth_method, first.tags, sorted(first.enabled_models)) == (
        "digest",
        ["entrance", "floor 1"],
        ["intrusion", "motion"],
    )
    got = (await client.get(f"{CAMERAS}/{first.id}", headers=ab.admin.headers)).json()
    assert got["has_credentials"] and got["zone_id"] is not None and got["main_stream"] is None


async def test_importing_the_same_file_again_changes_nothing(client, container, ab):
    await make_tree(client, ab.admin)
    content = to_csv(two_hundred_with_five_bad())
    first = (await upload(client, ab.admin, content)).json()

    r = await upload(client, ab.admin, content)

    report = r.json()
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (0, 0, 195, 5)
    assert sorted(report["cameras"]) == sorted(first["cameras"])
    assert_the_five_bad_rows(report)
    assert await count_rows(container, Camera) == 195


async def test_a_changed_row_updates_its_camera(client, container, ab, prober):
    await make_tree(client, ab.admin)
    rows = [camera_row(i) for i in range(5)]
    first = (await upload(client, ab.admin, to_csv(rows))).json()
    rows[2] = camera_row(2, name="Gate (renamed)", tags="gate", enabled_models="anpr", zone_path="")
    rows[3] = camera_row(3, password="New-Pa55word")

    r = await upload(client, ab.admin, to_csv(rows))

    report = r.json()
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (0, 2, 3, 0), report
    assert report["cameras"] == first["cameras"]
    cam = (await client.get(f"{CAMERAS}/{first['cameras'][2]}", headers=ab.admin.headers)).json()
    assert (cam["name"], cam["tags"], cam["enabled_models"], cam["zone_id"]) == (
        "Gate (renamed)",
        ["gate"],
        ["anpr"],
        None,
    )
    assert "New-Pa55word" not in r.text
    camera = next(c for c in await cameras_of_all_tenants(container) if str(c.id) == first["cameras"][3])
    creds = service.stream_credentials(container.identity.secrets, camera)
    assert creds == StreamCredentials(username="viewer", password="New-Pa55word")
    audit = await client.get("/api/v1/audit", headers=ab.admin.headers, params={"resource_id": first["cameras"][2]})
    assert sorted(i["action"] for i in audit.json()["items"]) == ["create", "update"]
    assert prober.calls == []  # probing during import is off by default


async def test_blank_credential_cells_keep_the_cameras_credentials(client, container, ab):
    rows = [camera_row(i, zone_path="") for i in range(3)]
    first = (await upload(client, ab.admin, to_csv(rows))).json()
    blank = [camera_row(i, zone_path="", username="", password="", auth_method="") for i in range(3)]

    report = (await upload(client, ab.admin, to_csv(blank))).json()

    assert (report["unchanged"], report["updated"]) == (3, 0)
    cam = (await client.get(f"{CAMERAS}/{first['cameras'][0]}", headers=ab.admin.headers)).json()
    assert (cam["auth_method"], cam["has_credentials"]) == ("digest", True)


async def test_a_dry_run_reports_the_same_and_writes_nothing(client, container, ab):
    await make_tree(client, ab.admin)

    r = await upload(client, ab.admin, to_csv(two_hundred_with_five_bad()), dry_run=True)

    report = r.json()
    assert (report["dry_run"], report["created"], report["failed"]) == (True, 195, 5)
    assert_the_five_bad_rows(report)
    assert report["cameras"] == []
    assert await count_rows(container, Camera) == 0
    audit = await client.get("/api/v1/audit", headers=ab.admin.headers, params={"resource_type": "camera"})
    assert audit.json()["total"] == 0


async def test_an_upload_is_a_dry_run_unless_asked_otherwise(client, container, ab):
    r = await client.post(
        IMPORT, headers=ab.admin.headers, files={"file": ("c.csv", to_csv([camera_row(1, zone_path="")]), "text/csv")}
    )

    assert (r.json()["dry_run"], r.json()["created"]) == (True, 1)
    assert await count_rows(container, Camera) == 0


async def test_a_real_import_writes_one_summary_audit_record(client, ab):
    await make_tree(client, ab.admin)
    await upload(client, ab.admin, to_csv(two_hundred_with_five_bad()))

    r = await client.get("/api/v1/audit", headers=ab.admin.headers, params={"resource_type": "camera_import"})

    items = r.json()["items"]
    assert [i["action"] for i in items] == ["import"]
    assert items[0]["new_value"]["created"] == 195 and items[0]["new_value"]["failed"] == 5
    cams = await client.get("/api/v1/audit", headers=ab.admin.headers, params={"resource_type": "camera", "limit": 1})
    assert cams.json()["total"] == 195
    assert PASSWORD not in r.text + cams.text


async def test_an_xlsx_file_imports_like_the_csv(client, container, ab):
    await make_tree(client, ab.admin)

    r = await upload(client, ab.admin, to_xlsx(two_hundred_with_five_bad()), filename="cams.xlsx", content_type=XLSX)

    report = r.json()
    assert (report["total_rows"], report["created"], report["failed"]) == (200, 195, 5), report
    assert_the_five_bad_rows(report)
    again = (await upload(client, ab.admin, to_xlsx(two_hundred_with_five_bad()), filename="cams.xlsx")).json()
    assert (again["created"], again["unchanged"]) == (0, 195)
    assert await count_rows(container, Camera) == 195


async def test_semicolon_csv_with_a_bom_and_blank_rows_is_read(client, ab):
    content = to_csv([camera_row(1, zone_path=""), camera_row(2, zone_path="", name="")], delimiter=";", bom=True)
    content = content.replace(b"\r\n", b"\r\n\r\n", 1)  # a blank line after the header

    report = (await upload(client, ab.admin, content)).json()

    assert (report["total_rows"], report["created"]) == (2, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(4, "name")]


# --- license --------------------------------------------------------------------------------------


async def test_the_license_limit_lets_the_first_rows_in_and_reports_the_rest(client, container, prober):
    customer = await factories.customer(container, camera_limit=100, models=A_MODELS)
    admin = await factories.account(client, container, tenant_id=customer.id, role=Role.ADMIN)
    await factories.camera(container, tenant_id=customer.id, external_id="nvr-1/ch0")  # updates don't count
    rows = [camera_row(i, zone_path="") for i in range(150)]

    report = (await upload(client, admin, to_csv(rows))).json()

    assert (report["created"], report["updated"], report["failed"]) == (99, 1, 50), report
    assert [e["row"] for e in report["errors"]] == list(range(102, 152))
    assert {e["field"] for e in report["errors"]} == {None}
    assert "The license allows 100 cameras" in report["errors"][0]["message"]
    assert await count_rows(container, Camera) == 100


# --- probing --------------------------------------------------------------------------------------


@dataclass
class SlowProber(FakeProber):
    """A fake prober that takes a moment and records how many probes ran at once."""

    running: int = 0
    most: int = 0

    async def probe(self, url: str, *, credentials: StreamCredentials | None = None) -> StreamInfo:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            return await super().probe(url, credentials=credentials)
        finally:
            self.running -= 1


async def test_with_probe_new_streams_are_probed_eight_at_a_time_and_failures_are_row_errors(client, container, ab):
    slow = SlowProber()
    container.prober = slow
    rows = [camera_row(i, zone_path="") for i in range(20)]
    slow.streams = {rows[4]["sub_url"]: StreamUnreachable("Nothing answered at 10.1.0.5:554.")}

    report = (await upload(client, ab.admin, to_csv(rows), probe=True)).json()

    assert (report["created"], report["failed"]) == (19, 1), report
    assert report["errors"] == [
        {"row": 6, "field": "sub_url", "message": "Sub stream: Nothing answered at 10.1.0.5:554."}
    ]
    assert 1 < slow.most <= 8
    assert len(slow.calls) == 40
    assert {creds for _, creds in slow.calls} == {StreamCredentials(username="viewer", password=PASSWORD)}
    cam = (await client.get(f"{CAMERAS}/{report['cameras'][0]}", headers=ab.admin.headers)).json()
    assert cam["main_stream"]["height"] == HD_1080.height and cam["probed_at"] is not None

    slow.calls.clear()
    slow.streams = {}  # the camera of row 6 is fixed
    rows[0] = camera_row(0, zone_path="", main_url="rtsp://10.9.9.9/new")
    again = (await upload(client, ab.admin, to_csv(rows), probe=True)).json()
    assert (again["updated"], again["unchanged"], again["created"]) == (1, 18, 1)
    assert sorted(url for url, _ in slow.calls) == sorted(
        ["rtsp://10.9.9.9/new", rows[4]["main_url"], rows[4]["sub_url"]]
    )


# --- bad files ------------------------------------------------------------------------------------


async def test_garbage_in_a_csv_is_refused(client, container, ab):
    r = await upload(client, ab.admin, bytes(range(256)) * 10)
    assert "not UTF-8" in assert_problem(r, 422)["detail"]

    r = await upload(client, ab.admin, b"hello,world\n1,2\n")
    assert "lacks the columns name, main_url, external_id" in assert_problem(r, 422)["detail"]

    r = await upload(client, ab.admin, b"name,main_url,external_id,colour\nA,rtsp://h/1,x,red\n")
    assert "Unknown column colour" in assert_problem(r, 422)["detail"]

    r = await upload(client, ab.admin, to_xlsx([camera_row(1)]), filename="cams.csv")
    assert "name it .xlsx" in assert_problem(r, 422)["detail"]
    assert await count_rows(container, Camera) == 0


async def test_a_damaged_xlsx_is_refused(client, container, ab):
    r = await upload(client, ab.admin, b"PK\x03\x04 not really a zip", filename="c.xlsx", content_type=XLSX)
    assert "not a readable XLSX" in assert_problem(r, 422)["detail"]
    assert await count_rows(container, Camera) == 0


async def test_other_file_types_are_refused(client, ab):
    r = await upload(client, ab.admin, b"\x89PNG\r\n\x1a\n", filename="cams.png", content_type="image/png")
    assert ".csv" in assert_problem(r, 415, "Unsupported file type")["detail"]

    r = await upload(client, ab.admin, b"x", filename="cams.xls", content_type="application/vnd.ms-excel")
    assert_problem(r, 415)


async def test_an_empty_file_is_refused(client, ab):
    assert "empty" in assert_problem(await upload(client, ab.admin, b""), 422)["detail"]
    assert "no header" in assert_problem(await upload(client, ab.admin, b"\r\n ,,\r\n"), 422)["detail"]


async def test_a_file_over_the_body_limit_is_refused(client, container, ab):
    rows = [camera_row(i, zone_path="", name="x" * 190) for i in range(3_000)]
    content = to_csv(rows)
    assert len(content) > container.settings.api.max_body_bytes

    assert_problem(await upload(client, ab.admin, content), 413)
    assert await count_rows(container, Camera) == 0


async def test_more_than_5000_rows_are_refused(client, container, ab):
    lines = ["name,main_url,external_id"] + [f"c{i},rtsp://h/{i},e{i}" for i in range(MAX_ROWS + 1)]

    r = await upload(client, ab.admin, "\n".join(lines).encode())

    assert f"more than {MAX_ROWS} rows" in assert_problem(r, 422)["detail"]
    assert await count_rows(container, Camera) == 0


# --- roles and tenants ----------------------------------------------------------------------------


async def test_a_viewer_cannot_import_or_fetch_the_template(client, container, ab):
    assert_problem(await upload(client, ab.viewer, to_csv([camera_row(1, zone_path="")])), 403)
    assert_problem(await client.get(TEMPLATE, headers=ab.viewer.headers), 403)
    assert await count_rows(container, Camera) == 0


async def test_an_external_id_of_another_customer_is_not_touched(client, container, ab):
    await upload(client, ab.b_admin, to_csv([camera_row(1, zone_path="", name="B's camera")]))

    report = (await upload(client, ab.admin, to_csv([camera_row(1, zone_path="", name="A's camera")]))).json()

    assert (report["created"], report["updated"]) == (1, 0)
    names = sorted(c.name for c in await cameras_of_all_tenants(container))
    assert names == ["A's camera", "B's camera"]


# --- the template ---------------------------------------------------------------------------------


async def a_tree_for_the_example(client: httpx.AsyncClient, who: factories.SignedIn) -> None:
    site = await node(client, who, "site", "HQ")
    building = await node(client, who, "building", "Building A", site)
    await node(client, who, "zone", "Lobby", await node(client, who, "floor", "Floor 1", building))


async def test_the_csv_template_imports_without_errors(client, ab):
    await a_tree_for_the_example(client, ab.admin)

    r = await client.get(TEMPLATE, headers=ab.admin.headers)

    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="cameras-import-template.csv"'
    header = r.content.decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == list(COLUMNS)
    report = (await upload(client, ab.admin, r.content)).json()
    assert (report["created"], report["errors"]) == (1, [])


async def test_the_xlsx_template_imports_without_errors(client, ab):
    await a_tree_for_the_example(client, ab.admin)

    r = await client.get(TEMPLATE, headers=ab.admin.headers, params={"format": "xlsx"})

    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == 'attachment; filename="cameras-import-template.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    report = (await upload(client, ab.admin, r.content, filename="template.xlsx", content_type=XLSX)).json()
    assert (report["created"], report["errors"]) == (1, [])


async def test_an_unknown_template_format_is_refused(client, ab):
    assert_problem(await client.get(TEMPLATE, headers=ab.admin.headers, params={"format": "pdf"}), 422)
