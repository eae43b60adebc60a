"""Content-addressed blob store: raw messages, attachments and audio, named by their sha256.

:class:`Blobs` is the interface the rest of the gateway stores through; :class:`BlobStore` keeps
blobs as files (several hosts share it through a shared filesystem mounted at the same data
dir). Writing the same bytes twice is a no-op, which makes every writer idempotent.

A blob is durable when ``put``/``put_many`` return. ``put`` fsyncs one temporary file, renames
it into place and fsyncs the folder. ``put_many`` is the group-commit path: it writes and
renames every file of a batch first and then makes them all durable in one sync round: every
file and folder of the batch is fsynced at the same time, from a pool of threads, and the
filesystem's journal commits them together, so many messages share the cost of one fsync.
A crash inside that round can leave a renamed file that is short or empty, but no committed row
points at it yet (rows are committed after the round), and a later write of the same bytes
checks the file's content and writes it again instead of trusting its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol

from intake.errors import NotFoundError, StorageError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Blobs(Protocol):
    """Where raw bytes live, named by their sha256; every method is safe to call twice."""

    def put(self, data: bytes) -> str:
        """Store durably; the digest. Raises StorageError."""
        ...

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Store every item durably, sharing one sync round; the digests in order."""
        ...

    def start_put_many(self, items: Sequence[bytes]) -> tuple[list[str], Callable[[], None]]:
        """:meth:`put_many` whose sync round may still run: call the second value (it raises
        StorageError) before anything may rely on the blobs being durable."""
        ...

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        """Store a stream durably; (digest, size). Raises StorageError past ``max_bytes``."""
        ...

    def get(self, digest: str) -> bytes:
        """The bytes; raises NotFoundError."""
        ...

    def exists(self, digest: str) -> bool: ...


# The fsyncs of one batch run at once: the journal (ext4, xfs) commits concurrent fsyncs as one.
# ``syncfs`` would do it in one call, but it also waits for every other writer's data on the
# filesystem: measured on a shared machine, 28-294 ms a round against 5 ms for 21 fsyncs.
# Eight at a time: with 32, the threads' wake-ups (each takes the GIL) cost the SMTP process
# more CPU (group commit 1.1-1.3 against 1.0 ms a message) for no shorter rounds.
FSYNC_THREADS = 8
_fsync_pool: ThreadPoolExecutor | None = None
_fsync_pool_lock = threading.Lock()


_round_pool: ThreadPoolExecutor | None = None


def _fsyncs() -> ThreadPoolExecutor:
    global _fsync_pool
    with _fsync_pool_lock:
        if _fsync_pool is None:
            _fsync_pool = ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="blob-fsync")
        return _fsync_pool


def _sync_rounds() -> ThreadPoolExecutor:
    """Where :meth:`BlobStore.start_put_many` runs its sync rounds (each one uses the fsyncs)."""
    global _round_pool
    with _fsync_pool_lock:
        if _round_pool is None:
            _round_pool = ThreadPoolExecutor(4, thread_name_prefix="blob-sync-round")
        return _round_pool


def _sync_paths(files: list[str], dirs: set[str]) -> list[str]:
    """The files and every folder whose entries changed: each file's own and those made."""
    return [*files, *sorted(dirs | {path.rpartition("/")[0] for path in files})]


