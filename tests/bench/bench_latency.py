"""Latency from SMTP 250 to a ticket visible and classified in the API, at a sustained rate.

Starts the whole gateway (``intake up``: embedded Redis, SQLite, SMTP, workers, web) in a fresh
data directory, then sends RATE messages a second for DURATION seconds over a few SMTP sessions
(open loop: each message leaves at its scheduled time, whatever the previous ones did). Each
message records when its 250 came. A poller asks ``GET /api/tickets?group=...`` every POLL
seconds: every half second of sending goes to its own mailbox, whose default group names the
tickets of that half second, so each poll returns a few tickets instead of the whole queue. A
ticket counts once it is listed with its topic set (classified); its latency is the time of the
poll answer that first showed it so (an upper bound, at most POLL late) minus its 250.
Messages never seen classified count as infinitely late. Targets: p50 <= 0.5 s, p99 <= 2 s.

Run from the repository root:
    .venv/bin/python tests/bench/bench_latency.py [--rate 50] [--duration 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.core.db.engine import Database  # noqa: E402
from intake.core.db.migrate import upgrade  # noqa: E402
from intake.core.db.models import Mailbox  # noqa: E402
from intake.core.users import add_user, create_token  # noqa: E402
from intake.domain import Role  # noqa: E402
from tests.bench.bench_smtp_throughput import (  # noqa: E402
    SmtpSession,
    free_port,
    stop,
    wait_for_port,
)
from tests.bench.figures import figure, method  # noqa: E402

SLOT_SECONDS = 0.5
POLL = 0.1
POLLED = 6  # slots asked per poll round
SESSIONS = 8
P50_TARGET = 0.5
P99_TARGET = 2.0
DRAIN_SECONDS = 30.0


def make_message(token: str, slot: int) -> tuple[str, bytes]:
    address = f"slot{slot}@bench.test"
    raw = (
        f"From: Customer <{token}@customer.org>\r\n"
        f"To: {address}\r\n"
        f"Subject: Order {token} has not arrived\r\n"
        f"Message-ID: <{token}@customer.org>\r\n"
        "Date: Tue, 01 Dec 2026 09:30:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hello, my order has not arrived yet and the tracking page shows nothing.\r\n"
        "Could you check where it is? I paid for express delivery.\r\n"
    ).encode()
    return address, raw


@contextmanager
def gateway(data_dir: Path, slots: int) -> Iterator[tuple[int, int, str, int]]:
    """``intake up`` with one mailbox per slot and an API token; (smtp port, web port, token,
    the process id of ``intake up``)."""
    database_url = f"sqlite:///{data_dir / 'intake.sqlite3'}"
    data_dir.mkdir(parents=True)
    upgrade(database_url)
    database = Database(database_url)
    with database.session() as session:
        add_user(session, "bench@example.com", Role.ADMIN, "a-long-bench-password")
        for slot in range(-1, slots):
            session.add(
                Mailbox(
                    name=f"slot{slot}",
                    addresses=[f"slot{slot}@bench.test"],
                    default_group=f"s{slot}",
                )
            )
    with database.session() as session:
        token = create_token(session, "bench@example.com")
    database.dispose()
    smtp_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "INTAKE_DATA_DIR": str(data_dir),
        "INTAKE_SMTP_PORT": str(smtp_port),
        "INTAKE_WEB_PORT": str(web_port),
        "INTAKE_LOG_LEVEL": "WARNING",
        "INTAKE_SMTP_MESSAGES_PER_MINUTE": "100000",
    }
    for name in ("INTAKE_DATABASE_URL", "INTAKE_REDIS_URL"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "intake", "up"], env=env)
    try:
        wait_for_port(smtp_port, process, timeout=120)
        wait_for_port(web_port, process, timeout=120)
        wait_until_ready(web_port, process)
        yield smtp_port, web_port, token, process.pid
    finally:
        stop(process)


def wait_until_ready(web_port: int, process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Until /readyz says ready: every queue has a worker, so the models are loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"intake up exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=10):
                return
        except OSError:  # 503 (not ready yet) included
            time.sleep(1)
    raise RuntimeError(f"the gateway was not ready after {timeout} s")


class Poller:
    """Asks the API for the tickets of every slot still waiting; notes when each is classified."""

    def __init__(self, web_port: int, token: str) -> None:
        self.base = f"http://127.0.0.1:{web_port}/api/tickets"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.pending: dict[int, set[str]] = {}  # slot -> tokens sent, not yet seen classified
        self.seen: dict[str, float] = {}
        self.listed: dict[str, float] = {}  # visible, classified or not
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0

    def expect(self, slot: int, token: str) -> None:
        with self.lock:
            self.pending.setdefault(slot, set()).add(token)

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            with self.lock:
                # The oldest slots still waiting: a backlog must not make one poll round last
                # as long as the run (each request costs the loaded web server too).
                slots = sorted(slot for slot, tokens in self.pending.items() if tokens)[:POLLED]
            for slot in slots:
                self.poll(slot)
            self.stopping.wait(max(0.0, POLL - (time.monotonic() - started)))

    def poll(self, slot: int) -> None:
        request = urllib.request.Request(
            f"{self.base}?group=s{slot}&limit=200", headers=self.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                tickets = json.load(response)["tickets"]
        except OSError:
            return
        answered = time.monotonic()
        self.polls += 1
        with self.lock:
            for ticket in tickets:
                token = ticket["subject"].split()[1]
                self.listed.setdefault(token, answered)
                if ticket["category"] is None:
                    continue
                if token in self.pending.get(slot, set()):
                    self.pending[slot].discard(token)
                    self.seen[token] = answered


async def send_all(
    port: int,
    rate: float,
    duration: float,
    poller: Poller,
    slot_of: Callable[[float], int] = lambda offset: int(offset / SLOT_SECONDS),
) -> tuple[dict[str, float], int]:
    """Open loop at ``rate``; the 250 time of every accepted message, and the refused count."""
    count = int(rate * duration)
    run = uuid.uuid4().hex[:8]
    accepted: dict[str, float] = {}
    refused = 0
    queue: asyncio.Queue[tuple[str, int, str, bytes]] = asyncio.Queue()
    sessions = [await SmtpSession.open(port) for _ in range(SESSIONS)]
    start = time.monotonic()

    async def produce() -> None:
        for number in range(count):
            due = start + number / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            slot = slot_of(due - start)
            token = f"{run}x{number}"
            address, raw = make_message(token, slot)
            queue.put_nowait((token, slot, address, raw))

    async def consume(session: SmtpSession) -> None:
        nonlocal refused
        while True:
            token, slot, address, raw = await queue.get()
            poller.expect(slot, token)
            code = await session.send(raw, address)
            if code == 250:
                accepted[token] = time.monotonic()
            else:
                refused += 1
                with poller.lock:
                    poller.pending[slot].discard(token)
            queue.task_done()

    workers = [asyncio.create_task(consume(s)) for s in sessions]
    await produce()
    await queue.join()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*(s.close() for s in sessions))
    return accepted, refused


def warm_up(smtp_port: int, poller: Poller, timeout: float = 300.0) -> None:
    """Wait until a first message is classified: the workers have loaded their models."""
    warm_slot = -1  # the mailbox slot-1 (group s-1) is made for this
    sent, _ = asyncio.run(send_all(smtp_port, 1.0, 2.0, poller, slot_of=lambda _: warm_slot))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(token in poller.seen for token in sent):
        time.sleep(0.5)
    if not all(token in poller.seen for token in sent):
        raise RuntimeError(f"no message was classified within {timeout} s")
    poller.seen.clear()


def process_cpu(root: int) -> dict[str, float]:
    """CPU seconds (user + system) of ``root`` and every process under it, by a short name
    (``smtp``, ``worker intake``, ``redis-server`` ...), from /proc (Linux only; else empty)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    stats: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        words = [a.decode(errors="replace") for a in argv if a]
        if "intake" in words:
            rest = words[words.index("intake") + 1 :]
            name = " ".join(w for w in rest if not w.startswith("-")) or "up"
        else:
            name = Path(words[0]).name if words else "?"
        stats[pid] = (name, (int(fields[11]) + int(fields[12])) / tick)
    totals: dict[str, float] = {}
    for pid, (name, seconds) in stats.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.inf
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of sending")
    args = parser.parse_args()
    slots = int(args.duration / SLOT_SECONDS) + 2
    method(
        "`intake up` (embedded Redis, SQLite, one intake and one classify worker, web) in a fresh "
        f"data dir; {args.rate:g} messages/s for {args.duration:g} s over {SESSIONS} SMTP sessions "
        f"(open loop); latency from each 250 to the first API answer (polled every {POLL} s "
        "per half-second group of tickets) listing its ticket with a topic set."
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (before)")
    with tempfile.TemporaryDirectory(prefix="intake-bench-", ignore_cleanup_errors=True) as tmp:
        with gateway(Path(tmp) / "data", slots) as (smtp_port, web_port, token, up_pid):
            poller = Poller(web_port, token)
            polling = threading.Thread(target=poller.run, daemon=True)
            polling.start()
            warm_up(smtp_port, poller)
            cpu_before = process_cpu(up_pid)
            accepted, refused = asyncio.run(send_all(smtp_port, args.rate, args.duration, poller))
            deadline = time.monotonic() + DRAIN_SECONDS
            while time.monotonic() < deadline and len(poller.seen) < len(accepted):
                time.sleep(0.2)
            cpu_after = process_cpu(up_pid)
            poller.stopping.set()
            polling.join()
    # What each process of the gateway spent per accepted message, from the first message sent
    # until all were classified (the poller's requests are in the web process's share).
    for name in sorted(cpu_after, key=lambda n: cpu_before.get(n, 0.0) - cpu_after[n]):
        spent = cpu_after[name] - cpu_before.get(name, 0.0)
        if spent > 0 and accepted:
            per_message = round(1000 * spent / len(accepted), 2)
            print(f"CPU {name}: {per_message} ms per message")
            figure(f"CPU per message, {name}", per_message, "ms")
    print(f"machine: load average {os.getloadavg()[0]:.2f} (after)")
    latencies = [
        poller.seen[token] - at if token in poller.seen else math.inf
        for token, at in accepted.items()
    ]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    visible = [
        poller.listed[token] - at if token in poller.listed else math.inf
        for token, at in accepted.items()
    ]
    print(
        f"250 -> visible (classified or not): p50 {percentile(visible, 0.5):.3f} s, "
        f"p99 {percentile(visible, 0.99):.3f} s"
    )
    figure(
        "250 to ticket visible (classified or not), p50", round(percentile(visible, 0.5), 3), "s"
    )
    figure(
        "250 to ticket visible (classified or not), p99", round(percentile(visible, 0.99), 3), "s"
    )
    missing = sum(math.isinf(x) for x in latencies)
    print(
        f"{len(accepted)} accepted ({refused} refused), {missing} not classified within "
        f"{DRAIN_SECONDS:g} s after the last; {poller.polls} polls"
    )
    print(f"250 -> classified in the API: p50 {p50:.3f} s, p99 {p99:.3f} s")
    figure("messages accepted", len(accepted), note=f"{refused} refused")
    figure("not classified in time", missing, target="0", met=missing == 0)
    figure(
        "250 to classified ticket, p50",
        round(p50, 3),
        "s",
        target=f"<= {P50_TARGET}",
        met=p50 <= P50_TARGET,
    )
    figure(
        "250 to classified ticket, p99",
        round(p99, 3),
        "s",
        target=f"<= {P99_TARGET}",
        met=p99 <= P99_TARGET,
    )
    met = p50 <= P50_TARGET and p99 <= P99_TARGET and refused == 0
    if not met:
        print("missed the target", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
