"""Bulk import of cameras from CSV or XLSX: dry run, per-row errors, partial success, upsert by external id.

A file is read into rows (`read_table`), each row is validated through the same `CameraCreate`
schema as the API, and the valid rows are written through the same service calls
(`create_camera`, `update_camera`), so an imported camera is checked, encrypted and audited
exactly like one added by hand. Rows are matched to cameras by `external_id`, which every row
must carry: that is what makes a second import of the same file update instead of duplicating.

Choices:
- Partial success: a bad row is reported and skipped; the good rows are written in the request's
  one unit of work. A failure of the file as a whole (type, size, headers, row cap, expired
  license) refuses everything with a 4xx.
- License: new rows are counted against the camera limit in file order; once the limit is
  reached, every further new row is an error and earlier ones proceed. Updates never count.
- Blank cells clear optional fields (the row describes the whole camera), except the credential
  columns: when username, password and auth_method are all blank an existing camera keeps its
  credentials, so a file kept without passwords never wipes them.
- A dry run goes through the very same steps and then rolls the unit of work back, so its report
  is exactly what a real run would do (created cameras have no ids yet, so it lists none).
- Probing is off by default (200 cameras take minutes); with it on, every new or changed stream is
  probed up front, at most eight at a time, and a failure is reported on its row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any, Literal

import openpyxl
import structlog
from openpyxl.styles import Font
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select

from vms.cameras import service
from vms.cameras.models import Camera, Node, NodeKind
from vms.cameras.probe import Prober, StreamCredentials, StreamInfo
from vms.cameras.schemas import CameraAuth, CameraCreate, CameraUpdate, ImportReport, ImportRowError
from vms.kernel.ai_models import AiModel
from vms.kernel.crypto import SecretBox
from vms.kernel.errors import (
    Conflict,
    Forbidden,
    LicenseLimitReached,
    ModelNotLicensed,
    NotFound,
    PayloadTooLarge,
    StreamProblem,
    ValidationFailed,
    VmsError,
)
from vms.tenants import service as tenants
from vms.uow import UnitOfWork

log = structlog.get_logger(__name__)

MAX_ROWS = 5_000
PROBE_CONCURRENCY = 8
MAX_COLUMNS = 64  # an XLSX sheet can claim thousands of columns; ours has 13
COLUMNS = (
    "name",
    "main_url",
    "sub_url",
    "username",
    "password",
    "auth_method",
    "manufacturer",
    "model",
    "firmware",
    "zone_path",
    "tags",
    "enabled_models",
    "external_id",
)
REQUIRED = ("name", "main_url", "external_id")
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FileFormat = Literal["csv", "xlsx"]
EXAMPLE = {
    "name": "Lobby entrance",
    "main_url": "rtsp://10.0.0.7:554/Streaming/Channels/101",
    "sub_url": "rtsp://10.0.0.7:554/Streaming/Channels/102",
    "username": "viewer",
    "password": "change-me",
    "auth_method": "digest",
    "manufacturer": "Hikvision",
    "model": "DS-2CD2T86G2",
    "firmware": "V5.7.3",
    "zone_path": "HQ/Building A/Floor 1/Lobby",
    "tags": "entrance;lobby",
    "enabled_models": "intrusion;motion",
    "external_id": "nvr-1/ch1",
}
_CREDENTIAL_COLUMNS = ("username", "password", "auth_method")
_EXTRA = "\x00extra"  # marks a row with cells beyond the header (no column can have this name)
_SECRET_KEYS = ("username", "password", "token", "client_cert_pem", "client_key_pem")


class UnsupportedFileType(VmsError):
    """The upload is neither a CSV nor an XLSX file."""

    status = 415
    title = "Unsupported file type"


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its number as a spreadsheet shows it (header = 1) and its cells by column."""

    number: int
    values: dict[str, str]


@dataclass
class _Plan:
    """A valid row and what it will do: create (camera None), update (changes) or nothing."""

    row: int
    data: CameraCreate
    camera: Camera | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    credentials: StreamCredentials | None = None  # what the streams are opened with after the change


