"""``intake up``: every service of a one-machine install, as child processes of one command.

Children run in their own sessions so that Ctrl-C reaches only the supervisor, which then stops
them in order; each child also gets SIGTERM from the kernel if the supervisor dies, so nothing is
left running. A child that crashes is restarted with backoff, and the embedded Redis from its
append-only file. What cannot be mended this way (a Redis that will not start, a child that dies
again each time it starts) is fatal: ``intake up`` stops everything and exits non-zero, so a
service manager set to restart on failure takes over.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import RedisError

from intake.cli.embedded_redis import EmbeddedRedis
from intake.core.settings import Settings
from intake.errors import IntakeError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT = 10.0
REDIS_RESTARTS = 5
# A child that dies within QUICK_EXIT_S of its start this many times in a row will not come up
# by itself (a port taken, a broken setting); with the backoff that is about two minutes.
CRASH_LOOP_LIMIT = 8
QUICK_EXIT_S = 60.0


def die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel for SIGTERM when the parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: stopping on signals still works, only the crash safety net is missing
    os.setsid()


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0  # when to restart after a crash; 0 while running
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        self.started_at = time.monotonic()
        log.info("started %s (pid %s)", self.name, self.process.pid)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def without_password(url: str) -> str:
    """The URL with any password masked, for logs and the startup summary."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def service_argv(command: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "intake", *command]


def plan_children(settings: Settings, env: dict[str, str]) -> list[Child]:
    commands: dict[str, list[str]] = {}
    # Several SMTP processes share one port (SO_REUSEPORT, the kernel spreads the connections):
    # one process is bound by its interpreter lock, which its sessions and group commit share.
    for number in range(1, settings.smtp_processes + 1):
        commands["smtp" if settings.smtp_processes == 1 else f"smtp-{number}"] = ["smtp"]
    commands["imap"] = ["imap"]
    for number in range(1, settings.workers + 1):
        # Apart, so that a burst of new mail cannot starve classification (RQ serves a worker's
        # queues in order) and the two steps overlap; only the classify worker loads the models.
        commands[f"worker-intake-{number}"] = ["worker", "--queues", "intake"]
        commands[f"worker-classify-{number}"] = ["worker", "--queues", "classify"]
    # One transcription worker: a second model copy would only compete for the same cores. It
    # also runs the analytics jobs, which would otherwise hold new mail up for their minutes.
    commands["worker-transcribe"] = ["worker", "--queues", "transcribe,analytics"]
    # Outbound mail waits on a remote relay (up to its timeout): in a worker of its own (no
    # models, small) it neither holds up intake nor waits behind a long classification.
    commands["worker-outbound"] = ["worker", "--queues", "outbound"]
    commands["sweeper"] = ["sweeper"]
    commands["web"] = ["web"]
    if settings.voicemail_spool is not None:
        commands["voicemail-spool"] = ["voicemail-spool"]
    return [Child(name, service_argv(argv), env=env) for name, argv in commands.items()]


class Supervisor:
    def __init__(self, settings: Settings, announce: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.announce = announce
        self.stopping = threading.Event()
        self.redis: EmbeddedRedis | None = None
        self.children: list[Child] = []
        self.redis_url = ""
        self.backoff_s = 0.5  # first delay before a restart, doubled per quick exit (max 30 s)
        self.poll_s = 0.5

    def request_stop(self, signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["INTAKE_DATA_DIR"] = str(settings.data_dir)
        env["INTAKE_DATABASE_URL"] = settings.database_url
        try:
            redis_url = settings.redis_url
            if not redis_url:
                self.redis = EmbeddedRedis(settings.data_dir / "redis")
                redis_url = self.redis.start()
            env["INTAKE_REDIS_URL"] = self.redis_url = redis_url
            # In a child, so the supervisor itself never loads SQLAlchemy and Alembic.
            migrate = service_argv(["migrate"])
            if subprocess.run(migrate, env=env, stdin=subprocess.DEVNULL).returncode != 0:
                raise IntakeError("database migrations failed (the reason is printed above)")
            self.children = plan_children(settings, env)
            for child in self.children:
                child.start()
            self.announce(self.describe(redis_url))
            self.watch()
        finally:
            self.stop_all()
        return 0

    def describe(self, redis_url: str) -> str:
        s = self.settings
        embedded = " (embedded)" if self.redis else ""
        return "\n".join(
            [
                "Intake Gateway is running:",
                f"  web UI and API  http://{s.web_host}:{s.web_port}/",
                f"  SMTP            {s.smtp_host}:{s.smtp_port}",
                "  IMAP            polls the mailboxes admins configure (web UI or CLI)",
                f"  Redis           {without_password(redis_url)}{embedded}",
                f"  database        {without_password(s.database_url)}",
                f"  data            {s.data_dir}",
                *([f"  voicemail spool {s.voicemail_spool}"] if s.voicemail_spool else []),
                "Press Ctrl-C to stop.",
            ]
        )

    def watch(self) -> None:
        """Restart children that exit; raises IntakeError when the gateway cannot go on."""
        while not self.stopping.wait(self.poll_s):
            if self.redis and self.redis.process and self.redis.process.poll() is not None:
                self.restart_redis()
            now = time.monotonic()
            for child in self.children:
                if child.running():
                    continue
                if child.next_start == 0.0:
                    assert child.process is not None
                    uptime = now - child.started_at
                    child.restarts = 0 if uptime > QUICK_EXIT_S else child.restarts + 1
                    # Services wait out a Redis outage by exiting and being restarted: that is
                    # not theirs to be blamed for (a Redis that stays away is fatal by itself).
                    if child.restarts >= CRASH_LOOP_LIMIT and self.redis_answers():
                        raise IntakeError(
                            f"{child.name} exited {child.restarts} times in a row within "
                            f"{QUICK_EXIT_S:.0f} s of starting (last status "
                            f"{child.process.returncode}); giving up"
                        )
                    delay = min(30.0, self.backoff_s * 2**child.restarts)
                    log.error(
                        "%s exited with %s; restarting in %.1f s",
                        child.name,
                        child.process.returncode,
                        delay,
                    )
                    child.next_start = now + delay
                elif now >= child.next_start:
                    child.next_start = 0.0
                    child.start()

    def redis_answers(self) -> bool:
        try:
            connection = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=2)
            try:
                return bool(connection.ping())
            finally:
                connection.close()
        except (RedisError, ValueError):
            return False

    def restart_redis(self) -> None:
        """The embedded Redis died: start it again from its append-only file, same socket.

        Meanwhile the collectors keep storing rows and answering 250 (enqueueing fails softly)
        and the sweeper enqueues what waited once Redis is back. A Redis that will not come back
        is fatal: ``intake up`` exits non-zero so a service manager restarts the gateway.
        """
        assert self.redis is not None and self.redis.process is not None
        log.error(
            "embedded Redis exited with %s; restarting it from its append-only file",
            self.redis.process.returncode,
        )
        for attempt in range(1, REDIS_RESTARTS + 1):
            try:
                self.redis.start()
                log.info("embedded Redis is back (attempt %d)", attempt)
                return
            except IntakeError as exc:
                log.error("embedded Redis did not restart (attempt %d): %s", attempt, exc)
                if self.stopping.wait(min(10.0, self.backoff_s * 2**attempt)):
                    return
        raise IntakeError(f"embedded Redis did not come back after {REDIS_RESTARTS} attempts")

    def stop_all(self) -> None:
        running = [c for c in self.children if c.running()]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait()
        if self.redis is not None:
            self.redis.stop()
        log.info("all services stopped")
