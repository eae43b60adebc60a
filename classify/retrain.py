"""Retraining with the team's data and agents' corrections, compared before it goes live."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from classify.embeddings import DEFAULT_ENCODER
from classify.model import TextModel
from classify.shipped import priority_training_set
from classify.training import (
    TrainingDataError,
    _split,
    evaluate,
    featurize,
    normalize_labels,
    train_text_model,
)
from intake.domain import ModelTask

log = logging.getLogger(__name__)

SAME_AS_CURRENT = "same-as-current"


@dataclass(frozen=True)
class RetrainResult:
    """Outcome of ``train_and_compare``; activate ``model_bytes`` only when ``not_worse``."""

    task: str
    model_bytes: bytes
    new_metrics: dict[str, Any]
    current_metrics: dict[str, Any] | None
    not_worse: bool
    n_train: int
    n_holdout: int


def train_and_compare(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    task: ModelTask | str,
    current: TextModel | None,
    base: tuple[Sequence[str], Sequence[str]]
    | tuple[Sequence[str], Sequence[str], Sequence[float]] = ((), ()),
    corrections: Sequence[tuple[str, str]] = (),
    holdout: float = 0.2,
    correction_weight: float = 3.0,
    tolerance: float = 0.0,
    seed: int = 0,
    embedding: str | None = SAME_AS_CURRENT,
) -> RetrainResult:
    """Retrain on ``base`` (the shipped data, optionally with sample weights as a third element,
    e.g. ``shipped.category_training_set()``) + the team's data + agents' corrections.

    A slice of the team's own data and corrections (or of everything, when they are fewer than
    20 examples) is held back and the candidate is trained without it. The deployed ``current``
    model has already seen the shipped data and earlier corrections, so scoring it on that slice
    would flatter it; when there is a current model, the candidate is instead compared with a
    reference trained the same way on the same split *without* the team's examples: the question
    is whether adding them makes things worse. The returned model is then refitted on
    everything, corrections weighted up so that one agent's fix outweighs a few contrary
    examples. ``not_worse`` means the candidate's macro-F1 on the slice is at least the
    reference's minus ``tolerance``; ``current_metrics`` holds the reference's scores.
    ``embedding``: the sentence encoder the new model reads; by default the current model's.
    """
    task = ModelTask(task)
    if embedding == SAME_AS_CURRENT:
        embedding = current.embedding if current is not None else None
    own_texts = list(texts) + [t for t, _ in corrections]
    own_labels = normalize_labels(list(labels) + [label for _, label in corrections], task)
    own_weights = [1.0] * len(texts) + [correction_weight] * len(corrections)
    base_texts, base_labels = list(base[0]), normalize_labels(base[1], task)
    base_weights = list(base[2]) if len(base) == 3 else [1.0] * len(base_texts)
    if len(base_weights) != len(base_texts):
        raise TrainingDataError(f"{len(base_texts)} base texts but {len(base_weights)} weights")
    if len(own_texts) >= 20:
        pool_texts, pool_labels, pool_weights = own_texts, own_labels, own_weights
        fixed_texts, fixed_labels, fixed_weights = base_texts, base_labels, base_weights
        n_base_in_pool = 0
    else:
        pool_texts = base_texts + own_texts
        pool_labels = base_labels + own_labels
        pool_weights = base_weights + own_weights
        fixed_texts, fixed_labels, fixed_weights = [], [], []
        n_base_in_pool = len(base_texts)
    train_idx, held_idx = _split(pool_labels, holdout, seed)
    if not held_idx:
        raise TrainingDataError("not enough labeled examples to hold any back for evaluation")
    held_texts = [pool_texts[i] for i in held_idx]
    held_labels = [pool_labels[i] for i in held_idx]
    # Every text is analysed once and the three fits below take rows of that featurization
    # (the vocabulary then includes held-back texts, but no label of theirs reaches a fit).
    all_texts = fixed_texts + pool_texts
    features = featurize(all_texts, embedding=embedding)
    n_fixed = len(fixed_texts)

    def fit(pool_rows: list[int], *, calibrate: bool) -> TextModel:
        rows = list(range(n_fixed)) + [n_fixed + i for i in pool_rows]
        return train_text_model(
            [all_texts[r] for r in rows],
            fixed_labels + [pool_labels[i] for i in pool_rows],
            task=task,
            sample_weight=fixed_weights + [pool_weights[i] for i in pool_rows],
            seed=seed,
            featurized=features.rows(rows),
            # The candidate and the reference are only compared by their predictions: no
            # temperature or class-weight search, each another fit on the whole shipped set.
            calibrate=calibrate,
        )

    candidate = fit(train_idx, calibrate=False)
    new_metrics = evaluate(candidate, held_texts, held_labels)
    current_metrics = None
    if current is not None:
        reference_idx = [i for i in train_idx if i < n_base_in_pool]
        if len(set(fixed_labels + [pool_labels[i] for i in reference_idx])) >= 2:
            current_metrics = evaluate(fit(reference_idx, calibrate=False), held_texts, held_labels)
    not_worse = current_metrics is None or (
        new_metrics["macro_f1"] >= current_metrics["macro_f1"] - tolerance
    )
    final = fit(list(range(len(pool_texts))), calibrate=True)
    final.metrics["holdout"] = new_metrics
    log.info("retrained %s model: %s (current: %s)", task.value, new_metrics, current_metrics)
    return RetrainResult(
        task=task.value,
        model_bytes=final.to_bytes(),
        new_metrics=new_metrics,
        current_metrics=current_metrics,
        not_worse=not_worse,
        n_train=len(fixed_texts) + len(pool_texts),
        n_holdout=len(held_idx),
    )


def train_priority_model(
    corrections: Sequence[tuple[str, str]],
    *,
    correction_weight: float = 3.0,
    base: tuple[Sequence[str], Sequence[str], Sequence[float]] | None = None,
    embedding: str | None = DEFAULT_ENCODER,
) -> TextModel:
    """A priority model that has learned from agents' corrections.

    ``corrections`` are ``(message text, priority the agent set)`` pairs, priorities
    ``urgent|high|medium|low``; the latest correction of a text should come last (it wins).
    The model is fitted on the shipped priority data (or ``base``) plus the corrections, each
    weighted ``correction_weight`` so an agent's fix outweighs a few contrary examples. Use it
    with ``Classifier.with_models(priority_model=...)``; store it with ``to_bytes()``.
    """
    latest = dict(corrections)  # the last correction of a text wins
    texts, labels, weights = base if base is not None else priority_training_set()
    labels_fixed = normalize_labels(list(latest.values()), ModelTask.PRIORITY)
    return train_text_model(
        list(texts) + list(latest),
        list(labels) + labels_fixed,
        task=ModelTask.PRIORITY,
        sample_weight=list(weights) + [correction_weight] * len(latest),
        embedding=embedding,
    )