# --- reading files --------------------------------------------------------------------------------


def file_format(filename: str | None, content_type: str | None) -> FileFormat:
    """CSV or XLSX, by the file's extension, else by its content type; 415 for anything else."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in (".csv", ".xlsx"):
        return "csv" if suffix == ".csv" else "xlsx"
    kind = (content_type or "").split(";")[0].strip().lower()
    if not suffix and kind in (CSV_TYPE, "application/csv"):
        return "csv"
    if not suffix and kind == XLSX_TYPE:
        return "xlsx"
    shown = f"'{suffix}'" if suffix else f"type '{kind or 'unknown'}'"
    raise UnsupportedFileType(f"A {shown} file cannot be imported; upload a .csv (UTF-8) or .xlsx file.")


def read_table(data: bytes, *, filename: str | None, content_type: str | None, max_bytes: int) -> list[Row]:
    """The data rows of an upload, after checking its type, size, header and row count."""
    kind = file_format(filename, content_type)
    if not data:
        raise ValidationFailed("The file is empty; download the template for the expected columns.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes; split it into several imports.")
    records = _csv_records(data) if kind == "csv" else _xlsx_records(data)
    return _rows(records)


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    if data.startswith(b"PK\x03\x04"):
        raise ValidationFailed("The file is a ZIP archive (an XLSX workbook?), not CSV text; name it .xlsx.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again.") from None
    if "\x00" in text:
        raise ValidationFailed("The file holds binary data, not CSV text.")
    # Spreadsheets in many locales write ';' between cells (',' being their decimal mark): the
    # header decides, since our column names contain neither.
    header = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [cell.strip() for cell in cells]
    except csv.Error as exc:
        raise ValidationFailed(f"The CSV cannot be read near row {reader.line_num}: {exc}.") from None


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    # openpyxl raises a zoo of errors on a damaged workbook (zip, XML, KeyError on missing parts);
    # whatever it raises, the user needs the same answer.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise ValidationFailed("The file is not a readable XLSX workbook; save it again from a spreadsheet.") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            yield number, [_cell_text(value) for value in values]
    except ValidationFailed:
        raise
    except Exception:
        raise ValidationFailed("The XLSX workbook is damaged and cannot be read; save it again.") from None
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _rows(records: Iterable[tuple[int, list[str]]]) -> list[Row]:
    header: list[str] | None = None
    rows: list[Row] = []
    for number, cells in records:
        if not any(cells):
            continue  # blank rows: spreadsheets leave them around
        if header is None:
            header = _header(cells)
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationFailed(f"The file has more than {MAX_ROWS} rows; split it into several imports.")
        extra = [cell for cell in cells[len(header) :] if cell]
        values = {name: cell for name, cell in zip(header, cells, strict=False) if name}
        if extra:
            values[_EXTRA] = "x"  # reported as a row error, not a file error
        rows.append(Row(number=number, values=values))
    if header is None:
        raise ValidationFailed("The file has no header row; download the template for the expected columns.")
    return rows


def _header(cells: list[str]) -> list[str]:
    names = [cell.strip().lower().replace(" ", "_") for cell in cells]
    while names and not names[-1]:
        names.pop()
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ValidationFailed(
            f"The header row lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"expected columns: {', '.join(COLUMNS)}."
        )
    unknown = [name or "(blank)" for name in names if name not in COLUMNS]
    if unknown:
        raise ValidationFailed(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}; "
            f"expected columns: {', '.join(COLUMNS)}."
        )
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ValidationFailed(f"The column{'s' if len(doubled) > 1 else ''} {', '.join(doubled)} appear twice.")
    return names


# --- the template ---------------------------------------------------------------------------------


def template(kind: FileFormat) -> tuple[bytes, str, str]:
    """The import template (header and one example row): its bytes, content type and file name."""
    if kind == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerow([EXAMPLE[name] for name in COLUMNS])
        # The BOM makes Excel open the file as UTF-8 instead of the locale's code page.
        return out.getvalue().encode("utf-8-sig"), f"{CSV_TYPE}; charset=utf-8", "cameras-import-template.csv"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "cameras"
    sheet.append(list(COLUMNS))
    sheet.append([EXAMPLE[name] for name in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, name in zip("ABCDEFGHIJKLM", COLUMNS, strict=True):
        sheet.column_dimensions[column].width = max(len(name), len(EXAMPLE[name])) + 2
    sheet.freeze_panes = "A2"
    out_bytes = io.BytesIO()
    workbook.save(out_bytes)
    return out_bytes.getvalue(), XLSX_TYPE, "cameras-import-template.xlsx"


# --- importing ------------------------------------------------------------------------------------


async def import_cameras(
    *,
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    secrets: SecretBox,
    prober: Prober,
    data: bytes,
    filename: str | None,
    content_type: str | None,
    max_bytes: int,
    dry_run: bool,
    probe: bool,
) -> ImportReport:
    """Validate every row, then create or update the valid ones (or, in a dry run, only report)."""
    rows = await asyncio.to_thread(read_table, data, filename=filename, content_type=content_type, max_bytes=max_bytes)
    errors: list[ImportRowError] = []
    zones = await _zones_by_path(uow)
    existing = {
        camera.external_id: camera
        for camera in (await uow.session.execute(select(Camera).where(Camera.external_id.is_not(None)))).scalars()
    }
    plans: list[_Plan] = []
    seen: dict[str, int] = {}
    for row in rows:
        external_id = row.values.get("external_id", "")
        if external_id and external_id in seen:
            errors.append(
                _error(row.number, "external_id", f"external_id {external_id!r} is already on row {seen[external_id]}.")
            )
            continue
        if external_id:
            seen[external_id] = row.number
        valid, row_errors = _validate(row, zones, probe=probe)
        if valid is None:
            errors.extend(row_errors)
            continue
        plan = _Plan(row=row.number, data=valid, camera=existing.get(external_id))
        if plan.camera is None:
            plan.credentials = _credentials(valid.auth)
        else:
            plan.changes, plan.credentials = _changes(plan.camera, valid, secrets)
        plans.append(plan)

    room = await _room(uow, tenant_id, creating=sum(1 for p in plans if p.camera is None))
    if probe:
        prober = await _probe_ahead(prober, plans)

    created = updated = unchanged = 0
    camera_ids: list[uuid.UUID] = []
    for plan in plans:
        try:
            if plan.camera is None:
                if room is not None and created >= room[0]:
                    errors.append(_error(plan.row, None, room[1]))
                    continue
                read = await service.create_camera(
                    uow=uow, tenant_id=tenant_id, secrets=secrets, prober=prober, data=plan.data
                )
                created += 1
                if not dry_run:
                    camera_ids.append(read.id)
            elif plan.changes:
                update = CameraUpdate.model_validate({**plan.changes, "probe": probe})
                await service.update_camera(
                    uow=uow,
                    tenant_id=tenant_id,
                    secrets=secrets,
                    prober=prober,
                    camera_id=plan.camera.id,
                    data=update,
                )
                updated += 1
                camera_ids.append(plan.camera.id)
            else:
                unchanged += 1
                camera_ids.append(plan.camera.id)
        except (
            StreamProblem,
            ValidationFailed,
            ModelNotLicensed,
            LicenseLimitReached,
            NotFound,
            Forbidden,
            Conflict,
        ) as exc:
            # Each of these is raised before the service changes anything, so the unit of work
            # holds only the rows that passed.
            errors.append(_error(plan.row, _field_of(exc), exc.detail))

    errors.sort(key=lambda e: e.row)
    report = ImportReport(
        dry_run=dry_run,
        total_rows=len(rows),
        created=created,
        updated=updated,
        unchanged=unchanged,
        failed=len({e.row for e in errors}),
        errors=errors,
        cameras=camera_ids,
    )
    counts = report.model_dump(include={"total_rows", "created", "updated", "unchanged", "failed"})
    log.info("camera import", dry_run=dry_run, probe=probe, **counts)
    if dry_run:
        await uow.rollback()  # the same checks as a real run, nothing kept (audit records included)
    else:
        uow.audit("import", "camera_import", uuid.uuid4(), new={**counts, "file": filename, "probe": probe})
    return report


def _validate(
    row: Row, zones: dict[tuple[str, ...], Node], *, probe: bool
) -> tuple[CameraCreate | None, list[ImportRowError]]:
    """The row as a CameraCreate, or every error found in it."""
    values = dict(row.values)
    errors: list[ImportRowError] = []
    if values.pop(_EXTRA, None):
        errors.append(_error(row.number, None, "The row has more cells than the header has columns."))
    for name in REQUIRED:
        if not values.get(name):
            errors.append(_error(row.number, name, f"{name} is required."))
    payload: dict[str, Any] = {"probe": probe}
    for name in ("name", "main_url", "sub_url", "manufacturer", "model", "firmware", "external_id"):
        if values.get(name):
            payload[name] = values[name]
    for name in ("tags", "enabled_models"):
        payload[name] = [part.strip() for part in values.get(name, "").split(";") if part.strip()]
    if any(values.get(name) for name in _CREDENTIAL_COLUMNS):
        auth: dict[str, Any] = {"method": values.get("auth_method") or "basic"}
        for name in ("username", "password"):
            if values.get(name):
                auth[name] = values[name]
        payload["auth"] = auth
    if values.get("zone_path"):
        path = tuple(part.strip().lower() for part in values["zone_path"].split("/") if part.strip())
        zone = zones.get(path)
        if zone is None:
            errors.append(
                _error(row.number, "zone_path", f"No zone at {values['zone_path']!r} (site/building/floor/zone).")
            )
        else:
            payload["zone_id"] = zone.id
    reported = {e.field for e in errors}
    try:
        created = CameraCreate.model_validate(payload)
    except ValidationError as exc:
        for err in exc.errors(include_input=False):
            column = _column(err["loc"])
            if column not in reported:
                errors.append(_error(row.number, column, _message(err, payload)))
        return None, errors
    return (None, errors) if errors else (created, errors)


def _column(loc: tuple[int | str, ...]) -> str | None:
    """The file's column for a CameraCreate error location."""
    if not loc:
        return None
    if loc[0] == "auth":
        return str(loc[1]) if len(loc) > 1 and loc[1] in ("username", "password") else "auth_method"
    return str(loc[0])


