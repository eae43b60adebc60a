"""classify.evaluation: per-task metrics from a CSV with the dev set's columns."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.evaluation import EvaluationDataError, evaluate_file, main, scores, task_metrics

ROWS = [
    # text, topic, complaint, sentiment, priority, lang
    ("I was charged twice for my order, please refund one.", "billing", "yes", "neutral",
     "high", "en"),
    ("The heater caught fire in our kitchen last night!", "product_issue", "yes", "negative",
     "urgent", "en"),
    ("What are your opening hours on Sunday?", "inquiry", "no", "neutral", "low", "en"),
    ("Thank you, the service was wonderful.", "other", "no", "positive", "low", "en"),
    ("同一笔订单扣了我两次钱，请退回多扣的。", "billing", "yes", "neutral", "high", "zh"),
    ("热水器漏电，我被电了一下，太危险了！", "product_issue", "yes", "negative", "urgent", "zh"),
    ("请问这款冰箱有白色的吗？", "inquiry", "no", "neutral", "low", "zh"),
    ("东西很好，物流也快，非常满意。", "other", "no", "positive", "low", "zh"),
]  # fmt: skip


def write(path: Path, rows: Sequence[tuple[str, ...]] = ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "topic", "complaint", "sentiment", "priority", "lang"])
        writer.writerows((i, *row) for i, row in enumerate(rows))
    return path


def test_scores_give_macro_f1_over_the_true_labels_and_per_class_figures() -> None:
    result = scores(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert result["accuracy"] == 0.75
    assert result["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "n": 2}
    assert result["per_class"]["b"]["f1"] == 0.8
    assert result["macro_f1"] == round((0.6667 + 0.8) / 2, 4)


def test_priority_reports_urgent_recall_and_precision_and_complaint_the_f1_of_yes() -> None:
    priority = task_metrics("priority", ["urgent", "urgent", "low"], ["urgent", "low", "urgent"])
    assert priority["urgent_recall"] == 0.5
    assert priority["urgent_precision"] == 0.5
    complaint = task_metrics("complaint", ["yes", "no"], ["yes", "yes"])
    assert complaint["f1_yes"] == round(2 * 0.5 * 1.0 / 1.5, 4)


def test_the_shipped_classifier_is_measured_on_every_task_and_language(
    classifier: Classifier, tmp_path: Path
) -> None:
    report = evaluate_file(write(tmp_path / "dev.csv"), classifier=classifier)
    assert report["n"] == len(ROWS)
    for task in ("topic", "complaint", "sentiment", "priority"):
        assert set(report[task]["by_language"]) == {"en", "zh"}
        assert 0.0 <= report[task]["macro_f1"] <= 1.0
    # clear-cut messages: the shipped model gets these right
    assert report["priority"]["urgent_recall"] == 1.0
    assert report["complaint"]["f1_yes"] == 1.0


def test_the_command_prints_json_for_one_task(
    classifier: Classifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(write(tmp_path / "dev.csv")), "--task", "complaint"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"n", "complaint", "needs_review_rate"}
    assert report["complaint"]["f1_yes"] > 0.0


def test_a_task_without_labels_is_an_error(classifier: Classifier, tmp_path: Path) -> None:
    rows = [(text, "", complaint, "", "", lang) for text, _, complaint, _, _, lang in ROWS]
    with pytest.raises(EvaluationDataError, match="topic"):
        evaluate_file(write(tmp_path / "dev.csv", rows), tasks=["topic"], classifier=classifier)
