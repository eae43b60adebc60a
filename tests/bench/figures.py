"""How a benchmark hands its figures to ``./dev bench`` (``tests/bench/report.py``).

Each call appends one JSON line to the file named by ``INTAKE_BENCH_FIGURES``; without it (a
bench run by hand) nothing is written and the bench only prints, as before. The report turns
the lines into ``BENCHMARKS.md``: per bench its method, then every figure with its target, the
ceiling it is compared against and whether it met the target.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ENV = "INTAKE_BENCH_FIGURES"


def bench_name() -> str:
    """``bench_smtp_throughput.py`` -> ``smtp_throughput``."""
    return Path(sys.argv[0]).stem.removeprefix("bench_")


def _write(entry: dict[str, Any]) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    entry = {"bench": bench_name(), **entry}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")


def method(text: str) -> None:
    """How the figures were measured, in a sentence or a short paragraph."""
    _write({"kind": "method", "text": text})


def figure(
    name: str,
    value: float | str,
    unit: str = "",
    *,
    target: str | None = None,
    met: bool | None = None,
    ceiling: str | None = None,
    note: str | None = None,
) -> None:
    """One measured figure.

    ``target`` says what it should be (``">= 0.7"``) and ``met`` whether it is; ``ceiling``
    names what a ratio is taken against (the bare server measured in the same run).
    """
    _write(
        {
            "kind": "figure",
            "name": name,
            "value": value,
            "unit": unit,
            "target": target,
            "met": met,
            "ceiling": ceiling,
            "note": note,
        }
    )
