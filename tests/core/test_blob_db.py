"""Blobs in the database (INTAKE_BLOB_STORE=db), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.core.accept import accept_email
from intake.core.blob_db import DbBlobStore
from intake.core.blobs import Blobs, BlobStore, sha256_hex
from intake.core.db.engine import Database
from intake.core.db.models import Blob, Message
from intake.core.settings import load_settings
from intake.domain import Source
from intake.errors import ConfigError, NotFoundError, StorageError
from tests.conftest import make_runtime
from tests.mailfactory import make_mail


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[DbBlobStore]:
    database = Database(database_url)
    yield DbBlobStore(database, tmp_path / "cache")
    database.dispose()


def blob_rows(store: DbBlobStore) -> int:
    with store.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Blob)) or 0)


def test_bytes_round_trip_by_their_sha256_and_twice_is_once(store: DbBlobStore) -> None:
    data = b"\x00\xffraw bytes, not text\r\n" * 1000
    digest = store.put(data)
    assert digest == sha256_hex(data)
    assert store.put(data) == digest
    assert store.exists(digest)
    assert store.get(digest) == data
    assert blob_rows(store) == 1


def test_a_batch_is_stored_in_one_go_and_repeats_are_skipped(store: DbBlobStore) -> None:
    first = store.put(b"first")
    digests = store.put_many([b"first", b"second", b"third", b"second"])
    assert digests == [first, sha256_hex(b"second"), sha256_hex(b"third"), sha256_hex(b"second")]
    assert blob_rows(store) == 3
    assert [store.get(d) for d in digests] == [b"first", b"second", b"third", b"second"]


def test_a_stream_past_its_limit_keeps_nothing(store: DbBlobStore) -> None:
    digest, size = store.put_stream(io.BytesIO(b"a" * 3_000_000))
    assert size == 3_000_000 and store.get(digest) == b"a" * 3_000_000
    with pytest.raises(StorageError):
        store.put_stream(io.BytesIO(b"b" * 2_000), max_bytes=1_000)
    assert blob_rows(store) == 1


def test_missing_and_malformed_names_are_not_found(store: DbBlobStore) -> None:
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    with pytest.raises(NotFoundError):
        store.path("0" * 64)
    with pytest.raises(NotFoundError):
        store.get("../../etc/passwd")
    assert not store.exists("0" * 64)


def test_readers_that_need_a_file_get_a_local_copy(store: DbBlobStore, tmp_path: Path) -> None:
    digest = store.put(b"RIFF audio")
    path = store.path(digest)
    assert path.read_bytes() == b"RIFF audio"
    assert path.is_relative_to(tmp_path / "cache")
    assert store.path(digest) == path  # copied once


def test_every_method_of_the_file_store_is_implemented_in_the_database(tmp_path: Path) -> None:
    store = DbBlobStore(Database(f"sqlite:///{tmp_path / 'x.sqlite3'}"), tmp_path)
    interface: Blobs = store  # mypy checks that the database store is a Blobs
    assert interface is store
    store.db.dispose()
    # A method added to BlobStore but not here would quietly write files in db mode.
    public = {name for name in vars(BlobStore) if not name.startswith("_")}
    assert public <= set(vars(DbBlobStore)), public - set(vars(DbBlobStore))


def test_the_runtime_stores_accepted_mail_in_the_database(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    runtime = make_runtime(tmp_path, database_url, redis_url, INTAKE_BLOB_STORE="db")
    try:
        assert isinstance(runtime.blobs, DbBlobStore)
        raw = make_mail(subject="kept in the database")
        accepted = accept_email(
            runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
        )
        with runtime.db.session() as session:
            message = session.get(Message, accepted.message_id)
            assert message is not None
            stored = session.get(Blob, message.raw_sha256)
            assert stored is not None and stored.data == raw
        assert not (tmp_path / "data" / "blobs").exists()  # no file written
    finally:
        runtime.close()


def test_an_unknown_blob_store_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="INTAKE_BLOB_STORE"):
        load_settings({"INTAKE_BLOB_STORE": "s3"})
