"""TOTP (RFC 6238) enrolment and verification, and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

RECOVERY_CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o/1/l/i: codes get read aloud and typed


def new_totp_secret() -> str:
    """A random base32 TOTP seed (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def verify_totp(secret: str, code: str, *, last_step: int, now: float | None = None) -> int | None:
    """The time step `code` is valid for (±1 step of clock drift), or None.

    Steps at or before `last_step` are refused so an observed code cannot be replayed.
    """
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):  # isdigit alone admits full-width digits
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in (current, current - 1, current + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """Fresh recovery codes (shown once) and their hashes (stored)."""
    codes = [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    return codes, [hash_recovery_code(c) for c in codes]


def hash_recovery_code(code: str) -> str:
    """Hash of a recovery code as typed (case and spacing ignored)."""
    normalized = code.strip().lower().replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()
