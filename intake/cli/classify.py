"""``intake classify train|eval|versions|activate``: measure and improve the classifier."""

from __future__ import annotations

import argparse
import json
from typing import Any

from classify.embeddings import DEFAULT_ENCODER
from classify.evaluation import TASKS as EVALUATION_TASKS
from classify.evaluation import EvaluationDataError, evaluate_file
from classify.training import evaluate, read_labeled_csv, train_text_model
from intake.cli.accounts import open_database
from intake.core.blobs import BlobStore
from intake.core.db.admin_models import ModelVersion
from intake.core.model_versions import activate_version
from intake.core.settings import Settings
from intake.domain import ModelTask
from intake.errors import RejectedError
from workers.classifiers import classifier_cache
from workers.model_training import retrain


def register(commands: Any) -> None:
    group = commands.add_parser("classify", help="train, evaluate and roll back classifier models")
    actions = group.add_subparsers(dest="classify_command", required=True, metavar="ACTION")
    tasks = [t.value for t in ModelTask]

    train = actions.add_parser(
        "train", help="train a new model version from a CSV (text,label); active if not worse"
    )
    train.add_argument("--data", required=True, help="CSV file with columns text,label")
    train.add_argument("--task", choices=tasks, default=ModelTask.CATEGORY.value)
    train.set_defaults(handler=run_train)

    ev = actions.add_parser(
        "eval",
        help="measure the active classifier on hand-labelled messages; prints JSON metrics",
    )
    ev.add_argument(
        "--data",
        required=True,
        help="CSV with the triage dev set's columns: text, and topic, complaint, sentiment, "
        "priority (the tasks measured), optionally lang",
    )
    ev.add_argument("--task", choices=EVALUATION_TASKS, action="append", help="default: all")
    ev.add_argument(
        "--train", help="measure a fresh model fitted on this CSV (text,label) instead; one task"
    )
    ev.set_defaults(handler=run_eval)

    versions = actions.add_parser("versions", help="list stored model versions with scores")
    versions.set_defaults(handler=run_versions)

    activate = actions.add_parser("activate", help="make a stored version active (roll back)")
    activate.add_argument("version", type=int)
    activate.set_defaults(handler=run_activate)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    task = ModelTask(args.task)
    texts, labels = read_labeled_csv(args.data)
    database = open_database(settings)
    with database.session() as session:
        result, version = retrain(
            session,
            BlobStore(settings.blob_dir),
            task,
            texts=texts,
            labels=labels,
            note=f"intake classify train --data {args.data}",
        )
        summary = {
            "task": task.value,
            "version": version.id,
            "active": version.active,
            "holdout": result.new_metrics,
            "current_on_holdout": result.current_metrics,
        }
    database.dispose()
    print(json.dumps(summary))
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """The classifier the workers use now (shipped models, or the active versions)."""
    tasks = args.task or list(EVALUATION_TASKS)
    if args.train:
        if len(tasks) != 1:
            raise RejectedError("--train measures one --task at a time")
        task = ModelTask.CATEGORY if tasks[0] == "topic" else ModelTask(tasks[0])
        model = train_text_model(
            *read_labeled_csv(args.train), task=task, embedding=DEFAULT_ENCODER
        )
        texts, labels = read_labeled_csv(args.data)
        print(json.dumps({"task": tasks[0], **evaluate(model, texts, labels)}))
        return 0
    database = open_database(settings)
    try:
        with database.session() as session:
            classifier = classifier_cache.get(session, BlobStore(settings.blob_dir))
    finally:
        database.dispose()
    try:
        report = evaluate_file(args.data, tasks, classifier)
    except (OSError, EvaluationDataError) as exc:
        raise RejectedError("{data}: {exc}", data=args.data, exc=exc) from exc
    print(json.dumps(report, ensure_ascii=False))
    return 0


def run_versions(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    with database.session() as session:
        for version in session.query(ModelVersion).order_by(ModelVersion.id):
            holdout = version.metrics.get("holdout", {})
            print(
                f"{version.id:>4} {version.task:<9} {'active' if version.active else '      '} "
                f"{version.created_at:%Y-%m-%d %H:%M} macro_f1={holdout.get('macro_f1')} "
                f"{version.note}"
            )
    database.dispose()
    return 0


def run_activate(args: argparse.Namespace, settings: Settings) -> int:
    database = open_database(settings)
    with database.session() as session:
        version = activate_version(session, args.version)
        print(f"version {version.id} ({version.task}) is now active")
    database.dispose()
    return 0
