"""What the fault tests share: real services as subprocesses, a burst of mail over SMTP with a
record of every 250, and the count that every 250 became exactly one processed message.

The recovery timings are shortened through their settings (a beat every second, a dead
worker's claim handed back after 3 s, a lost job enqueued again after 6 s, a sweep every
second), so a fault and its recovery take seconds; the defaults are in README "Configuration".
"""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO, TEST_MODELS_DIR
from tests.mailfactory import make_mail

# Nothing may wait longer than this after the restart that follows a fault (issue 11).
RECOVERY_LIMIT_S = 120.0

QUICK_RECOVERY = {
    "INTAKE_HEARTBEAT_SECONDS": "1",
    "INTAKE_ABANDONED_AFTER_SECONDS": "3",
    "INTAKE_LOST_AFTER_SECONDS": "6",
    "INTAKE_SWEEP_SECONDS": "1",
}


def service_env(**settings: str) -> dict[str, str]:
    """The environment of a gateway process: this one's, without any INTAKE_ setting of the
    developer's, with quick recovery and the test speech models (joined once per machine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_ACCEPT_DOMAINS="example.com",
        INTAKE_MODELS_DIR=str(TEST_MODELS_DIR),
        INTAKE_WHISPER_CPU_THREADS="1",
        INTAKE_SECRET_KEY="fault-test-secret-key-0123456789abcdef",
        **QUICK_RECOVERY,
    )
    env.update(settings)
    return env


def start_intake(env: dict[str, str], log: Path, *argv: str) -> subprocess.Popen[bytes]:
    """``intake ARGV`` as its own process, its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "intake", *argv],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        assert elapsed < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(every)
    return time.monotonic() - started


def port_open(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
            smtp.noop()
        return True
    except (OSError, smtplib.SMTPException):
        return False


def answers(url: str) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid``, children before their own children (Linux /proc)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop(0)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.append(child)
                    pending.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


# The burst


@dataclass
class Mail:
    subject: str
    message_id: str  # as stored: without the angle brackets of the header
    raw: bytes
    accepted: bool = False  # the gateway answered 250


def make_burst(tag: str, count: int) -> list[Mail]:
    """``count`` mails from as many customers, each its own conversation."""
    mails = []
    for number in range(count):
        subject = f"{tag} {number}: the parcel did not arrive"
        message_id = f"{tag}-{number}@customer{number}.org"
        raw = make_mail(
            sender=f"Customer {number} <c{number}@customer{number}.org>",
            subject=subject,
            message_id=f"<{message_id}>",
            body=f"Hello,\n\nparcel {tag}-{number} is late.\n",
        )
        mails.append(Mail(subject, message_id, raw))
    return mails


@dataclass
class Burst:
    """Sends mails over a few SMTP connections in threads, as an MTA with several queues would.

    A failure (refused connection, 4xx) is recorded as not accepted, and the thread carries on
    with its next mail on a new connection, so a burst against a dead gateway ends quickly.
    """

    port: int
    mails: list[Mail]
    connections: int = 4
    _accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _progress: threading.Condition = field(init=False)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._progress = threading.Condition(self._lock)

    def start(self) -> Burst:
        shares = [self.mails[i :: self.connections] for i in range(self.connections)]
        self._threads = [
            threading.Thread(target=self._send, args=(share,), daemon=True) for share in shares
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _send(self, mails: list[Mail]) -> None:
        smtp: smtplib.SMTP | None = None
        for mail in mails:
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
                smtp.sendmail("mta@customer.org", ["help@example.com"], mail.raw)
            except (OSError, smtplib.SMTPException):
                _close(smtp)
                smtp = None
                continue
            with self._progress:
                mail.accepted = True
                self._accepted += 1
                self._progress.notify_all()
        _close(smtp)

    def wait_for(self, accepted: int, timeout: float = 60) -> None:
        with self._progress:
            assert self._progress.wait_for(lambda: self._accepted >= accepted, timeout), (
                f"only {self._accepted} of {accepted} mails accepted within {timeout} s"
            )

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
            assert not thread.is_alive(), "a sender thread hung"


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def send_until_accepted(port: int, mails: Iterable[Mail], timeout: float = 60) -> None:
    """What an MTA does with mail that got no 250: send it again until it does."""
    for mail in mails:
        deadline = time.monotonic() + timeout
        while not mail.accepted:
            assert time.monotonic() < deadline, f"{mail.subject} never got a 250"
            Burst(port, [mail], connections=1).start().join()
            if not mail.accepted:
                time.sleep(0.5)


# The count


@dataclass(frozen=True)
class Row:
    message_id: str
    state: str
    ticket_id: int | None
    subject: str | None


def inbound_rows(database: Path) -> list[Row]:
    """Every inbound message row, read straight from the SQLite file the services write."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return [
            Row(*found)
            for found in connection.execute(
                "SELECT message_id_header, state, ticket_id, subject FROM messages"
                " WHERE direction = 'inbound'"
            )
        ]
    finally:
        connection.close()


def all_processed(database: Path, mails: list[Mail]) -> bool:
    rows = inbound_rows(database)
    wanted = {mail.message_id for mail in mails}
    done = {row.message_id for row in rows if row.state == "processed"}
    return wanted <= done


def assert_exactly_once(database: Path, mails: list[Mail]) -> None:
    """Every accepted mail is exactly one processed message with a ticket of its own; nothing
    else was stored (a mail stored without its 250 reaching the sender was sent again and is
    the same row)."""
    rows = inbound_rows(database)
    by_id: dict[str, list[Row]] = {}
    for row in rows:
        by_id.setdefault(row.message_id, []).append(row)
    accepted = [mail for mail in mails if mail.accepted]
    assert accepted, "no mail was accepted"
    twice = {mid: len(found) for mid, found in by_id.items() if len(found) != 1}
    assert not twice, f"stored more than once: {twice}"
    missing = [mail.subject for mail in accepted if mail.message_id not in by_id]
    assert not missing, f"250 but not stored: {missing}"
    unprocessed = [row for row in rows if row.state != "processed" or row.ticket_id is None]
    assert not unprocessed, f"stored but not processed: {unprocessed}"
    assert {by_id[mail.message_id][0].subject for mail in accepted} == {
        mail.subject for mail in accepted
    }
    tickets = [row.ticket_id for row in rows]
    assert len(set(tickets)) == len(tickets), "two messages share one ticket"
    unknown = set(by_id) - {mail.message_id for mail in mails}
    assert not unknown, f"rows for mail nobody sent: {unknown}"
