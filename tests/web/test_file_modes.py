"""The data directory is 0700, the SQLite database and the secret key 0600 (new or existing)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.core.db.engine import Database
from intake.core.db.migrate import upgrade
from intake.core.secrets import SECRET_FILE, session_secret
from intake.core.settings import load_settings
from tests.conftest import make_runtime


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    # The usual 022 (or worse) is what made the files world-readable; set it explicitly so the
    # test does not depend on the umask it was started with.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_data_dir_is_private(tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    runtime.close()
    assert mode(tmp_path / "data") == 0o700


def test_an_existing_open_data_dir_is_made_private(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    (tmp_path / "data").mkdir(mode=0o755)
    os.chmod(tmp_path / "data", 0o755)
    runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    runtime.close()
    assert mode(tmp_path / "data") == 0o700


def test_a_new_sqlite_database_and_its_wal_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "intake.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE users SET session_version = 0 WHERE id = -1")
    assert mode(path) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and mode(wal) == 0o600
    database.dispose()


def test_an_existing_readable_database_is_made_0600(sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    os.chmod(path, 0o644)
    Database(sqlite_url).dispose()
    assert mode(path) == 0o600


def test_the_generated_secret_key_is_0600(tmp_path: Path) -> None:
    settings = load_settings({"INTAKE_DATA_DIR": str(tmp_path / "data")})
    session_secret(settings)
    assert mode(tmp_path / "data" / SECRET_FILE) == 0o600


def test_an_existing_readable_secret_key_is_made_0600(tmp_path: Path) -> None:
    key = tmp_path / "data" / SECRET_FILE
    key.parent.mkdir()
    key.write_text("k" * 48, encoding="ascii")
    os.chmod(key, 0o644)
    settings = load_settings({"INTAKE_DATA_DIR": str(tmp_path / "data")})
    first = session_secret(settings)
    assert mode(key) == 0o600
    assert first == session_secret(settings)  # the key itself is kept
