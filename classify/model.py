"""A trained text model and its byte format.

The format is a zip of JSON metadata and plain numeric arrays (``numpy.savez``), never a pickle:
bytes read back from the database cannot run code, and a model outlives scikit-learn upgrades
because only the vocabulary, IDF weights and linear coefficients are stored. Each model also
stores a few probe texts with the scores it gave them; loading recomputes them and refuses a model
whose scores changed (for example because a library changed its tokenisation), rather than
silently classifying differently.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

from classify.features import FeatureSpec, analyze_chars, analyze_words

log = logging.getLogger(__name__)

FORMAT = "intake-text-model"
FORMAT_VERSION = 1
_PROBE_TOLERANCE = 1e-4

FloatArray = npt.NDArray[np.float64]


class ModelFormatError(ValueError):
    """The bytes are not a model this version can load, or the model no longer scores the same."""


def make_vectorizers(spec: FeatureSpec) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(
        analyzer=functools.partial(analyze_words, spec=spec),
        sublinear_tf=True,
        min_df=spec.word_min_df,
        max_features=spec.max_features,
    )
    chars = TfidfVectorizer(
        analyzer=functools.partial(analyze_chars, spec=spec),
        sublinear_tf=True,
        min_df=spec.char_min_df,
        max_features=spec.max_features,
    )
    return words, chars


def _restore_vectorizer(analyzer: Any, terms: list[str], idf: FloatArray) -> TfidfVectorizer:
    vectorizer = TfidfVectorizer(
        analyzer=analyzer, sublinear_tf=True, vocabulary={t: i for i, t in enumerate(terms)}
    )
    vectorizer.idf_ = idf
    return vectorizer


@dataclass
class TextModel:
    """Linear classifier over word and character TF-IDF blocks; probabilities by softmax.

    ``temperature`` scales decision values before the softmax; it is fitted on held-back data
    at training time so that ``0.8`` means right about four times in five.
    """

    task: str
    labels: tuple[str, ...]
    spec: FeatureSpec
    words: TfidfVectorizer
    chars: TfidfVectorizer
    coef: FloatArray  # (n_labels, n_features) ; binary models are expanded to two rows
    intercept: FloatArray  # (n_labels,)
    temperature: float
    metrics: dict[str, Any]
    probes: tuple[str, ...] = ()
    probe_scores: FloatArray | None = None

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()

    def decision(self, texts: Sequence[str]) -> FloatArray:
        scores = self.features(texts) @ self.coef.T + self.intercept
        return np.asarray(scores, dtype=np.float64)

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        return softmax(self.decision(texts) * self.temperature)

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        best = self.decision(texts).argmax(axis=1)
        return [self.labels[i] for i in best]

    # -- bytes -------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "labels": list(self.labels),
            "spec": self.spec.to_dict(),
            "temperature": self.temperature,
            "metrics": self.metrics,
            "probes": list(self.probes),
            "sklearn_version": sklearn.__version__,
            "word_terms": _terms(self.words),
            "char_terms": _terms(self.chars),
        }
        arrays: dict[str, FloatArray] = {
            "word_idf": np.asarray(self.words.idf_, dtype=np.float64),
            "char_idf": np.asarray(self.chars.idf_, dtype=np.float64),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float64),
            "probe_scores": self.decision(list(self.probes)) if self.probes else np.zeros((0, 0)),
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            # A fixed timestamp keeps the bytes of the same model identical, build after build.
            archive.writestr(_entry("meta.json"), json.dumps(meta, ensure_ascii=False))
            for name, array in arrays.items():
                out = io.BytesIO()
                np.save(out, array, allow_pickle=False)
                archive.writestr(_entry(f"{name}.npy"), out.getvalue())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextModel:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                meta = json.loads(archive.read("meta.json").decode("utf-8"))
                arrays: dict[str, FloatArray] = {
                    name: np.load(io.BytesIO(archive.read(f"{name}.npy")), allow_pickle=False)
                    for name in ("word_idf", "char_idf", "coef", "intercept", "probe_scores")
                }
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"not a text model: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFormatError("not a text model: wrong format marker")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(
                f"model format version {meta.get('format_version')!r} is not supported "
                f"(this build reads version {FORMAT_VERSION})"
            )
        try:
            spec = FeatureSpec.from_dict(meta["spec"])
            words, chars = make_vectorizers(spec)
            model = cls(
                task=str(meta["task"]),
                labels=tuple(meta["labels"]),
                spec=spec,
                words=_restore_vectorizer(words.analyzer, meta["word_terms"], arrays["word_idf"]),
                chars=_restore_vectorizer(chars.analyzer, meta["char_terms"], arrays["char_idf"]),
                coef=arrays["coef"].astype(np.float64),
                intercept=arrays["intercept"].astype(np.float64),
                temperature=float(meta["temperature"]),
                metrics=dict(meta.get("metrics", {})),
                probes=tuple(meta.get("probes", ())),
                probe_scores=arrays["probe_scores"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"damaged text model: {exc}") from None
        n_features = len(meta["word_terms"]) + len(meta["char_terms"])
        if model.coef.shape != (len(model.labels), n_features):
            raise ModelFormatError("damaged text model: coefficient shape does not match")
        model.check_probes(saved_with=str(meta.get("sklearn_version")))
        return model

    def check_probes(self, saved_with: str) -> None:
        if not self.probes or self.probe_scores is None:
            return
        now = self.decision(list(self.probes))
        if now.shape != self.probe_scores.shape or not np.allclose(
            now, self.probe_scores, atol=_PROBE_TOLERANCE
        ):
            raise ModelFormatError(
                f"{self.task} model scores its probe texts differently under scikit-learn "
                f"{sklearn.__version__} than under {saved_with}, where it was saved; retrain it"
            )


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _terms(vectorizer: TfidfVectorizer) -> list[str]:
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return terms


def softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result
