"""The audit log's hash chain: how a record is linked to the one before it, and how a chain is checked.

One chain per tenant (platform records, tenant None, have their own chain "platform"): a tenant's
Admin can verify their own log without seeing anyone else's, and concurrent writers of different
tenants never contend. Every record carries `seq` (1, 2, 3 … per chain, no gaps), `prev_hash` (the
`hash` of seq - 1, or GENESIS for seq 1) and its own `hash` over a canonical encoding of all its
fields plus `prev_hash`. Editing a record breaks its own hash; deleting one leaves a gap in `seq`;
moving or inserting one breaks the next record's `prev_hash`.

The canonical encoding is JSON with sorted keys, no whitespace, UTF-8, ids as lowercase UUID text
and times as UTC with exactly six fractional digits: SQLite (naive text), PostgreSQL (timestamptz)
and MongoDB (microseconds since the epoch) all give back the same instant to the microsecond, and
the encoding depends only on values, not on how a store keeps them.

Plain SHA-256 catches edits by anyone who does not rewrite the rest of the chain too; someone with
write access to the store and time to re-hash every later record would go unnoticed. With a
`chain_key` (settings.audit.chain_key) links are HMAC-SHA256 instead, which cannot be recomputed
without the key. Each record names its algorithm, so a key can be introduced on a live log: the
records before it stay plain, and the report says from which seq the chain is keyed.

Everything here is pure (no I/O): the stores compute links with `link`, the service pages a chain
through `ChainVerifier`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import Any

from vms.audit.schemas import AuditChainBreak, AuditChainReport
from vms.kernel.clock import as_utc
from vms.ports import AuditEntry, AuditLink

GENESIS = "0" * 64
PLATFORM_CHAIN = "platform"
PLAIN = "sha256"
KEYED = "hmac-sha256"


def chain_of(tenant_id: uuid.UUID | None) -> str:
    """The chain a tenant's records belong to: its id as text, or "platform" for provider records."""
    return PLATFORM_CHAIN if tenant_id is None else str(tenant_id)


