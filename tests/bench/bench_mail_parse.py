"""Throughput of parse_email and peek_message_id over the shared email corpus.

Run from the repository root:  .venv/bin/python tests/bench/bench_mail_parse.py [--rounds N]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".." / "shared" / "data" / "email"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.mail.parse import parse_email, peek_message_id  # noqa: E402
from tests.bench.figures import figure, method  # noqa: E402


def load() -> list[tuple[str, bytes]]:
    with (CORPUS / "INDEX.tsv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["kind"] == "message"]
    return [(r["path"], (CORPUS / r["path"]).read_bytes()) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (CORPUS / "INDEX.tsv").exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    messages = load()
    total_bytes = sum(len(raw) for _, raw in messages)
    per_message: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(args.rounds):
        for path, raw in messages:
            t0 = time.perf_counter()
            parse_email(raw)
            elapsed = time.perf_counter() - t0
            per_message[path] = min(per_message.get(path, elapsed), elapsed)
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.rounds):
        for _, raw in messages:
            peek_message_id(raw)
    peek_seconds = time.perf_counter() - started

    count = len(messages) * args.rounds
    megabytes = total_bytes * args.rounds / 1e6
    times = sorted(per_message.values())
    print(f"corpus: {len(messages)} messages, {total_bytes / 1e6:.1f} MB, {args.rounds} rounds")
    print(
        f"parse_email:     {count / parse_seconds:8.0f} messages/s  "
        f"{megabytes / parse_seconds:6.1f} MB/s"
    )
    print(
        f"peek_message_id: {count / peek_seconds:8.0f} messages/s  "
        f"{megabytes / peek_seconds:6.1f} MB/s"
    )
    print(
        f"per message (best of rounds): median {statistics.median(times) * 1e3:.2f} ms, "
        f"p99 {times[int(len(times) * 0.99)] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms"
    )
    for path, seconds in sorted(per_message.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  slowest: {seconds * 1e3:7.2f} ms  {path}")
    method(f"parse_email and peek_message_id over the shared corpus, {args.rounds} rounds.")
    figure("parse_email", round(count / parse_seconds), "messages/s")
    figure("peek_message_id", round(count / peek_seconds), "messages/s")
    figure("parse_email per message, median", round(statistics.median(times) * 1e3, 2), "ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
