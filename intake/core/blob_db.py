"""Blobs kept in the database (``INTAKE_BLOB_STORE=db``): hosts share no filesystem.

The same content-addressed store as :class:`intake.core.blobs.BlobStore`, with the bytes in the
``blobs`` table (PostgreSQL ``bytea``, SQLite ``BLOB``) keyed by their sha256. A blob is
written in its own committed transaction before the row that names it, so the accept path's
promise holds unchanged: what a row points to is durable. Writing the same bytes twice is a
no-op (``INSERT ... ON CONFLICT DO NOTHING``), so two hosts storing one attachment never clash.

Some readers need a file (the transcriber hands a path to the audio decoder, the web sends raw
files): :meth:`DbBlobStore.path` copies the blob into a per-host cache under the data dir once,
and copies not used for an hour are removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from intake.core.blobs import CHUNK, BlobStore, already_durable, sha256_hex
from intake.core.db.base import utcnow
from intake.core.db.engine import Database
from intake.core.db.models import Blob
from intake.errors import NotFoundError, StorageError

log = logging.getLogger(__name__)

# Cached copies unused this long are removed; the prune runs at most this often.
CACHE_MAX_AGE_S = 3600.0
PRUNE_EVERY_S = 60.0


def _check_digest(digest: str) -> str:
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise NotFoundError("not a blob name: {digest!r}", digest=digest)
    return digest


class DbBlobStore(BlobStore):
    """Blob bytes in the ``blobs`` table; ``root`` is this host's cache of file copies."""

    def __init__(self, db: Database, cache_dir: Path) -> None:
        super().__init__(cache_dir)
        self.db = db
        self._last_prune = 0.0
        self._prune_lock = threading.Lock()

    def _insert_ignoring_duplicates(self) -> Any:
        # One statement per dialect: both skip a sha256 that is already stored.
        if self.db.engine.dialect.name == "postgresql":
            return postgresql.insert(Blob).on_conflict_do_nothing(index_elements=["sha256"])
        if self.db.engine.dialect.name == "sqlite":
            return sqlite.insert(Blob).on_conflict_do_nothing(index_elements=["sha256"])
        return insert(Blob)

    def exists(self, digest: str) -> bool:
        _check_digest(digest)
        try:
            with self.db.session() as session:
                found = session.scalar(select(func.count()).where(Blob.sha256 == digest))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read blob {digest}: {exc}") from exc
        return bool(found)

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Store every item in one committed transaction; the digests in order."""
        digests = [sha256_hex(data) for data in items]
        try:
            with self.db.session() as session:
                # Only the new ones travel: an attachment seen before is not sent again.
                stored = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(digests))))
                rows = {
                    digest: {
                        "sha256": digest,
                        "size": len(data),
                        "data": data,
                        "created_at": utcnow(),
                    }
                    for digest, data in zip(digests, items, strict=True)
                    if digest not in stored
                }
                if rows:
                    session.execute(self._insert_ignoring_duplicates(), list(rows.values()))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot write {len(items)} blobs: {exc}") from exc
        return digests

    def start_put_many(self, items: Sequence[bytes]) -> tuple[list[str], Callable[[], None]]:
        """:meth:`put_many`: the blobs are committed (durable) when it returns."""
        return self.put_many(items), already_durable

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        """Store a stream; raises StorageError past ``max_bytes`` (nothing is kept then)."""
        hasher = hashlib.sha256()
        parts: list[bytes] = []
        size = 0
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise StorageError(f"larger than the limit of {max_bytes} bytes")
            hasher.update(chunk)
            parts.append(chunk)
        data = b"".join(parts)
        return self.put(data), size

    def get(self, digest: str) -> bytes:
        _check_digest(digest)
        try:
            with self.db.session() as session:
                data = session.scalar(select(Blob.data).where(Blob.sha256 == digest))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read blob {digest}: {exc}") from exc
        if data is None:
            raise NotFoundError("blob {digest} is missing", digest=digest)
        return bytes(data)

    def path(self, digest: str) -> Path:
        """A local file with the blob's bytes (copied from the database on first use)."""
        target = super().path(_check_digest(digest))
        if target.is_file():
            os.utime(target)  # in use: keep it past the next prune
            return target
        data = self.get(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".copy-")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                # Atomic: a concurrent reader sees the whole copy or none (no fsync: a cache).
                os.replace(tmp_name, target)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
        except OSError as exc:
            raise StorageError(f"cannot cache blob {digest}: {exc}") from exc
        self._prune()
        return target

    def _prune(self) -> None:
        now = time.time()
        with self._prune_lock:
            if now - self._last_prune < PRUNE_EVERY_S:
                return
            self._last_prune = now
        for file in self.root.glob("*/*/*"):
            try:
                if now - file.stat().st_mtime > CACHE_MAX_AGE_S:
                    file.unlink()
            except OSError:
                continue  # removed by another process meanwhile
