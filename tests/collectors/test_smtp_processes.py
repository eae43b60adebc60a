"""Several SMTP processes on one port: SO_REUSEPORT listeners, and their group committers taking
turns at the one SQLite file (``intake up`` runs ``INTAKE_SMTP_PROCESSES`` of them); and the
per-message CPU cuts that let them keep up (the address shortcut)."""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from intake.cli.supervisor import plan_children
from intake.collectors.smtp import IntakeController
from intake.collectors.smtp_session import IntakeSMTP
from intake.core.accept import InboundEmail, Outcome
from intake.core.address_book import AddressBook
from intake.core.db.models import Message
from intake.core.group_commit import GroupCommitter, Store, WriterTurns
from intake.core.runtime import Runtime
from intake.core.settings import load_settings
from tests.conftest import free_port, make_runtime
from tests.mailfactory import make_mail


@contextmanager
def two_collectors(
    tmp_path: Path, sqlite_url: str, redis_url: str, port: int
) -> Iterator[tuple[Runtime, list[int]]]:
    """Two collectors on one port and one SQLite file, each with its own runtime, as two
    ``intake smtp`` processes have; yields the first runtime and the messages each stored."""
    stored = [0, 0]
    with ExitStack() as stack:
        runtimes = []
        for number in range(2):
            runtime = make_runtime(tmp_path / f"p{number}", sqlite_url, redis_url)
            stack.callback(runtime.close)
            runtimes.append(runtime)
            controller = IntakeController(runtime, "127.0.0.1", port)
            committer = controller.intake_handler.committer
            store = committer.store

            def counting(
                rt: Runtime,
                emails: Sequence[InboundEmail],
                book: AddressBook | None,
                number: int = number,
                store: Store = store,
            ) -> list[Outcome]:
                stored[number] += len(emails)
                return store(rt, emails, book)

            committer.store = counting
            controller.start()
            stack.callback(controller.stop)
        yield runtimes[0], stored


def send(port: int, raw: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        try:
            client.sendmail("alice@customer.org", ["support@example.com"], raw)
        except smtplib.SMTPDataError as refused:
            return refused.smtp_code
    return 250


def test_two_collectors_share_one_port_and_store_every_message_once(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    port = free_port()
    mails = [make_mail(subject=f"order {n}", message_id=f"<p{n}@customer.org>") for n in range(40)]
    with two_collectors(tmp_path, sqlite_url, redis_url, port) as (runtime, stored):
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda raw: send(port, raw), mails))
        assert codes == [250] * 40
        # The kernel spread the connections: both processes stored some (16 at a time; all on
        # one of them would have a chance of 2 in 2**16 per wave).
        assert all(stored) and sum(stored) == 40
        with runtime.db.session() as session:
            assert session.scalar(select(func.count(Message.id))) == 40
            keys = session.scalars(select(Message.dedup_key)).all()
        assert len(set(keys)) == 40


def test_a_port_held_by_another_program_is_still_refused(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        runtime = make_runtime(tmp_path, sqlite_url, redis_url)
        try:
            controller = IntakeController(runtime, "127.0.0.1", port)
            with pytest.raises(OSError):
                controller.start()
            controller.loop.close()  # aiosmtpd leaves the loop of a failed start open
        finally:
            runtime.close()


def test_writer_turns_exclude_each_other_across_open_files(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3-writer.lock")
    first, second = WriterTurns(path), WriterTurns(path)  # as two processes open it
    entered = threading.Event()

    def take_second() -> None:
        with second.turn():
            entered.set()

    try:
        with first.turn():
            waiter = threading.Thread(target=take_second)
            waiter.start()
            time.sleep(0.2)
            assert not entered.is_set()
        waiter.join(timeout=10)
        assert entered.is_set()
    finally:
        first.close()
        second.close()


def test_only_sqlite_files_get_writer_turns(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    try:
        committer = GroupCommitter(runtime)
        assert committer._turns is not None
        assert committer._turns.path.endswith("-writer.lock")
    finally:
        runtime.close()


def test_intake_up_plans_one_smtp_process_per_setting() -> None:
    env = {"INTAKE_DATA_DIR": "/tmp/intake-plan", "INTAKE_SMTP_PROCESSES": "3"}
    names = {c.name: c.argv[-1] for c in plan_children(load_settings(env), {})}
    assert [n for n in names if n.startswith("smtp")] == ["smtp-1", "smtp-2", "smtp-3"]
    assert {names[n] for n in ("smtp-1", "smtp-2", "smtp-3")} == {"smtp"}
    one = load_settings({**env, "INTAKE_SMTP_PROCESSES": "1"})
    assert [c.name for c in plan_children(one, {}) if c.argv[-1] == "smtp"] == ["smtp"]
    assert load_settings({"INTAKE_DATA_DIR": "/tmp/intake-plan"}).smtp_processes >= 1


@pytest.mark.parametrize("limit", [0, 64])
def test_the_address_shortcut_answers_as_aiosmtpd_does(limit: int) -> None:
    class Probe(IntakeSMTP):
        """Only what _getaddr reads (no connection, nothing to clean up)."""

        def __init__(self) -> None:
            self.local_part_limit = limit

        def __del__(self) -> None:
            pass

    session = Probe()
    arguments = [
        "<a@b.c>",
        "<a@b.c> SIZE=100",
        "<a@b.c>SIZE=1 BODY=8BITMIME",
        "<first.last+tag@sub.example.com>  ",
        "<a@b.c>\tSIZE=1",
        "<a@b.c> (a comment) SIZE=1",
        "<a@b.c> x <y>",
        "<a..b@c.d>",
        "<.a@b.c>",
        '<"q"@b.c>',
        "<a@[1.2.3.4]>",
        "<a@b.c.>",
        "<a@b..c>",
        "<ä@b.c>",
        "<a @b.c>",
        " <a@b.c>",
        "a@b.c",
        "<>",
        "",
        f"<{'x' * 65}@b.c>",
    ]
    for argument in arguments:
        assert IntakeSMTP._getaddr(session, argument) == SMTP._getaddr(session, argument), argument
