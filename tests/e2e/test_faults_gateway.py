"""`intake up` losing its embedded Redis, or all of its processes at once, mid-burst; and the
faults the supervisor cannot mend making it exit non-zero.

Each kill is followed by the count: every mail that got a 250 became exactly one processed
message with its own ticket, within two minutes of the restart (issue 11).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.cli.embedded_redis import EmbeddedRedis
from intake.cli.supervisor import CRASH_LOOP_LIMIT, Child, Supervisor
from intake.core.settings import load_settings
from intake.errors import IntakeError
from tests.conftest import free_port
from tests.e2e.faults import (
    RECOVERY_LIMIT_S,
    Burst,
    all_processed,
    answers,
    assert_exactly_once,
    command_line,
    descendants,
    make_burst,
    port_open,
    send_until_accepted,
    service_env,
    start_intake,
    tail,
    wait_until,
)

# `intake up` loads the speech and text models before its workers take jobs.
STARTUP_LIMIT_S = 180.0


class Gateway:
    """`intake up` on a data dir of its own, started (and restarted) as a user would."""

    def __init__(self) -> None:
        # Short: the embedded Redis listens on a unix socket inside the data dir.
        self.data_dir = Path(tempfile.mkdtemp(prefix="intake-f-", dir="/tmp"))
        self.smtp_port = free_port()
        self.web = f"http://127.0.0.1:{free_port()}"
        self.env = service_env(
            INTAKE_DATA_DIR=str(self.data_dir),
            INTAKE_SMTP_PORT=str(self.smtp_port),
            INTAKE_WEB_PORT=self.web.rpartition(":")[2],
        )
        self.log = self.data_dir / "intake-up.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.data_dir / "intake.sqlite3"

    def start(self) -> subprocess.Popen[bytes]:
        self.process = start_intake(self.env, self.log, "up")
        return self.process

    def wait_ready(self) -> float:
        """Seconds until /readyz says ready: every process beats and every queue is served."""
        assert self.process is not None
        return wait_until(
            lambda: (
                self.process is not None
                and self.process.poll() is None
                and answers(f"{self.web}/readyz") == 200
            ),
            STARTUP_LIMIT_S,
            f"intake up ready\n{tail(self.log)}",
            every=0.5,
        )

    def redis_pid(self) -> int:
        assert self.process is not None
        for pid in descendants(self.process.pid):
            if "redis-server" in command_line(pid):
                return pid
        raise AssertionError("no embedded redis-server among the gateway's processes")

    def kill_everything(self) -> None:
        """SIGKILL for the supervisor and every process under it, children first, at once (a
        power cut, or the OOM killer taking the whole cgroup)."""
        assert self.process is not None
        for pid in [*reversed(descendants(self.process.pid)), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill_everything()
        print(f"--- intake up\n{tail(self.log, 60)}")  # shown when the test failed
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    started = Gateway()
    yield started
    started.close()


@pytest.mark.slow
def test_the_embedded_redis_then_the_whole_gateway_killed_mid_burst(gateway: Gateway) -> None:
    """Two faults in a row on one install (one start of `intake up` fewer for the test suite):
    the embedded Redis dies, the gateway mends itself; later everything dies at once."""
    up = gateway.start()
    print(f"ready {gateway.wait_ready():.1f} s after intake up")
    killed = gateway.redis_pid()
    first = make_burst("redis", 60)
    burst = Burst(gateway.smtp_port, first).start()
    burst.wait_for(15)
    os.kill(killed, signal.SIGKILL)
    burst.join()
    # While Redis is gone the collectors keep answering 250: the rows wait.
    assert all(mail.accepted for mail in first), [m.subject for m in first if not m.accepted]
    waited = wait_until(
        lambda: all_processed(gateway.database, first),
        RECOVERY_LIMIT_S,
        "every message processed after Redis came back",
        every=0.25,
    )
    assert_exactly_once(gateway.database, first)
    print(f"Redis killed mid-burst: all 60 processed {waited:.1f} s after the kill")
    assert gateway.redis_pid() != killed  # restarted by the supervisor, from its AOF
    assert up.poll() is None
    gateway.wait_ready()  # every process beats into the new Redis

    second = make_burst("powercut", 60)
    burst = Burst(gateway.smtp_port, second).start()
    burst.wait_for(15)
    gateway.kill_everything()
    burst.join()
    unanswered = [mail for mail in second if not mail.accepted]
    assert unanswered, "the burst was over before the kill"
    gateway.start()
    waited = wait_until(
        lambda: port_open(gateway.smtp_port), STARTUP_LIMIT_S, "SMTP back", every=0.5
    )
    # The senders try again what got no 250 (some of it may be stored already: that row is
    # found again by its Message-ID, not stored twice).
    send_until_accepted(gateway.smtp_port, unanswered)
    waited += wait_until(
        lambda: all_processed(gateway.database, second),
        RECOVERY_LIMIT_S,
        "every message processed after the restart",
        every=0.25,
    )
    assert_exactly_once(gateway.database, first + second)
    print(
        f"everything killed with {60 - len(unanswered)} of 60 accepted: all processed "
        f"{waited:.1f} s after the restart"
    )
    assert waited < RECOVERY_LIMIT_S
    gateway.wait_ready()  # the dead processes' heartbeats and claims are gone


# The supervisor gives up on what it cannot mend, and says so with its exit status.


def quick_supervisor(data_dir: Path, redis_url: str) -> Supervisor:
    settings = load_settings({"INTAKE_DATA_DIR": str(data_dir), "INTAKE_REDIS_URL": redis_url})
    supervisor = Supervisor(settings, announce=lambda _text: None)
    supervisor.redis_url = redis_url
    supervisor.backoff_s = 0.001
    supervisor.poll_s = 0.01
    return supervisor


@pytest.mark.timeout(60)
def test_an_embedded_redis_that_will_not_restart_is_fatal(redis_url: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="intake-r-", dir="/tmp"))
    supervisor = quick_supervisor(directory, redis_url)
    try:
        supervisor.redis = EmbeddedRedis(directory / "redis")
        supervisor.redis.start()
        assert supervisor.redis.process is not None
        supervisor.redis.process.kill()
        supervisor.redis.process.wait()
        # Its append-only file is damaged beyond what redis-server loads.
        damaged = [aof for aof in (directory / "redis").rglob("appendonly*") if aof.is_file()]
        assert damaged
        for aof in damaged:
            aof.write_bytes(b"this is not an append-only file\r\n")
        with pytest.raises(IntakeError, match="did not come back after 5 attempts"):
            supervisor.watch()
    finally:
        if supervisor.redis is not None:
            supervisor.redis.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.timeout(60)
def test_a_service_that_dies_each_time_it_starts_is_fatal(tmp_path: Path, redis_url: str) -> None:
    supervisor = quick_supervisor(tmp_path, redis_url)
    broken = Child("smtp", [sys.executable, "-c", "raise SystemExit(3)"], env=dict(os.environ))
    supervisor.children = [broken]
    broken.start()
    started = time.monotonic()
    with pytest.raises(IntakeError, match=f"smtp exited {CRASH_LOOP_LIMIT} times in a row"):
        supervisor.watch()
    assert time.monotonic() - started < 60


def test_services_waiting_out_a_redis_outage_are_not_blamed(tmp_path: Path) -> None:
    """Services exit while Redis is gone and are restarted; that alone is not fatal."""
    supervisor = quick_supervisor(tmp_path, f"unix://{tmp_path}/no-redis-here.sock")
    exiting = Child("worker", [sys.executable, "-c", "raise SystemExit(1)"], env=dict(os.environ))
    supervisor.children = [exiting]
    exiting.start()
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            supervisor.watch()
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    wait_until(lambda: exiting.restarts > CRASH_LOOP_LIMIT, 30, "restarts past the limit")
    supervisor.stopping.set()
    watcher.join(10)
    assert not errors
