"""A worker killed at the worst moments, mid-burst, as real processes (``intake smtp``,
``intake worker``, ``intake sweeper``) on a real Redis and SQLite.

Each fault is followed by the count: every mail that got a 250 became exactly one processed
message with its own ticket, within two minutes of the restart (issue 11).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import free_port
from tests.e2e.faults import (
    RECOVERY_LIMIT_S,
    Burst,
    Mail,
    all_processed,
    assert_exactly_once,
    inbound_rows,
    make_burst,
    port_open,
    service_env,
    start_intake,
    stop,
    tail,
    wait_until,
)


class Services:
    """The gateway's services as separate processes, as a scaled-out install runs them."""

    def __init__(self, tmp_path: Path, sqlite_url: str, redis_url: str) -> None:
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.port = free_port()
        self.database = Path(sqlite_url.removeprefix("sqlite:///"))
        self.redis = Redis.from_url(redis_url)
        self.env = service_env(
            INTAKE_DATA_DIR=str(tmp_path / "data"),
            INTAKE_DATABASE_URL=sqlite_url,
            INTAKE_REDIS_URL=redis_url,
            INTAKE_SMTP_PORT=str(self.port),
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        process = start_intake(self.env, self.logs / f"{name}.log", *argv)
        self.processes[name] = process
        return process

    def start_worker(self, name: str, queues: str) -> subprocess.Popen[bytes]:
        worker = self.start(name, "worker", "--queues", queues)
        wait_until(self.a_worker_waits, 60, f"{name} waiting on its queues")
        return worker

    def a_worker_waits(self) -> bool:
        """A worker is blocked in Redis waiting for a job (BLPOP, or BLMOVE for one queue)."""
        return any(
            "b" in client["flags"] and client["cmd"] in ("blpop", "blmove")
            for client in self.redis.client_list()
        )

    def lost_jobs(self) -> list[str]:
        """Ingest jobs whose record says queued that are on no queue (a worker took them)."""
        queue_key = "rq:queue:intake"
        lost = []
        for row_id in self.message_row_ids():
            job_id = f"ingest-message-{row_id}"
            status = self.redis.hget(f"rq:job:{job_id}", "status")
            if status == b"queued" and self.redis.lpos(queue_key, job_id) is None:
                lost.append(job_id)
        return lost

    def message_row_ids(self) -> list[int]:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return [row for (row,) in connection.execute("SELECT id FROM messages ORDER BY id")]
        finally:
            connection.close()

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()  # all at once, then wait for each
        for process in self.processes.values():
            stop(process)
        self.redis.close()
        for log in sorted(self.logs.glob("*.log")):
            print(f"--- {log.name}\n{tail(log)}")  # shown when the test failed


@pytest.fixture
def services(tmp_path: Path, sqlite_url: str, redis_url: str) -> Iterator[Services]:
    started = Services(tmp_path, sqlite_url, redis_url)
    yield started
    started.close()


def start_smtp(services: Services) -> None:
    services.start("smtp", "smtp")
    wait_until(lambda: port_open(services.port), 60, "SMTP listening")


@pytest.mark.slow
def test_a_worker_killed_between_taking_a_job_and_starting_it(services: Services) -> None:
    """The job record says "queued" and the job is on no queue: the row decides, not RQ."""
    start_smtp(services)
    # Two queues, as `intake up` runs its intake worker: RQ takes jobs with BLPOP, so a job taken
    # by a worker that dies is on no list at all.
    worker = services.start_worker("worker-1", "intake,outbound")
    # Stopped while blocked in BLPOP: Redis hands it the first job of the burst and the worker
    # never marks it started, as if it died right after the pop.
    os.kill(worker.pid, signal.SIGSTOP)
    mails = make_burst("dequeued", 30)
    Burst(services.port, mails).start().join()
    assert all(mail.accepted for mail in mails)
    lost = services.lost_jobs()
    assert len(lost) == 1, lost
    worker.kill()
    worker.wait()

    # The sweeper starts with the new worker: before, it would enqueue jobs of its own (SLA
    # watch) that the stopped worker might take instead of the first message's.
    services.start("sweeper", "sweeper")
    services.start("worker-2", "worker", "--queues", "intake,outbound")
    waited = wait_until(
        lambda: all_processed(services.database, mails),
        RECOVERY_LIMIT_S,
        "every message processed after the restart",
        every=0.25,
    )
    assert_exactly_once(services.database, mails)
    print(f"lost job {lost[0]}: all 30 processed {waited:.1f} s after the restart")


def many_attachments(count: int) -> Mail:
    """A mail whose processing takes seconds (each attachment is written and fsynced)."""
    message = EmailMessage()
    message["From"] = "Heavy Customer <heavy@customer.org>"
    message["To"] = "help@example.com"
    message["Subject"] = "heavy: scans of every page"
    message["Message-ID"] = "<heavy@customer.org>"
    message.set_content("All the pages, attached.\n")
    for number in range(count):
        message.add_attachment(
            f"page {number} ".encode() * 50,
            maintype="application",
            subtype="octet-stream",
            filename=f"page-{number}.bin",
        )
    return Mail("heavy: scans of every page", "heavy@customer.org", message.as_bytes(policy=SMTP))


@pytest.mark.slow
def test_a_worker_killed_mid_job(services: Services) -> None:
    """The claim names the dead worker; once its heartbeat expires the sweeper hands it back."""
    start_smtp(services)
    services.start("sweeper", "sweeper")
    # One queue: RQ takes jobs with BLMOVE through an intermediate list, the other way to lose
    # one; this worker dies mid-job instead.
    worker = services.start_worker("worker-1", "intake")
    mails = make_burst("midjob", 20)
    heavy = many_attachments(300)
    mails.insert(6, heavy)
    burst = Burst(services.port, mails, connections=2).start()

    def heavy_is_processing() -> bool:
        return any(
            row.message_id == heavy.message_id and row.state == "processing"
            for row in inbound_rows(services.database)
        )

    wait_until(heavy_is_processing, 60, "the heavy message being processed", every=0.05)
    worker.kill()
    worker.wait()
    burst.join()
    assert all(mail.accepted for mail in mails)
    row = next(r for r in inbound_rows(services.database) if r.message_id == heavy.message_id)
    assert row.state == "processing"  # claimed by a process that is gone

    services.start("worker-2", "worker", "--queues", "intake")
    waited = wait_until(
        lambda: all_processed(services.database, mails),
        RECOVERY_LIMIT_S,
        "every message processed after the restart",
        every=0.25,
    )
    assert_exactly_once(services.database, mails)
    print(f"killed mid-job: all {len(mails)} processed {waited:.1f} s after the restart")
