"""Resident memory of each process of an idle ``intake up``, once every worker has warmed up.

Starts the real gateway (embedded Redis, SQLite) in a temporary data directory, waits until the
web answers and every worker has loaded its models (its resident size stops growing), then reads
VmRSS of every process from /proc. Targets from the layering issue: smtp, imap, sweeper and the
supervisor <= 70 MB each, web <= 100 MB, the whole idle gateway <= 700 MB with models loaded.
Run from the repository root:
    .venv/bin/python tests/bench/bench_memory.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.figures import figure, method  # noqa: E402

TARGETS_MB = {"supervisor": 70, "smtp": 70, "imap": 70, "sweeper": 70, "web": 100}
TOTAL_TARGET_MB = 700
SETTLE_S = 6.0  # every process's RSS unchanged this long: the models are loaded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            for child in map(int, (task / "children").read_text().split()):
                if child not in found:
                    found.append(child)
                    pending.append(child)
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def role(pid: int) -> str:
    """A process's role from its command line: the intake sub-command and its queues."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    words = [a.decode() for a in argv if a]
    if any("redis-server" in w for w in words):
        return "redis (embedded)"
    if "intake" in words:
        rest = words[words.index("intake") + 1 :]
        if rest[:1] == ["worker"]:
            return "worker " + rest[rest.index("--queues") + 1]
        return rest[0] if rest else "?"
    return " ".join(words)[:40]


def target_role(name: str) -> str:
    """``smtp #2`` -> ``smtp``: the role whose per-process target a figure is held to."""
    return name.split(" #")[0]


def measure(timeout_s: float = 240.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="intake-mem-") as data:
        web_port = free_port()
        env = {
            **os.environ,
            "INTAKE_DATA_DIR": data,
            "INTAKE_SMTP_PORT": str(free_port()),
            "INTAKE_WEB_PORT": str(web_port),
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("INTAKE_REDIS_URL", None)
        env.pop("INTAKE_DATABASE_URL", None)
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "intake", "up"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the web never answered") from None
                    time.sleep(0.5)
            last: dict[int, float] = {}
            stable_since = time.monotonic()
            while time.monotonic() - stable_since < SETTLE_S:
                if time.monotonic() > deadline:
                    raise TimeoutError("resident sizes never settled")
                time.sleep(1.0)
                now = {pid: rss_mb(pid) for pid in [supervisor.pid, *descendants(supervisor.pid)]}
                if now.keys() != last.keys() or any(abs(now[pid] - last[pid]) > 1.0 for pid in now):
                    stable_since = time.monotonic()
                last = now
            # One figure per process: intake up runs several smtp processes (one per core), and
            # the per-process targets hold for each of them.
            sizes: dict[str, float] = {}
            for pid, size in sorted(last.items()):
                name = "supervisor" if pid == supervisor.pid else role(pid)
                copies = sum(1 for known in sizes if target_role(known) == name)
                sizes[f"{name} #{copies + 1}" if copies else name] = size
            return sizes
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = measure()
    total = sum(sizes.values())
    if args.json:
        print(json.dumps({"processes_mb": sizes, "total_mb": total}, indent=2))
    else:
        print(f"{'process':<28} {'RSS MB':>8} {'target':>8}")
        for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
            target = TARGETS_MB.get(target_role(name))
            print(f"{name:<28} {size:8.1f} {target if target else '':>8}")
        print(f"{'whole idle gateway':<28} {total:8.1f} {TOTAL_TARGET_MB:>8}")
    missed = [n for n, size in sizes.items() if size > TARGETS_MB.get(target_role(n), size)]
    if total > TOTAL_TARGET_MB:
        missed.append("total")
    method("Resident memory (VmRSS) of every process of an idle `intake up`, models loaded.")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        limit = TARGETS_MB.get(target_role(name))
        figure(
            name,
            round(size, 1),
            "MB",
            target=f"<= {limit}" if limit else None,
            met=size <= limit if limit else None,
        )
    figure(
        "whole idle gateway",
        round(total, 1),
        "MB",
        target=f"<= {TOTAL_TARGET_MB}",
        met=total <= TOTAL_TARGET_MB,
    )
    if missed:
        print("over target: " + ", ".join(missed), file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
