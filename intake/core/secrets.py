"""The installation's master secret, and the keys derived from it.

``INTAKE_SECRET_KEY`` (or ``_FILE``) wins; otherwise a random key is generated into the data dir
on first run, so a fresh install is secure without configuration. Separate keys for sessions and
for encrypting mailbox credentials are derived with HKDF, so one never doubles as the other.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.core.settings import Settings
from intake.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"


def master_secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create_secret_file(path)
    _make_private(path)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ConfigError(f"{path} holds a key that is too short")
    return value.encode("ascii")


def _make_private(path: Path) -> None:
    """0600: a key file made by an older version (or copied in by hand) may be world-readable."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:  # e.g. owned by another user: say so, but run
        log.warning("cannot make %s private (mode 0600): %s", path, exc)


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process won the race; use its key
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))


def derive_key(settings: Settings, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("ascii")
    ).derive(master_secret(settings))


def session_secret(settings: Settings) -> bytes:
    return derive_key(settings, "intake-web-session")


def credential_cipher(settings: Settings) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(settings, "intake-mailbox-credentials")))


def encrypt(settings: Settings, plaintext: str) -> bytes:
    return credential_cipher(settings).encrypt(plaintext.encode("utf-8"))


def decrypt(settings: Settings, token: bytes) -> str:
    try:
        return credential_cipher(settings).decrypt(token).decode("utf-8")
    except InvalidToken:
        raise ConfigError(
            "stored credentials cannot be decrypted: "
            "INTAKE_SECRET_KEY changed since they were saved"
        ) from None
