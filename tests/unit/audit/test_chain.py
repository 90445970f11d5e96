"""The hash chain itself, without a store: canonical encoding, links, and what verification reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vms.audit.chain import GENESIS, KEYED, PLAIN, ChainVerifier, canonical, chain_of, link
from vms.ports import AuditEntry, AuditLink

KEY = b"a-chain-key-of-thirty-two-bytes!"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _entry(i: int, *, tenant: uuid.UUID | None = None, at: datetime | None = None) -> AuditEntry:
    return AuditEntry(
        id=uuid.uuid4(),
        at=at or START + timedelta(seconds=i),
        tenant_id=tenant,
        actor_id=None,
        actor="chain-test",
        action="update",
        resource_type="camera",
        resource_id=f"cam-{i}",
        old_value={"fps": i},
        new_value={"fps": i + 1, "name": "Ü 入口"},
    )


def _chain(count: int, *, key: bytes | None = None, tenant: uuid.UUID | None = None) -> list[AuditLink]:
    links: list[AuditLink] = []
    for i in range(count):
        prev = links[-1].hash if links else GENESIS
        links.append(link(_entry(i, tenant=tenant), seq=i + 1, prev_hash=prev, key=key))
    return links


def _verify(links: list[AuditLink], *, key: bytes | None = None, chain: str = "platform", page: int = 3):
    verifier = ChainVerifier(chain=chain, key=key)
    for start in range(0, len(links), page):
        verifier.feed(links[start : start + page])
    return verifier.report(unchained=0)


def test_the_canonical_form_is_sorted_compact_json_with_microsecond_utc_times():
    entry = _entry(0, at=datetime(2026, 3, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))))
    text = canonical(entry, chain="platform", seq=7, prev_hash=GENESIS, alg=PLAIN).decode()
    assert text.startswith('{"action":"update","actor":"chain-test","actor_id":null,"alg":"sha256",')
    assert '"at":"2026-03-01T12:00:00.000005Z"' in text
    assert '"seq":7' in text and '"name":"Ü 入口"' in text
    assert " " not in text.replace("Ü 入口", "")


def test_the_same_instant_in_another_offset_or_naive_utc_hashes_the_same():
    entry = _entry(0)
    shifted = entry.model_copy(update={"at": entry.at.astimezone(timezone(timedelta(hours=-5)))})
    naive = entry.model_copy(update={"at": entry.at.replace(tzinfo=None)})
    hashes = {link(e, seq=1, prev_hash=GENESIS, key=None).hash for e in (entry, shifted, naive)}
    assert len(hashes) == 1


def test_every_field_and_the_place_in_the_chain_are_covered_by_the_hash():
    entry = _entry(0)
    base = link(entry, seq=1, prev_hash=GENESIS, key=None).hash
    changes = {
        "actor": "someone else",
        "action": "delete",
        "resource_id": "cam-x",
        "old_value": {"fps": 1},
        "new_value": None,
        "tenant_id": uuid.uuid4(),
        "at": entry.at + timedelta(microseconds=1),
        "ip": "10.0.0.1",
        "request_id": "r",
        "actor_id": uuid.uuid4(),
        "id": uuid.uuid4(),
    }
    for name, value in changes.items():
        assert link(entry.model_copy(update={name: value}), seq=1, prev_hash=GENESIS, key=None).hash != base, name
    assert link(entry, seq=2, prev_hash=GENESIS, key=None).hash != base
    assert link(entry, seq=1, prev_hash="f" * 64, key=None).hash != base
    assert link(entry, seq=1, prev_hash=GENESIS, key=KEY).hash != base


def test_chains_are_named_by_tenant():
    tenant = uuid.uuid4()
    assert chain_of(None) == "platform"
    assert chain_of(tenant) == str(tenant)
    assert link(_entry(0, tenant=tenant), seq=1, prev_hash=GENESIS, key=None).chain == str(tenant)


def test_an_intact_chain_verifies_across_pages_and_reports_its_head():
    links = _chain(7)
    report = _verify(links, page=3)
    assert (report.ok, report.records_checked, report.broken) == (True, 7, None)
    assert (report.head_seq, report.head_hash, report.first_keyed_seq) == (7, links[-1].hash, None)


def test_an_empty_chain_holds():
    report = _verify([])
    assert (report.ok, report.records_checked, report.head_seq, report.head_hash) == (True, 0, None, None)


def test_unchained_records_fail_an_otherwise_intact_chain():
    verifier = ChainVerifier(chain="platform", key=None)
    verifier.feed(_chain(2))
    report = verifier.report(unchained=3)
    assert (report.ok, report.unchained, report.broken) == (False, 3, None)


def test_an_edit_is_reported_at_its_seq_and_checking_stops_there():
    links = _chain(6)
    edited = links[3].entry.model_copy(update={"new_value": {"fps": 99}})
    links[3] = AuditLink(**{**_fields(links[3]), "entry": edited})
    links[5] = AuditLink(**{**_fields(links[5]), "hash": "0" * 64})  # a later break is not reported
    report = _verify(links)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.id, report.broken.reason) == (4, edited.id, "edited")
    assert report.broken.found == links[3].hash
    assert report.records_checked == 4
    assert report.head_seq == 4


@pytest.mark.parametrize(("removed", "detail"), [([0], "Record(s) 1 of"), ([2, 3], "Record(s) 3 to 4 of")])
def test_removed_records_are_reported_as_missing(removed: list[int], detail: str):
    links = [x for i, x in enumerate(_chain(6)) if i not in removed]
    report = _verify(links)
    assert report.broken is not None
    assert report.broken.reason == "missing"
    assert report.broken.seq == removed[-1] + 2
    assert report.broken.expected == str(removed[0] + 1)
    assert report.broken.detail.startswith(detail)


def test_a_consistently_rehashed_record_breaks_the_link_after_it():
    links = _chain(5)
    forged = link(links[1].entry.model_copy(update={"action": "delete"}), seq=2, prev_hash=links[0].hash, key=None)
    links[1] = forged
    report = _verify(links)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.reason) == (3, "reordered")
    assert (report.broken.expected, report.broken.found) == (forged.hash, links[2].prev_hash)


def test_swapped_records_are_caught():
    links = _chain(4)
    swapped = [links[0], AuditLink(**{**_fields(links[2]), "seq": 2}), AuditLink(**{**_fields(links[1]), "seq": 3})]
    report = _verify(swapped)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.reason) == (2, "edited")


def test_a_record_from_another_chain_is_caught():
    tenant = uuid.uuid4()
    links = _chain(2, tenant=tenant)
    report = _verify(links, chain="platform")
    assert report.broken is not None
    assert (report.broken.seq, report.broken.reason) == (1, "edited")
    assert _verify(links, chain=str(tenant)).ok


def test_a_keyed_chain_needs_the_key_and_resists_rehashing_without_it():
    links = _chain(4, key=KEY)
    assert {x.alg for x in links} == {KEYED}
    good = _verify(links, key=KEY)
    assert (good.ok, good.first_keyed_seq) == (True, 1)

    no_key = _verify(links, key=None)
    assert no_key.broken is not None
    assert (no_key.broken.seq, no_key.broken.reason) == (1, "unverifiable")
    wrong = _verify(links, key=b"x" * 32)
    assert wrong.broken is not None
    assert (wrong.broken.seq, wrong.broken.reason) == (1, "edited")

    # A forger without the key edits record 3 and re-hashes 3 and 4 with plain SHA-256.
    forged = list(links[:2])
    for old in links[2:]:
        entry = old.entry.model_copy(update={"action": "delete"})
        forged.append(link(entry, seq=old.seq, prev_hash=forged[-1].hash, key=None))
    report = _verify(forged, key=KEY)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.reason) == (3, "downgraded")


def test_a_key_introduced_on_a_live_chain_keeps_the_plain_prefix_valid():
    links = _chain(2)
    for i in (2, 3):
        links.append(link(_entry(i), seq=i + 1, prev_hash=links[-1].hash, key=KEY))
    report = _verify(links, key=KEY)
    assert (report.ok, report.records_checked, report.first_keyed_seq) == (True, 4, 3)


def test_an_unknown_algorithm_is_an_edit():
    links = _chain(1)
    links[0] = AuditLink(**{**_fields(links[0]), "alg": "md5"})
    report = _verify(links)
    assert report.broken is not None
    assert (report.broken.reason, report.broken.found) == ("edited", "md5")


def _fields(item: AuditLink) -> dict[str, object]:
    return {name: getattr(item, name) for name in ("entry", "chain", "seq", "prev_hash", "hash", "alg")}