def canonical(entry: AuditEntry, *, chain: str, seq: int, prev_hash: str, alg: str) -> bytes:
    """The exact bytes a link's hash covers: every field of the record plus its place in the chain.

    >>> canonical(entry, chain="platform", seq=1, prev_hash=GENESIS, alg="sha256")[:20]
    b'{"action":"create","'
    """
    document: dict[str, Any] = {
        "action": entry.action,
        "actor": entry.actor,
        "actor_id": _uuid(entry.actor_id),
        "alg": alg,
        "at": as_utc(entry.at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "chain": chain,
        "id": _uuid(entry.id),
        "ip": entry.ip,
        "new_value": entry.new_value,
        "old_value": entry.old_value,
        "prev_hash": prev_hash,
        "request_id": entry.request_id,
        "resource_id": entry.resource_id,
        "resource_type": entry.resource_type,
        "seq": seq,
        "tenant_id": _uuid(entry.tenant_id),
    }
    # allow_nan=False: NaN has no JSON form, and a store could give it back as anything.
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def digest(payload: bytes, *, alg: str, key: bytes | None) -> str | None:
    """The hex hash of `payload` under `alg`; None when `alg` needs a key that is not given."""
    if alg == PLAIN:
        return hashlib.sha256(payload).hexdigest()
    if alg == KEYED and key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return None


def link(entry: AuditEntry, *, seq: int, prev_hash: str, key: bytes | None) -> AuditLink:
    """The chain fields for `entry` written as number `seq` after a record hashed `prev_hash`.

    >>> first = link(entry, seq=1, prev_hash=GENESIS, key=None)
    >>> second = link(other, seq=2, prev_hash=first.hash, key=None)
    """
    chain = chain_of(entry.tenant_id)
    alg = KEYED if key else PLAIN
    value = digest(canonical(entry, chain=chain, seq=seq, prev_hash=prev_hash, alg=alg), alg=alg, key=key)
    assert value is not None  # a key is given whenever KEYED is chosen
    return AuditLink(entry=entry, chain=chain, seq=seq, prev_hash=prev_hash, hash=value, alg=alg)


class ChainVerifier:
    """Checks one chain fed in seq order, page by page, keeping only the last link (constant memory).

    >>> verifier = ChainVerifier(chain="platform", key=None)
    >>> for page in pages: verifier.feed(page)          # stops looking after the first break
    >>> report = verifier.report(unchained=0)
    """

    def __init__(self, *, chain: str, key: bytes | None) -> None:
        self.chain = chain
        self._key = key
        self._checked = 0
        self._last_seq = 0
        self._prev_hash = GENESIS
        self._first_keyed_seq: int | None = None
        self.broken: AuditChainBreak | None = None

    @property
    def last_seq(self) -> int:
        """The seq of the last link fed (0 before any): the next page starts after it."""
        return self._last_seq

    @property
    def done(self) -> bool:
        """Whether a break was found, so reading further pages is pointless."""
        return self.broken is not None

    def feed(self, links: Iterable[AuditLink]) -> None:
        """Check the next links of the chain, in seq order; does nothing once a break was found."""
        for item in links:
            if self.broken is not None:
                return
            self._checked += 1
            self.broken = self._check(item)
            self._last_seq = item.seq
            self._prev_hash = item.hash

    def report(self, *, unchained: int) -> AuditChainReport:
        """The outcome; `unchained` counts records of this tenant that carry no link at all."""
        return AuditChainReport(
            chain=self.chain,
            ok=self.broken is None and unchained == 0,
            records_checked=self._checked,
            unchained=unchained,
            head_seq=self._last_seq or None,
            head_hash=self._prev_hash if self._last_seq else None,
            first_keyed_seq=self._first_keyed_seq,
            broken=self.broken,
        )

    def _check(self, item: AuditLink) -> AuditChainBreak | None:
        def broken(reason: str, expected: str | None, found: str | None, detail: str) -> AuditChainBreak:
            return AuditChainBreak(
                seq=item.seq, id=item.entry.id, reason=reason, expected=expected, found=found, detail=detail
            )

        if item.chain != self.chain or chain_of(item.entry.tenant_id) != self.chain:
            return broken("edited", self.chain, item.chain, "The record names another chain or tenant than its own.")
        expected_seq = self._last_seq + 1
        if item.seq != expected_seq:
            gap = f"{expected_seq}" if item.seq == expected_seq + 1 else f"{expected_seq} to {item.seq - 1}"
            return broken("missing", str(expected_seq), str(item.seq), f"Record(s) {gap} of the chain are missing.")
        if item.alg == KEYED and self._first_keyed_seq is None:
            self._first_keyed_seq = item.seq
        if item.alg == PLAIN and self._first_keyed_seq is not None:
            # Once a chain is keyed, a plain link after it is what a forger without the key would write.
            return broken("downgraded", KEYED, PLAIN, "An unkeyed link follows keyed ones: it was not written here.")
        if item.alg == KEYED and not self._key:
            return broken("unverifiable", KEYED, None, "The chain is keyed but no chain key is configured here.")
        payload = canonical(item.entry, chain=item.chain, seq=item.seq, prev_hash=item.prev_hash, alg=item.alg)
        expected = digest(payload, alg=item.alg, key=self._key)
        if expected is None:
            return broken("edited", None, item.alg, f"Unknown hash algorithm {item.alg!r}.")
        if not hmac.compare_digest(expected, item.hash):
            return broken("edited", expected, item.hash, "The record's content no longer matches its hash.")
        if item.prev_hash != self._prev_hash:
            return broken(
                "reordered",
                self._prev_hash,
                item.prev_hash,
                "The record does not follow the one before it (moved, inserted or the previous one replaced).",
            )
        return None


def _uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