def already_durable() -> None:
    """The wait of a :meth:`Blobs.start_put_many` whose blobs were durable when it returned."""


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Blobs as files under ``root/ab/cd/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Folders known to exist (made or seen by this process): no stat or mkdir per blob.
        self._folders: set[str] = set()

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise NotFoundError("not a blob name: {digest!r}", digest=digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if self._holds(target, digest, len(data)):
            return digest
        try:
            created = _make_dirs(target.parent)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as tmp:
                    tmp.write(data)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp_name, target)
            finally:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
            for directory in {target.parent, *(d.parent for d in created)}:
                _fsync_dir(directory)
        except OSError as exc:
            raise StorageError(f"cannot write blob {digest}: {exc}") from exc
        return digest

    def start_put_many(self, items: Sequence[bytes]) -> tuple[list[str], Callable[[], None]]:
        """Write every item now; the sync round runs while the caller goes on (its rows).

        The group commit inserts a batch's rows while the blobs are being synced, and waits
        for the round only before it commits; what a committed row points to is still durable.
        """
        if type(self).put is not BlobStore.put or type(self).put_many is not BlobStore.put_many:
            return self.put_many(items), already_durable  # another store: durable when it returns
        digests = [sha256_hex(data) for data in items]
        pending: dict[str, bytes] = {}
        for digest, data in zip(digests, items, strict=True):
            if digest not in pending and not self._holds_name(self._name(digest), len(data)):
                pending[digest] = data
        if not pending:
            return digests, already_durable
        try:
            files, dirs = self._write_files(pending)
        except OSError as exc:
            self._folders.clear()
            raise StorageError(f"cannot write {len(pending)} blobs: {exc}") from exc
        syncing = _sync_rounds().submit(self._sync, files, dirs)

        def wait() -> None:
            try:
                syncing.result()
            except OSError as exc:
                raise StorageError(f"cannot sync {len(pending)} blobs: {exc}") from exc

        return digests, wait

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        if type(self).put is not BlobStore.put:
            # A subclass that keeps the bytes elsewhere (the database): its own put, one by one,
            # unless it batches them itself by overriding this method.
            return [self.put(data) for data in items]
        digests = [sha256_hex(data) for data in items]
        pending: dict[str, bytes] = {}
        for digest, data in zip(digests, items, strict=True):
            if digest not in pending and not self._holds_name(self._name(digest), len(data)):
                pending[digest] = data
        if len(pending) == 1:
            self.put(next(iter(pending.values())))  # one file: its own fsyncs, nobody else's
        elif pending:
            self._write_batch(pending)
        return digests

    def _name(self, digest: str) -> str:
        """:meth:`path` as a string, for a digest this store computed (no pathlib per blob)."""
        return f"{self.root}/{digest[:2]}/{digest[2:4]}/{digest}"

    def _holds_name(self, name: str, size: int) -> bool:
        """:meth:`_holds` for a computed digest's file: one stat when the file is absent."""
        try:
            if os.stat(name).st_size != size:
                return False
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot read blob {os.path.basename(name)}: {exc}") from exc
        return self._holds(Path(name), os.path.basename(name), size)

    def _write_batch(self, pending: dict[str, bytes]) -> None:
        try:
            self._sync(*self._write_files(pending))
        except OSError as exc:
            # A folder removed behind our back is made again next time.
            self._folders.clear()
            raise StorageError(f"cannot write {len(pending)} blobs: {exc}") from exc

    def _write_files(self, pending: dict[str, bytes]) -> tuple[list[str], set[str]]:
        """Write and rename every file (no sync); the files and the folders made for them."""
        written: list[str] = []
        dirs: set[str] = set()
        _make_dirs(self.root)
        for digest, data in pending.items():
            target = self._name(digest)
            folder = target.rpartition("/")[0]
            if folder not in self._folders:
                created = _make_dirs(Path(folder))
                dirs.update(str(d.parent) for d in created)
                self._folders.add(folder)
            _write_new(target, data)
            written.append(target)
        return written, dirs

    def _sync(self, files: list[str], dirs: set[str]) -> None:
        """Make the files' bytes and their folders' entries durable, all in one round.

        ``dirs`` are folders made for this batch, whose own entries need syncing too.
        """
        for _ in _fsyncs().map(_fsync_path, _sync_paths(files, dirs)):
            pass  # raises the first failure

    def _holds(self, target: Path, digest: str, size: int) -> bool:
        """Whether ``target`` already holds these bytes (a crash may have left it short)."""
        try:
            if target.stat().st_size != size:
                return False
            return sha256_hex(target.read_bytes()) == digest
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot read blob {digest}: {exc}") from exc

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
            created = _make_dirs(target.parent)
            os.replace(tmp_name, target)
            for directory in {target.parent, *(d.parent for d in created)}:
                _fsync_dir(directory)
            return digest, size
        except OSError as exc:
            raise StorageError(f"cannot write blob: {exc}") from exc
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError("blob {digest} is missing", digest=digest) from None


def _make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents; the ones created (their entries need a sync)."""
    missing: list[Path] = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # made meanwhile by another writer: still ours to sync, as it may not have
    return missing


_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_new(target: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target`` and rename it into place (no sync).

    The temporary name is unique to this process and thread, so concurrent writers of the same
    bytes never share one; a stale one (a crashed process with the same pid) is replaced.
    """
    folder, _, name = target.rpartition("/")
    tmp_name = f"{folder}/.incoming-{name}-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(tmp_name, _NEW_FILE_FLAGS, 0o600)
    except FileExistsError:
        os.unlink(tmp_name)
        fd = os.open(tmp_name, _NEW_FILE_FLAGS, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    _fsync_path(str(directory))
