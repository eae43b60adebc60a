"""Content-addressed blob store: raw messages, attachments and audio, named by their sha256.

Writes go to a temporary file that is fsynced and renamed into place, so a blob that exists is
complete. Writing the same bytes twice is a no-op, which makes every writer idempotent. Several
hosts share one store through a shared filesystem mounted at the same data dir.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from intake.errors import NotFoundError, StorageError

CHUNK = 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise NotFoundError(f"not a blob name: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        self._write(digest, iter((data,)))
        return digest

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        """Store a stream; raises StorageError past ``max_bytes`` (nothing is kept then)."""
        self.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise StorageError(f"larger than the limit of {max_bytes} bytes")
                    hasher.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            digest = hasher.hexdigest()
            target = self.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
            _fsync_dir(target.parent)
            return digest, size
        except OSError as exc:
            raise StorageError(f"cannot write blob: {exc}") from exc
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _write(self, digest: str, chunks: Iterator[bytes]) -> None:
        target = self.path(digest)
        if target.is_file():
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    for chunk in chunks:
                        tmp.write(chunk)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, target)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot write blob {digest}: {exc}") from exc

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is missing") from None


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
