"""SMTP ingest throughput with durability, against a bare aiosmtpd server in the same run.

One asyncio load generator (like Postfix's ``smtp-source``: SESSIONS concurrent sessions, each
sending MAIL, RCPT, DATA and a 5 KB message, then the next, over one connection) runs against:

- the gateway as ``intake up`` runs it by default: the ``intake smtp`` processes it plans
  (``INTAKE_SMTP_PROCESSES``, one per core by default, on one port) with its embedded defaults
  (SQLite in a fresh data dir, the embedded redis-server, migrations run first, log level INFO:
  one line per accepted message, written to a file); every 250 means the blob and its row are
  committed and synced;
- a bare aiosmtpd server, also a child process, whose handler answers 250 and stores nothing.

Rounds alternate between the two (gateway, bare, gateway, bare, ...) so that both see the same
machine load. Afterwards the gateway's ``messages`` rows are counted: every accepted message must
be stored. Target: the gateway's median rate >= 0.7 x the bare server's.

Run from the repository root:
    .venv/bin/python tests/bench/bench_smtp_throughput.py [--messages 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.cli.embedded_redis import EmbeddedRedis  # noqa: E402
from intake.cli.supervisor import plan_children  # noqa: E402
from intake.core.settings import load_settings  # noqa: E402
from tests.bench.figures import figure, method  # noqa: E402

SESSIONS = 20
MESSAGE_BYTES = 5 * 1024
TARGET_RATIO = 0.7
DOMAIN = "example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_message(run: str, number: int) -> bytes:
    """A plain 5 KB message with a Message-ID of its own (so the gateway keeps every one)."""
    head = (
        f"From: Customer {number} <customer{number}@customer.org>\r\n"
        f"To: support@{DOMAIN}\r\n"
        f"Subject: Order {number} has not arrived\r\n"
        f"Message-ID: <{run}.{number}@customer.org>\r\n"
        "Date: Tue, 01 Dec 2026 09:30:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"my order has not arrived yet, could you please check where it is? thanks\r\n"
    body = line * ((MESSAGE_BYTES - len(head)) // len(line) + 1)
    return (head + body)[: MESSAGE_BYTES - 2] + b"\r\n"


class SmtpSession:
    """A minimal SMTP client on asyncio streams: cheap, so the servers are what is measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> SmtpSession:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = cls(reader, writer)
        await session.reply()  # greeting
        await session.command(b"EHLO loadgen.example.org")
        return session

    async def reply(self) -> int:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])

    async def command(self, line: bytes) -> int:
        self.writer.write(line + b"\r\n")
        return await self.reply()

    async def send(self, raw: bytes, to: str = f"support@{DOMAIN}") -> int:
        """The reply to the end of DATA (or the first refusal before it)."""
        for line in (b"MAIL FROM:<loadgen@customer.org>", f"RCPT TO:<{to}>".encode()):
            code = await self.command(line)
            if code != 250:
                await self.command(b"RSET")
                return code
        code = await self.command(b"DATA")
        if code != 354:
            return code
        self.writer.write(raw + b".\r\n")  # the messages have no line starting with a dot
        return await self.reply()

    async def close(self) -> None:
        try:
            await self.command(b"QUIT")
        except ConnectionError:
            pass
        self.writer.close()


@dataclass
class Round:
    server: str
    messages: int
    accepted: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


