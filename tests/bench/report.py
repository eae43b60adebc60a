"""``./dev bench``: run the benchmarks and write BENCHMARKS.md from what they measured.

Each ``tests/bench/bench_*.py`` runs as its own process with ``INTAKE_BENCH_FIGURES`` naming a
file it appends its figures to (``tests/bench/figures.py``); its output is shown as it runs. The
report lists the machine (cores, memory, load before and after: this machine is shared), then
per benchmark its method, every figure with its target and ceiling, whether it met the target,
its exit status and its wall time. Benchmarks not run this time are named, not carried over:
every figure in the file comes from the same run.

    .venv/bin/python tests/bench/report.py [NAME ...] [--output BENCHMARKS.md]

NAME is a benchmark without ``bench_`` and ``.py`` (``smtp_throughput``); none means all.
Exits non-zero when a benchmark missed a target or failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIGURES_ENV = "INTAKE_BENCH_FIGURES"  # tests/bench/figures.py


@dataclass
class Result:
    name: str
    status: int | None = None  # None: not run
    seconds: float = 0.0
    methods: list[str] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return "unknown"


def run(name: str) -> Result:
    result = Result(name)
    with tempfile.NamedTemporaryFile(prefix="bench-figures-", suffix=".jsonl") as figures:
        env = {**os.environ, FIGURES_ENV: figures.name}
        print(f"== {name}", flush=True)
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, str(HERE / f"bench_{name}.py")], cwd=ROOT, env=env, check=False
        )
        result.seconds = time.monotonic() - started
        result.status = process.returncode
        for line in Path(figures.name).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("kind") == "method":
                result.methods.append(entry["text"])
            elif entry.get("kind") == "figure":
                result.figures.append(entry)
    return result


def cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def verdict(result: Result) -> str:
    if result.status is None:
        return "not run"
    if any(f.get("met") is False for f in result.figures):
        return "missed a target"
    if result.status != 0:
        return f"failed (exit status {result.status})"
    return "met every target" if any(f.get("met") for f in result.figures) else "ran"


def render(results: list[Result], machine: dict[str, str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `./dev bench` (`tests/bench/report.py`); every figure below comes from the "
        "run of this date, and every ratio from the same run of its benchmark.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine.items()),
        "",
        "## Summary",
        "",
        "| benchmark | result | wall time |",
        "|---|---|---|",
    ]
    for result in results:
        wall = f"{result.seconds:.0f} s" if result.status is not None else ""
        lines.append(f"| `{result.name}` | {verdict(result)} | {wall} |")
    for result in results:
        if result.status is None:
            continue
        lines += ["", f"## {result.name}", ""]
        for text in result.methods:
            lines += [f"Method: {text}", ""]
        if not result.figures:
            lines.append(
                "This benchmark prints its figures but does not record them yet "
                "(see `tests/bench/figures.py`); its output is in the run's log."
            )
            continue
        lines += [
            "| figure | value | target | met | ceiling (same run) | note |",
            "|---|---|---|---|---|---|",
        ]
        for f in result.figures:
            met = {True: "yes", False: "**no**", None: ""}[f.get("met")]
            value = f"{f['value']} {f.get('unit') or ''}".strip()
            lines.append(
                f"| {cell(f['name'])} | {cell(value)} | {cell(f.get('target'))} | {met} "
                f"| {cell(f.get('ceiling'))} | {cell(f.get('note'))} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    names = available()
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(names)})")
        return 64
    chosen = args.names or names
    machine = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{cpu_model()}, {os.cpu_count()} cores",
        "memory": memory_gb(),
        "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "load average before": f"{os.getloadavg()[0]:.2f}",
    }
    results = [run(name) if name in chosen else Result(name) for name in names]
    machine["load average after"] = (
        f"{os.getloadavg()[0]:.2f} (the machine is shared: other work competes for its cores)"
    )
    args.output.write_text(render(results, machine), encoding="utf-8")
    missed = [r.name for r in results if verdict(r) not in ("not run", "met every target", "ran")]
    print(f"wrote {args.output}")
    if missed:
        print(f"missed a target or failed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
