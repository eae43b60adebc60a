"""The gateway as separate processes on one PostgreSQL and one Redis, losing one of each kind.

Every service runs as its own ``intake`` process with its own data dir, as on separate hosts:
blobs live in the database (``INTAKE_BLOB_STORE=db``), so the processes share nothing but
PostgreSQL and Redis. Two SMTP listeners, two IMAP pollers on one Dovecot mailbox, two workers
per queue, a sweeper and a web process. Mail is sent over SMTP by concurrent clients (which,
like real MTAs, retry elsewhere when a server goes away) and appended to the IMAP mailbox; in
the middle one SMTP listener, the IMAP poller holding the mailbox and one worker of each queue
are killed with SIGKILL. Afterwards every message a client got 250 for is stored exactly once
and is one processed message on a ticket, every IMAP message likewise, and no IMAP UID was
fetched twice.

Counts: ``INTAKE_SCALE_OUT_SMTP`` (default 400) and ``INTAKE_SCALE_OUT_IMAP`` (default 100); the
issue's 2,000 and 500 ran too (README "Measured").
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from imapclient import IMAPClient
from redis import Redis
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from intake.core import mailbox_fence
from intake.core.db.models import Message
from intake.core.jobs import INGEST_MESSAGE, JobQueue
from intake.core.leases import Leases
from intake.core.runtime import Runtime
from intake.domain import MessageState, Role, Source
from tests.conftest import _reset_postgres, add_person, free_port, make_runtime
from tests.imap.conftest import USERS, add_imap_mailbox
from tests.imap.conftest import dovecot as dovecot  # noqa: F401 (the fixture)
from tests.imap.dovecot import Dovecot
from tests.mailfactory import make_mail

# The figures are 2,000 and 500 (INTAKE_SCALE_OUT_SMTP=2000 INTAKE_SCALE_OUT_IMAP=500);
# the default is a fifth of that, which keeps the test to a few minutes on two busy cores.
SMTP_COUNT = int(os.environ.get("INTAKE_SCALE_OUT_SMTP", "400"))
IMAP_COUNT = int(os.environ.get("INTAKE_SCALE_OUT_IMAP", "100"))
SCALE = max(1.0, (SMTP_COUNT + IMAP_COUNT) / 500)  # waits grow with the counts
SENDERS = 8  # concurrent SMTP client connections
LEASE_SECONDS = 3
SECRET = "scale-out-secret-key-scale-out-secret-key-0123"
UID_LINE = re.compile(r"mailbox \S+: UID (\d+) -> message (\d+)( \(duplicate\))?")


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "intake", *self.argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Gateway:
    root: Path
    env: dict[str, str]
    services: list[Service] = field(default_factory=list)

    def add(self, name: str, *argv: str, **env: str) -> Service:
        data_dir = self.root / name  # a host of its own: nothing shared but PG and Redis
        service = Service(
            name,
            list(argv),
            self.root / f"{name}.log",
            {**self.env, **env, "INTAKE_DATA_DIR": str(data_dir)},
        )
        self.services.append(service)
        service.start()
        return service

    def logs(self, prefix: str = "") -> str:
        return "\n".join(
            f"== {s.name}\n{s.log.read_text(errors='replace')[-3000:]}"
            for s in self.services
            if s.name.startswith(prefix) and s.log.exists()
        )


@pytest.fixture
def pg_url(postgres_template: str) -> str:
    _reset_postgres(postgres_template)
    return postgres_template


@pytest.fixture
def gateway(pg_url: str, redis_url: str) -> Iterator[Gateway]:
    root = Path(f"/tmp/intake-scale-{os.getpid()}-{free_port()}")
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATABASE_URL=pg_url,
        INTAKE_REDIS_URL=redis_url,
        INTAKE_SECRET_KEY=SECRET,
        INTAKE_ACCEPT_DOMAINS="example.com",
        INTAKE_BLOB_STORE="db",
        INTAKE_IMAP_LEASE_SECONDS=str(LEASE_SECONDS),
        # Dead workers' claims come back within seconds, not a minute.
        INTAKE_SWEEP_SECONDS="2",
        INTAKE_HEARTBEAT_SECONDS="1",
        INTAKE_ABANDONED_AFTER_SECONDS="6",
        INTAKE_LOST_AFTER_SECONDS="10",
        INTAKE_WHISPER_DETECTOR="none",
        INTAKE_WHISPER_LANGUAGE_MODELS="none",
    )
    gateway = Gateway(root, env)
    try:
        yield gateway
    finally:
        for service in gateway.services:
            service.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, gateway: Gateway) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{gateway.logs()}")


def listening(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


class Senders:
    """SMTP clients that, like an MTA, retry a message on the other server when one fails."""

    def __init__(self, ports: list[int], count: int) -> None:
        self.ports = ports
        self.pending = list(range(count))
        self.accepted: set[str] = set()
        self.retries = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(SENDERS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def next(self) -> int | None:
        with self.lock:
            return self.pending.pop() if self.pending else None

    def run(self, number: int) -> None:
        port_index = number % len(self.ports)
        smtp: smtplib.SMTP | None = None
        n = self.next()
        while n is not None:
            message_id = f"scale-{n}@customer.example"
            raw = make_mail(
                sender=f"Customer {n % 50} <customer{n % 50}@customer.example>",
                to="help@example.com",
                subject=f"Order {n} question",
                message_id=f"<{message_id}>",
            )
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", self.ports[port_index], timeout=30)
                smtp.sendmail(f"customer{n % 50}@customer.example", ["help@example.com"], raw)
                with self.lock:
                    self.accepted.add(message_id)
                n = self.next()
            except (OSError, smtplib.SMTPException):
                # Server gone or a temporary refusal: the same message, on the other server.
                with self.lock:
                    self.retries += 1
                smtp = None
                port_index = (port_index + 1) % len(self.ports)
                time.sleep(0.05)
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass


def append_all(server: Dovecot, count: int) -> None:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=30)
    client.login("alice", USERS["alice"])
    try:
        for n in range(count):
            raw = make_mail(
                sender="Imap Customer <imap@customer.example>",
                to="support@example.com",
                subject=f"IMAP {n}",
                message_id=f"<imap-{n}@customer.example>",
            )
            client.append("INBOX", raw)
    finally:
        client.logout()


def counts(runtime: Runtime, **where: object) -> int:
    with runtime.db.session() as session:
        query = select(func.count(Message.id)).filter_by(**where)
        return int(session.scalar(query) or 0)


def holder_pid(leases: Leases, mailbox_id: int) -> int | None:
    holder = leases.holder(mailbox_fence.lease_name(mailbox_id))
    return int(holder.split("#")[0].rsplit(":", 1)[1]) if holder else None


def holds(leases: Leases, mailbox_id: int, pid: int) -> bool:
    return holder_pid(leases, mailbox_id) == pid


@pytest.mark.slow  # starts a process
def test_a_service_refuses_a_database_that_was_not_migrated(tmp_path: Path, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATA_DIR=str(tmp_path / "data"),
        INTAKE_REDIS_URL=redis_url,
        INTAKE_SMTP_PORT=str(free_port()),
    )
    result = subprocess.run(
        [sys.executable, "-m", "intake", "smtp"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "run `intake migrate`" in result.stderr


@pytest.mark.slow  # starts a process
def test_without_a_redis_url_a_service_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env["INTAKE_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "intake", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "INTAKE_REDIS_URL" in result.stderr


@pytest.mark.postgres
@pytest.mark.timeout(int(1200 * SCALE))
def test_separate_processes_lose_one_of_each_kind_and_keep_every_message_once(
    gateway: Gateway,
    pg_url: str,
    redis_url: str,
    dovecot: Dovecot,  # noqa: F811
    tmp_path: Path,
) -> None:
    runtime = make_runtime(
        tmp_path, pg_url, redis_url, INTAKE_SECRET_KEY=SECRET, INTAKE_BLOB_STORE="db"
    )
    redis = Redis.from_url(redis_url)
    leases = Leases(redis)
    started = time.monotonic()
    try:
        mailbox_id = add_imap_mailbox(runtime, dovecot, poll_seconds=3600)
        admin = add_person(runtime, "admin@example.com", Role.ADMIN)
        smtp_ports = [free_port(), free_port()]
        smtp = [
            gateway.add(f"smtp-{i}", "smtp", INTAKE_SMTP_PORT=str(port))
            for i, port in enumerate(smtp_ports)
        ]
        imap = [gateway.add(f"imap-{i}", "imap") for i in range(2)]
        workers = {
            queue: [
                gateway.add(f"worker-{queue}-{i}", "worker", "--queues", queue) for i in range(2)
            ]
            for queue in JobQueue
        }
        gateway.add("sweeper", "sweeper")
        web_port = free_port()
        gateway.add("web", "web", INTAKE_WEB_PORT=str(web_port))
        for port in smtp_ports:
            wait_until(partial(listening, port), 90, f"SMTP on {port}", gateway)
        wait_until(lambda: holder_pid(leases, mailbox_id) is not None, 90, "an IMAP lease", gateway)
        print(f"services up in {time.monotonic() - started:.1f} s")

        sent_at = time.monotonic()
        senders = Senders(smtp_ports, SMTP_COUNT)
        senders.start()
        appender = threading.Thread(target=append_all, args=(dovecot, IMAP_COUNT))
        appender.start()

        # Each kind loses one process in the middle of its own work: an SMTP listener half-way
        # through the sending, the poller holding the mailbox half-way through the IMAP mail,
        # one worker of each queue once a quarter of everything is processed.
        takeover: float | None = None
        smtp_killed = imap_killed = workers_killed = False
        deadline = time.monotonic() + 300 * SCALE
        while not (smtp_killed and imap_killed and workers_killed):
            assert time.monotonic() < deadline, f"no progress\n{gateway.logs()}"
            if not smtp_killed and len(senders.accepted) >= SMTP_COUNT // 2:
                smtp[0].kill()
                smtp_killed = True
            if not imap_killed and counts(runtime, mailbox_id=mailbox_id) >= IMAP_COUNT // 2:
                holder = next(p for p in imap if p.pid == holder_pid(leases, mailbox_id))
                survivor = next(p for p in imap if p is not holder)
                holder.kill()
                takeover = wait_until(
                    partial(holds, leases, mailbox_id, survivor.pid),
                    30,
                    "IMAP takeover",
                    gateway,
                )
                imap_killed = True
            processed = counts(runtime, state=MessageState.PROCESSED)
            if not workers_killed and processed >= (SMTP_COUNT + IMAP_COUNT) // 4:
                for pair in workers.values():
                    pair[0].kill()
                workers_killed = True
            time.sleep(0.2)

        senders.join()
        appender.join()
        sending = time.monotonic() - sent_at
        expected_smtp = len(senders.accepted)
        wait_until(
            lambda: counts(runtime, mailbox_id=mailbox_id) >= IMAP_COUNT,
            300 * SCALE,
            "every IMAP message stored",
            gateway,
        )
        wait_until(
            lambda: counts(runtime, state=MessageState.PROCESSED) >= expected_smtp + IMAP_COUNT,
            600 * SCALE,
            "every message processed",
            gateway,
        )
        done = time.monotonic() - sent_at

        with runtime.db.session() as session:
            rows = session.execute(
                select(Message.message_id_header, Message.source, Message.state, Message.ticket_id)
            ).all()
        by_id = Counter((row.message_id_header or "").strip("<>") for row in rows)
        smtp_rows = {
            (r.message_id_header or "").strip("<>") for r in rows if r.source == Source.SMTP
        }
        imap_rows = [r for r in rows if r.source == Source.IMAP]
        # Every message a client got 250 for is stored, once; no resend made a second row.
        assert senders.accepted <= smtp_rows
        assert [mid for mid, n in by_id.items() if n > 1] == []
        assert len(imap_rows) == IMAP_COUNT
        # ... and is exactly one processed message on a ticket.
        unfinished = [r for r in rows if r.state != MessageState.PROCESSED or r.ticket_id is None]
        assert unfinished == []
        # No IMAP UID was fetched twice, across both pollers.
        fetched = [
            (int(m.group(1)), m.group(3))
            for s in imap
            for m in UID_LINE.finditer(s.log.read_text(errors="replace"))
        ]
        uids = Counter(uid for uid, _ in fetched)
        assert [uid for uid, n in uids.items() if n > 1] == []
        assert not [uid for uid, duplicate in fetched if duplicate]
        assert takeover is not None and takeover < LEASE_SECONDS + 3

        request = urllib.request.Request(
            f"http://127.0.0.1:{web_port}/metrics", headers={"Authorization": f"Bearer {admin}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            scraped = response.read().decode()
        accepted_line = re.search(
            r'intake_messages_accepted_total\{collector="smtp"\} (\S+)', scraped
        )
        assert accepted_line is not None
        # The killed listener's last second of counts may be lost with it.
        assert float(accepted_line.group(1)) > expected_smtp // 2
        print(
            f"{expected_smtp} SMTP messages accepted ({senders.retries} client retries, "
            f"{len(smtp_rows)} stored), {IMAP_COUNT} IMAP; sent in {sending:.1f} s, all processed "
            f"{done:.1f} s after the first; IMAP takeover {takeover:.1f} s after SIGKILL "
            f"(lease {LEASE_SECONDS} s); whole test {time.monotonic() - started:.1f} s"
        )
    finally:
        redis.close()
        runtime.close()


def test_a_job_whose_worker_died_before_claiming_its_row_is_enqueued_again(
    sqlite_runtime: Runtime,
) -> None:
    # Found by the scale-out run: a worker killed between RQ's "started" and the job's claim.
    jobs = sqlite_runtime.jobs
    assert jobs.enqueue(INGEST_MESSAGE, 67)
    queue = jobs.queue(JobQueue.INTAKE)
    job = Job.fetch(INGEST_MESSAGE.job_id(67), connection=jobs.connection)
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.started_at = datetime.now(UTC) - timedelta(seconds=5)
    job.save()
    assert jobs.requeue_if_lost(INGEST_MESSAGE, 67)
    assert queue.count == 0  # started moments ago: its worker may still claim the row
    job.started_at = datetime.now(UTC) - timedelta(minutes=5)
    job.save()
    assert jobs.requeue_if_lost(INGEST_MESSAGE, 67)
    assert queue.job_ids == [INGEST_MESSAGE.job_id(67)]
    assert Job.fetch(queue.job_ids[0], connection=jobs.connection).get_status() == JobStatus.QUEUED
