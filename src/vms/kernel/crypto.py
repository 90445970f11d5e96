"""Encryption of secrets at rest (TOTP seeds, camera credentials) with a key from settings.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; the key is derived from the configured
secret so operators manage one string. Rotating the key means re-encrypting, done by a migration.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from vms.kernel.errors import VmsError


class SecretBox:
    """Encrypts and decrypts short secrets.

    >>> box = SecretBox("a long random key")
    >>> box.decrypt(box.encrypt("s3cret"))
    's3cret'
    """

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt to an ASCII token safe to store in a text column."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by `encrypt` with the same key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # wrong key or edited row: an operator problem, not a user one
            raise VmsError("A stored secret cannot be decrypted; check VMS_SECURITY__ENCRYPTION_KEY.") from exc