async def load(port: int, messages: list[bytes]) -> tuple[int, float]:
    """Send every message over SESSIONS sessions; (accepted, seconds)."""
    sessions = [await SmtpSession.open(port) for _ in range(SESSIONS)]
    queue = iter(messages)
    accepted = 0

    async def run(session: SmtpSession) -> None:
        nonlocal accepted
        for raw in queue:
            if await session.send(raw) == 250:
                accepted += 1

    started = time.perf_counter()
    await asyncio.gather(*(run(s) for s in sessions))
    seconds = time.perf_counter() - started
    await asyncio.gather(*(s.close() for s in sessions))
    return accepted, seconds


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def wait_for_listeners(port: int, count: int, timeout: float = 60.0) -> None:
    """Until ``count`` sockets listen on ``port`` (each SMTP process has its own, SO_REUSEPORT)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as table:
            listening = sum(
                1
                for line in table.readlines()[1:]
                if int(line.split()[1].rpartition(":")[2], 16) == port and line.split()[3] == "0A"
            )
        if listening >= count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"fewer than {count} processes listen on port {port} after {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def gateway(data_dir: Path) -> Iterator[int]:
    """The SMTP processes of ``intake up`` with its embedded defaults, as it plans them.

    ``intake up`` runs ``INTAKE_SMTP_PROCESSES`` (default one per core) ``intake smtp`` processes
    on one port; the bench starts the same children (``plan_children``), with the same
    environment and the default log level (one INFO line per accepted message, as in use).
    """
    redis = EmbeddedRedis(data_dir / "redis")
    env = {
        **os.environ,
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_REDIS_URL": redis.start(),
        "INTAKE_ACCEPT_DOMAINS": DOMAIN,
    }
    env.pop("INTAKE_DATABASE_URL", None)  # the default: SQLite in the data dir
    env.pop("INTAKE_LOG_LEVEL", None)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([sys.executable, "-m", "intake", "migrate"], env=env, check=True)
        port = free_port()
        env["INTAKE_SMTP_PORT"] = str(port)
        smtp = [c for c in plan_children(load_settings(env), env) if c.argv[-1] == "smtp"]
        for number, child in enumerate(smtp):
            with open(data_dir / f"smtp-{number}.log", "wb") as log:  # its INFO lines
                processes.append(subprocess.Popen(child.argv, env=env, stderr=log))
        for process in processes:
            wait_for_port(port, process)
        wait_for_listeners(port, len(processes))
        print(f"gateway: {len(processes)} intake smtp processes on port {port}")
        yield port
    finally:
        for process in processes:
            stop(process)
        redis.stop()


@contextmanager
def bare_server() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)])
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)


def serve_bare(port: int) -> None:
    """aiosmtpd with a handler that keeps nothing: the ceiling of an aiosmtpd-based server."""
    from aiosmtpd.controller import Controller  # the child alone needs it

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 2.0.0 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


def stored_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "intake.sqlite3") as connection:
        count: int = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
    return count


def machine() -> str:
    load1, _, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load1:.2f}"


def io_pressure() -> str:
    """The share of the last 60 s some task waited for I/O (the gateway syncs; bare does not)."""
    try:
        with open("/proc/pressure/io") as pressure:
            some = pressure.readline().split()
    except OSError:
        return "I/O pressure unknown"
    return f"I/O pressure {some[2].partition('=')[2]} % (60 s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        serve_bare(args.serve_bare)
        return 0

    method(
        f"One asyncio load generator, {SESSIONS} concurrent SMTP sessions, "
        f"{MESSAGE_BYTES // 1024} KB messages, {args.messages} messages per round, "
        f"{args.rounds} rounds per server, alternating: the gateway as `intake up` runs it "
        "by default (its `intake smtp` processes on one port, INTAKE_SMTP_PROCESSES = one per "
        "core, SQLite, embedded Redis, log level INFO; 250 only after the blob and row are "
        "synced and committed) and a bare aiosmtpd server that stores nothing (one process), "
        "as child processes on the same machine as the generator. Every accepted message is "
        "counted in the gateway's `messages` table afterwards. No workers run, so only "
        "intake is measured."
    )
    run = uuid.uuid4().hex[:12]
    rounds: list[Round] = []
    print(f"machine: {machine()}, {io_pressure()} (before)")
    with tempfile.TemporaryDirectory(prefix="intake-bench-", ignore_cleanup_errors=True) as tmp:
        data_dir = Path(tmp) / "data"
        with gateway(data_dir) as gateway_port, bare_server() as bare_port:
            number = 0
            warm = [make_message(run, -n) for n in range(1, 2 * SESSIONS + 1)]
            asyncio.run(load(gateway_port, warm))  # first connections, caches, SQLite pages
            asyncio.run(load(bare_port, warm))
            for index in range(args.rounds):
                for server, port in (("gateway", gateway_port), ("bare aiosmtpd", bare_port)):
                    messages = [make_message(run, number + n) for n in range(args.messages)]
                    number += args.messages
                    accepted, seconds = asyncio.run(load(port, messages))
                    result = Round(server, args.messages, accepted, seconds)
                    rounds.append(result)
                    print(
                        f"round {index + 1} {server:<14} {accepted:5d}/{args.messages} accepted "
                        f"in {seconds:6.2f} s: {result.rate:7.1f} messages/s "
                        f"(load average {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
        stored = stored_rows(data_dir)
    print(f"machine: {machine()}, {io_pressure()} (after)")
    gateway_rounds = [r for r in rounds if r.server == "gateway"]
    bare_rounds = [r for r in rounds if r.server != "gateway"]
    accepted = sum(r.accepted for r in gateway_rounds) + 2 * SESSIONS
    gateway_rate = statistics.median(r.rate for r in gateway_rounds)
    bare_rate = statistics.median(r.rate for r in bare_rounds)
    ratio = gateway_rate / bare_rate
    per_round = [g.rate / b.rate for g, b in zip(gateway_rounds, bare_rounds, strict=True)]
    all_stored = stored == accepted
    met = ratio >= TARGET_RATIO and all_stored
    print(
        f"gateway {gateway_rate:.1f} messages/s, bare aiosmtpd {bare_rate:.1f} messages/s: "
        f"{ratio:.2f}x (per round: {', '.join(f'{r:.2f}' for r in per_round)}; "
        f"target >= {TARGET_RATIO})"
    )
    print(f"stored: {stored} rows for {accepted} accepted messages (warm-up included)")
    figure("gateway (intake smtp), median of rounds", round(gateway_rate, 1), "messages/s")
    figure("bare aiosmtpd, median of rounds", round(bare_rate, 1), "messages/s")
    figure(
        "gateway / bare aiosmtpd",
        round(ratio, 2),
        "x",
        target=f">= {TARGET_RATIO}",
        met=ratio >= TARGET_RATIO,
        ceiling=f"bare aiosmtpd {bare_rate:.1f} messages/s, same run",
        note="per round: " + ", ".join(f"{r:.2f}" for r in per_round),
    )
    figure(
        "accepted messages stored",
        f"{stored}/{accepted}",
        target="all",
        met=all_stored,
    )
    if not all_stored:
        print("not every accepted message was stored", file=sys.stderr)
    if not met:
        print("missed the target", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