def _message(err: Any, payload: dict[str, Any]) -> str:
    loc = err["loc"]
    if loc and loc[0] == "enabled_models" and err["type"] == "enum" and len(loc) > 1:
        key = payload["enabled_models"][int(loc[1])]
        return f"Unknown AI model {key!r}; known models: {', '.join(m.value for m in AiModel)}."
    message = str(err["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


async def _zones_by_path(uow: UnitOfWork) -> dict[tuple[str, ...], Node]:
    """Every zone of the tenant by its lower-cased path of names, site first."""
    nodes = {node.id: node for node in (await uow.session.execute(select(Node))).scalars()}
    found = {}
    for node in nodes.values():
        if node.kind != NodeKind.ZONE:
            continue
        path = [node.name.lower()]
        parent_id = node.parent_id
        while parent_id is not None and parent_id in nodes:
            path.insert(0, nodes[parent_id].name.lower())
            parent_id = nodes[parent_id].parent_id
        found[tuple(path)] = node
    return found


def _changes(camera: Camera, data: CameraCreate, secrets: SecretBox) -> tuple[dict[str, Any], StreamCredentials | None]:
    """What the row changes on an existing camera, and the credentials its streams use afterwards."""
    wanted: dict[str, Any] = {
        "name": data.name,
        "main_url": data.main_url,
        "sub_url": data.sub_url,
        "manufacturer": data.manufacturer,
        "model": data.model,
        "firmware": data.firmware,
        "zone_id": data.zone_id,
        "tags": list(data.tags),
        "enabled_models": [m.value for m in data.enabled_models],
    }
    current: dict[str, Any] = {name: getattr(camera, name) for name in wanted}
    current["enabled_models"] = sorted(current["enabled_models"])
    changes = {name: value for name, value in wanted.items() if value != current[name]}
    credentials = service.stream_credentials(secrets, camera)
    if data.auth is not None:
        new = _credentials(data.auth)
        if data.auth.method.value != camera.auth_method or new != credentials:
            changes["auth"] = data.auth
            credentials = new
    return changes, credentials


def _credentials(auth: CameraAuth | None) -> StreamCredentials | None:
    """The same secrets the service would store for `auth`."""
    if auth is None or not auth.has_secrets:
        return None

    def plain(value: str | SecretStr | None) -> str | None:
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    return StreamCredentials(**{key: plain(getattr(auth, key)) for key in _SECRET_KEYS})


async def _room(uow: UnitOfWork, tenant_id: uuid.UUID, *, creating: int) -> tuple[int, str] | None:
    """None when the license has room for every new camera; else how many fit and what to say to the rest."""
    if not creating:
        return None
    current = int((await uow.session.execute(select(func.count()).select_from(Camera))).scalar_one())
    try:
        await tenants.ensure_can_add_cameras(uow=uow, tenant_id=tenant_id, current=current, adding=creating)
    except LicenseLimitReached:
        license_ = await tenants.ensure_license_active(uow=uow, tenant_id=tenant_id)
        room = max(0, license_.camera_limit - current)
        return room, (
            f"The license allows {license_.camera_limit} cameras ({current} existed before this import); "
            f"only the first {room} new camera{'s' if room != 1 else ''} of the file fit, so this row was not imported."
        )
    return None


@dataclass
class _ProbedAhead:
    """A prober that answers from probes already run, and asks the real one for anything else."""

    prober: Prober
    results: dict[tuple[str, StreamCredentials | None], StreamInfo | BaseException]

    async def probe(self, url: str, *, credentials: StreamCredentials | None = None) -> StreamInfo:
        """The stored result for this URL and credentials, or a fresh probe."""
        result = self.results.get((url, credentials))
        if result is None:
            return await self.prober.probe(url, credentials=credentials)
        if isinstance(result, BaseException):
            raise result
        return result


async def _probe_ahead(prober: Prober, plans: list[_Plan]) -> Prober:
    """Probe every new or changed stream, eight at a time, before the rows are written one by one."""
    wanted: set[tuple[str, StreamCredentials | None]] = set()
    for plan in plans:
        changes = plan.changes
        if plan.camera is None or "main_url" in changes or "auth" in changes:
            wanted.add((plan.data.main_url, plan.credentials))
        if plan.data.sub_url and (plan.camera is None or "sub_url" in changes or "auth" in changes):
            wanted.add((plan.data.sub_url, plan.credentials))
    gate = asyncio.Semaphore(PROBE_CONCURRENCY)

    async def one(url: str, credentials: StreamCredentials | None) -> StreamInfo:
        async with gate:
            return await prober.probe(url, credentials=credentials)

    keys = list(wanted)
    outcomes = await asyncio.gather(*(one(url, creds) for url, creds in keys), return_exceptions=True)
    results: dict[tuple[str, StreamCredentials | None], StreamInfo | BaseException] = {}
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, StreamProblem):
            raise outcome  # a bug or a cancellation, not a camera problem
        results[key] = outcome
    return _ProbedAhead(prober=prober, results=results)


def _field_of(exc: VmsError) -> str | None:
    if isinstance(exc, StreamProblem):
        return "sub_url" if exc.extra.get("stream") == "sub" else "main_url"
    if isinstance(exc, ModelNotLicensed) or "models" in exc.extra:
        return "enabled_models"
    return None


def _error(row: int, column: str | None, message: str) -> ImportRowError:
    return ImportRowError(row=row, field=column, message=message)
