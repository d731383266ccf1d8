"""Encryption at rest for what identifies a supporter.

A stolen database dump must not say who gives: emails and names are stored encrypted with a key
that lives in the environment, and found by an HMAC "blind index" instead of by plaintext.
"""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


class DataCipher:
    """Encrypts values and computes blind indexes from one operator-held secret."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"pledges-encryption")))
        self._index_key = _derive(secret, b"pledges-blind-index")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as error:
            raise ValueError(
                "PLEDGES_DATA_KEY does not match the key the data was stored with"
            ) from error

    def blind_index(self, value: str) -> str:
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()


def token_hash(raw_token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 is enough to make a stored copy useless."""
    return hashlib.sha256(raw_token.encode()).hexdigest()
