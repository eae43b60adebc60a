"""Group commit: concurrent deliveries share one sync round and one transaction.

Each SMTP session hands its message to :meth:`GroupCommitter.submit` and waits. One writer
thread takes whatever is waiting (up to ``max_batch`` emails or ``max_batch_bytes``), waits up to
``window`` seconds for more while other sessions are still receiving a message, and stores the
batch with :func:`intake.core.accept.store_emails`: blobs written and synced in one round, rows
in one transaction. Only then are the waiting sessions told (a 250 for stored, a 451 for
everything of a batch whose commit failed). The new rows are enqueued by a second thread, in one
Redis pipeline for whatever batches committed meanwhile, so the writer goes on with the next
batch at once.

While one batch is being synced and committed, the next one gathers, so under load the batches
grow by themselves; alone, a message is stored at once.

Memory: a waiting email is the bytes its session already holds (no copy is made here), so what
waits is bounded by the SMTP connection limit and data budget (``smtp_limits``); a batch is
bounded by ``max_batch`` and ``max_batch_bytes``.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from intake.core.accept import InboundEmail, Outcome, enqueue_ingest, store_emails
from intake.core.address_book import AddressBook
from intake.core.runtime import Runtime
from intake.errors import StorageError

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 0.010
DEFAULT_MAX_BATCH = 200
DEFAULT_MAX_BATCH_BYTES = 32 * 1024 * 1024

Store = Callable[[Runtime, Sequence[InboundEmail], AddressBook | None], list[Outcome]]
Turn = Callable[[], AbstractContextManager[object]]


class WriterTurns:
    """Turns at writing one SQLite file, for the group committers of every process on it.

    SQLite lets one connection write at a time; one that finds the slot taken sleeps in its
    busy handler (1, 2, 5, 10, 15 ms ... between tries), and two SMTP processes lost much of a
    batch's time there. The group committers instead take an ``flock`` on a file beside the
    database around their INSERT and commit, which wakes the next one as soon as the slot is
    free. Other writers (workers, web) still meet them in SQLite's busy handler.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None  # opened at the first turn, closed when the writer stops

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fd = self._fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def writer_turns(runtime: Runtime) -> WriterTurns | None:
    """The turns for the runtime's database when it is an SQLite file (PostgreSQL needs none)."""
    url = runtime.db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None  # an URI: no plain path to put the lock file beside
    return WriterTurns(f"{url.database}-writer.lock")


@dataclass
class _Waiting:
    email: InboundEmail
    future: Future[Outcome] | asyncio.Future[Outcome]
    # The event loop of an ``asyncio`` future (``submit_async``): told once per batch.
    loop: asyncio.AbstractEventLoop | None = None


_STOP = object()


class GroupCommitter:
    """The writer thread of one process; :meth:`submit` is safe to call from any thread."""

    def __init__(
        self,
        runtime: Runtime,
        book: AddressBook | None = None,
        *,
        window: float = DEFAULT_WINDOW,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        store: Store | None = None,
        coming: Callable[[], bool] = lambda: True,
    ) -> None:
        self.runtime = runtime
        self.book = book
        self.window = window
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self._turns = writer_turns(runtime)
        turn: Turn = self._turns.turn if self._turns is not None else nullcontext
        # Tests put a failing store here.
        self.store: Store = store or (lambda rt, emails, book: store_emails(rt, emails, book, turn))
        self.coming = coming  # whether more messages are being received right now
        self._queue: queue.SimpleQueue[_Waiting | object] = queue.SimpleQueue()
        self._stored: queue.SimpleQueue[list[Outcome] | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._enqueuer: threading.Thread | None = None
        self._carry: _Waiting | None = None  # taken but over a full batch's bytes: next batch

    def start(self) -> None:
        if self._thread is None:
            self._enqueuer = threading.Thread(target=self._enqueue, name="enqueue", daemon=True)
            self._enqueuer.start()
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Store and enqueue what was submitted before, then end both threads."""
        if self._thread is not None and self._enqueuer is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._stored.put(_STOP)
            self._enqueuer.join()
            self._thread = self._enqueuer = None
            if self._turns is not None:
                self._turns.close()

    def submit(self, email: InboundEmail) -> Future[Outcome]:
        """The email's rows once committed, or a StorageError (never raised: answer 451)."""
        if self._thread is None:
            raise RuntimeError("the group committer is not running")
        future: Future[Outcome] = Future()
        self._queue.put(_Waiting(email, future))
        return future

    def submit_async(self, email: InboundEmail) -> asyncio.Future[Outcome]:
        """:meth:`submit` for a caller on an event loop (the SMTP sessions).

        The loop is woken once per batch for all of its sessions, not once per message: each
        wake-up costs the loop a system call and a pass of its scheduler.
        """
        if self._thread is None:
            raise RuntimeError("the group committer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Waiting(email, future, loop))
        return future

    def _run(self) -> None:
        while True:
            batch, stopping = self._gather()
            if batch:
                self._commit(batch)
            if stopping:
                return

    def _gather(self) -> tuple[list[_Waiting], bool]:
        first = self._carry if self._carry is not None else self._queue.get()
        self._carry = None
        if not isinstance(first, _Waiting):
            return [], True
        batch = [first]
        size = len(first.email.raw)
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                # Wait only while more messages are on their way (sessions in DATA): alone, a
                # message is stored at once; under load, the batch takes in the ones in flight.
                left = deadline - time.monotonic()
                if left <= 0 or not self.coming():
                    break
                # No polling: a session that finishes receiving submits, which wakes us (a
                # wake-up costs the event loop's thread the GIL); one that gives up instead
                # leaves us waiting out the window at worst.
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if not isinstance(item, _Waiting):
                return batch, True
            if size + len(item.email.raw) > self.max_batch_bytes:
                self._carry = item
                break
            batch.append(item)
            size += len(item.email.raw)
        return batch, False

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = self.store(self.runtime, [w.email for w in batch], self.book)
        except Exception as exc:  # a bug must not leave sessions waiting for ever
            log.exception("storing a batch of %d emails failed", len(batch))
            error = StorageError(f"unexpected failure: {exc.__class__.__name__}")
            outcomes = [error] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome]]]
        by_loop = {}
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if waiting.loop is None:
                waiting.future.set_result(outcome)
            else:
                assert isinstance(waiting.future, asyncio.Future)
                by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, results)
            except RuntimeError:  # the loop is closed: nobody waits for these answers
                log.warning("%d stored emails had no session left to answer", len(results))
        log.debug("group commit of %d emails", len(batch))
        self._stored.put(outcomes)

    def _enqueue(self) -> None:
        stopping = False
        while not stopping:
            item = self._stored.get()
            outcomes: list[Outcome] = []
            while True:
                if isinstance(item, list):
                    outcomes.extend(item)
                else:
                    stopping = True
                try:
                    item = self._stored.get_nowait()
                except queue.Empty:
                    break
            try:
                enqueue_ingest(self.runtime, outcomes)
            except Exception:  # the rows are stored; the sweeper enqueues them later
                log.exception("enqueueing %d stored emails failed", len(outcomes))


def _deliver(results: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    """On the event loop: answer every waiting session of a batch."""
    for future, outcome in results:
        if not future.done():  # a session that went away cancelled its wait
            future.set_result(outcome)
