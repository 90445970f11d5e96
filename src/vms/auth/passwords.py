"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vms.kernel.errors import ValidationFailed

# A short list of the passwords breached most often; length and class rules catch the rest.
COMMON = frozenset({"password1234", "123456789012", "qwertyuiop12", "administrator", "letmein12345", "welcome12345"})
CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")


class Passwords:
    """Hashes, verifies and checks passwords against the policy.

    >>> pw = Passwords(min_length=12)
    >>> pw.verify(pw.hash("correct horse battery"), "correct horse battery")
    True
    """

    def __init__(self, *, min_length: int = 12, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self.min_length = min_length
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Verifying against this keeps unknown-email sign-ins as slow as wrong-password ones.
        self.dummy_hash = self._hasher.hash("not-a-real-password-timing-guard")

    def hash(self, password: str) -> str:
        """Argon2id hash with a random salt."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches the stored hash."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def check_policy(self, password: str, *, email: str | None = None) -> None:
        """Raise ValidationFailed naming the rule a new password breaks."""
        if len(password) < self.min_length:
            raise ValidationFailed(f"The password needs at least {self.min_length} characters.")
        if len(password) > 256:
            raise ValidationFailed("The password may have at most 256 characters.")
        classes = sum(bool(re.search(c, password)) for c in CLASSES)
        if classes < 3 and len(password) < 20:
            raise ValidationFailed(
                "Use at least three of: lower case, upper case, digits, symbols — or a passphrase of 20+ characters."
            )
        if password.lower() in COMMON:
            raise ValidationFailed("This password is among the most commonly breached; choose another.")
        local = (email or "").split("@")[0].lower()
        if len(local) >= 4 and local in password.lower():
            raise ValidationFailed("The password must not contain your email name.")
