"""Measure the classifier on hand-labelled messages, one task at a time.

Reads a CSV with the dev set's columns (``text`` plus any of ``topic``, ``complaint``,
``sentiment``, ``priority``, and optionally ``lang``), classifies every text once, and reports
per task: macro-F1, per-class F1 (and precision/recall), for complaint the F1 of ``yes``, and
for priority the recall and precision of ``urgent``. With ``lang`` the same figures are also
given per language.

    python -m classify.evaluation --data FILE.csv [--task topic|complaint|sentiment|priority]

prints JSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classify.classifier import Classification, Classifier, TicketText

TASKS = ("topic", "complaint", "sentiment", "priority")


class EvaluationDataError(ValueError):
    """The CSV cannot be evaluated; the message says why."""


def read_rows(path: Path | str) -> list[dict[str, str]]:
    raw = Path(path).read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("gb18030", errors="strict")
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    if not rows or "text" not in rows[0]:
        raise EvaluationDataError(f"{path}: needs a header with a 'text' column and rows")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows]


def predicted_label(result: Classification, task: str) -> str:
    if task == "topic":
        return result.category
    if task == "complaint":
        return "yes" if result.complaint else "no"
    if task == "sentiment":
        return result.sentiment.value
    if task == "priority":
        return result.priority.value
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels in ``truth``, and per-class precision/recall/F1."""
    labels = sorted(set(truth))
    per_class: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        n_pred = sum(1 for p in predicted if p == label)
        n_true = sum(1 for t in truth if t == label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "n": n_true,
        }
    n = len(truth)
    return {
        "n": n,
        "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / n, 4)
        if n
        else 0.0,
        "macro_f1": round(sum(c["f1"] for c in per_class.values()) / len(labels), 4)
        if labels
        else 0.0,
        "per_class": per_class,
    }


def task_metrics(task: str, truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    out = scores(truth, predicted)
    per_class = out["per_class"]
    if task == "complaint":
        out["f1_yes"] = per_class.get("yes", {}).get("f1", 0.0)
    if task == "priority":
        urgent = per_class.get("urgent", {"recall": 0.0, "precision": 0.0})
        out["urgent_recall"] = urgent["recall"]
        out["urgent_precision"] = urgent["precision"]
    return out


def evaluate_rows(
    rows: Sequence[dict[str, str]],
    tasks: Sequence[str] = TASKS,
    classifier: Classifier | None = None,
) -> dict[str, Any]:
    """Metrics per task (and per language when rows have ``lang``) for the labelled rows."""
    classifier = classifier or Classifier.default()
    results = [
        classifier.classify(TicketText(subject="", body=row["text"], channel="email", sender=""))
        for row in rows
    ]
    report: dict[str, Any] = {"n": len(rows)}
    for task in tasks:
        labelled = [(row, r) for row, r in zip(rows, results, strict=True) if row.get(task)]
        if not labelled:
            raise EvaluationDataError(f"no row has a '{task}' label")
        truth = [_normalize(task, row[task]) for row, _ in labelled]
        predicted = [predicted_label(r, task) for _, r in labelled]
        metrics = task_metrics(task, truth, predicted)
        languages = sorted({row.get("lang", "") for row, _ in labelled} - {""})
        if len(languages) > 1:
            metrics["by_language"] = {
                lang: _summary(
                    task,
                    task_metrics(
                        task,
                        [
                            t
                            for t, (row, _) in zip(truth, labelled, strict=True)
                            if row["lang"] == lang
                        ],
                        [
                            p
                            for p, (row, _) in zip(predicted, labelled, strict=True)
                            if row["lang"] == lang
                        ],
                    ),
                )
                for lang in languages
            }
        report[task] = metrics
    report["needs_review_rate"] = round(sum(r.needs_review for r in results) / len(results), 4)
    if "topic" in tasks:
        # Calibration check: flagged topics should be wrong far more often than the others.
        for flagged in (True, False):
            pairs = [
                (row["topic"], r.category)
                for row, r in zip(rows, results, strict=True)
                if row.get("topic") and r.needs_review is flagged
            ]
            key = "topic_accuracy_" + ("flagged" if flagged else "not_flagged")
            report[key] = (
                round(sum(t.casefold() == p for t, p in pairs) / len(pairs), 4) if pairs else None
            )
    return report


def evaluate_file(
    path: Path | str, tasks: Sequence[str] = TASKS, classifier: Classifier | None = None
) -> dict[str, Any]:
    return evaluate_rows(read_rows(path), tasks, classifier)


def _normalize(task: str, label: str) -> str:
    label = label.casefold()
    if task == "complaint":
        return {"true": "yes", "1": "yes", "false": "no", "0": "no"}.get(label, label)
    return label


def _summary(task: str, metrics: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "accuracy", "macro_f1", "f1_yes", "urgent_recall", "urgent_precision")
    return {k: metrics[k] for k in keep if k in metrics}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classify.evaluation", description=__doc__)
    parser.add_argument("--data", required=True, help="CSV with text and label columns")
    parser.add_argument("--task", choices=TASKS, action="append", help="default: every task")
    args = parser.parse_args(argv)
    try:
        report = evaluate_file(args.data, args.task or TASKS)
    except (OSError, EvaluationDataError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
