"""``intake classify eval``: the gateway's classifier measured on a CSV in the dev set's form."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from intake.cli import main

ROWS = [
    ("en", "How do I change the PIN on my card?", "inquiry", "no", "neutral", "low"),
    (
        "en",
        "You charged me twice for the same order and nobody answers. Refund me now.",
        "billing",
        "yes",
        "negative",
        "high",
    ),
    (
        "zh",
        "外卖送到的时候饭菜里有一只蟑螂，我吃了以后拉肚子。",
        "product_issue",
        "yes",
        "negative",
        "urgent",
    ),
]


def test_eval_prints_json_metrics_per_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "labelled.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lang", "text", "topic", "complaint", "sentiment", "priority"])
        writer.writerows(ROWS)
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path / "data"))
    assert main(["classify", "eval", "--data", str(data), "--task", "priority"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 3 and set(report) >= {"priority", "needs_review_rate"}
    assert "topic" not in report
    priority = report["priority"]
    assert {"macro_f1", "per_class", "urgent_recall", "urgent_precision"} <= set(priority)
    assert 0.0 <= priority["macro_f1"] <= 1.0


def test_eval_of_a_file_without_the_task_column_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "unlabelled.csv"
    data.write_text("text\nhello\n", encoding="utf-8")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path / "data"))
    assert main(["classify", "eval", "--data", str(data), "--task", "topic"]) == 2
    assert "no row has a 'topic' label" in capsys.readouterr().err
