"""A trained text model: scoring, and its byte format.

The format is a zip of JSON metadata and plain numeric arrays (``numpy.save``), never a pickle:
bytes read back from the database cannot run code, and a model outlives scikit-learn upgrades
because only the vocabulary, IDF weights and linear coefficients are stored; scoring is done
here, with scikit-learn needed only for training. Each model also stores a few probe texts with
the scores it gave them; loading recomputes them and refuses a model whose scores changed (for
example because the analyzer changed between versions), rather than silently classifying
differently.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from classify.features import FeatureSpec, count_features

log = logging.getLogger(__name__)

FORMAT = "intake-text-model"
FORMAT_VERSION = 1
_PROBE_TOLERANCE = 1e-4

FloatArray = npt.NDArray[np.float64]
Tokens = tuple["Counter[str]", "Counter[str]"]  # word and character feature counts


class ModelFormatError(ValueError):
    """The bytes are not a model this version can load, or the model no longer scores the same."""


@dataclass
class TextModel:
    """Linear classifier over word and character TF-IDF blocks; probabilities by softmax.

    Each block is weighted ``1 + log(count) * idf`` and scaled to unit length, as scikit-learn's
    ``TfidfVectorizer(sublinear_tf=True)`` does. ``temperature`` scales decision values before
    the softmax; it is fitted on held-back data at training time.
    """

    task: str
    labels: tuple[str, ...]
    spec: FeatureSpec
    word_vocab: Mapping[str, int]
    word_idf: FloatArray
    char_vocab: Mapping[str, int]
    char_idf: FloatArray
    coef_t: FloatArray  # (n_features, n_labels): word features first, then character ones
    intercept: FloatArray  # (n_labels,)
    temperature: float
    metrics: dict[str, Any] = field(default_factory=dict)
    probes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n_features = len(self.word_vocab) + len(self.char_vocab)
        if self.coef_t.shape != (n_features, len(self.labels)):
            raise ModelFormatError(
                f"coefficients {self.coef_t.shape} do not fit {n_features} features "
                f"and {len(self.labels)} labels"
            )
        if self.word_idf.shape != (len(self.word_vocab),) or self.char_idf.shape != (
            len(self.char_vocab),
        ):
            raise ModelFormatError("IDF weights do not fit the vocabulary")
        self._char_offset = len(self.word_vocab)

    def tokens(self, text: str) -> Tokens:
        """The analyzer output; models sharing a ``spec`` can share it (see ``decision_tokens``)."""
        return count_features(text, self.spec)

    def decision_tokens(self, tokens: Tokens) -> FloatArray:
        words, chars = tokens
        scores = self.intercept.copy()
        for items, vocab, idf, offset in (
            (words, self.word_vocab, self.word_idf, 0),
            (chars, self.char_vocab, self.char_idf, self._char_offset),
        ):
            counts: dict[int, int] = {}
            for term, n in items.items():
                index = vocab.get(term)
                if index is not None:
                    counts[index] = n
            if not counts:
                continue
            index_array = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            weights = np.fromiter(
                (1.0 + math.log(n) for n in counts.values()), dtype=np.float64, count=len(counts)
            )
            weights *= idf[index_array]
            weights /= math.sqrt(float(weights @ weights))
            scores += weights @ self.coef_t[index_array + offset]
        return scores

    def decision(self, texts: Sequence[str]) -> FloatArray:
        out = np.empty((len(texts), len(self.labels)), dtype=np.float64)
        for row, text in enumerate(texts):
            out[row] = self.decision_tokens(self.tokens(text))
        return out

    def proba_tokens(self, tokens: Tokens) -> FloatArray:
        probs: FloatArray = softmax(self.decision_tokens(tokens)[None, :] * self.temperature)[0]
        return probs

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
            "word_terms": _terms(self.word_vocab),
            "char_terms": _terms(self.char_vocab),
        }
        arrays: dict[str, FloatArray] = {
            "word_idf": self.word_idf,
            "char_idf": self.char_idf,
            "coef_t": self.coef_t,
            "intercept": self.intercept,
            "probe_scores": self.decision(list(self.probes)),
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            # A fixed timestamp keeps the bytes of the same model identical, build after build.
            archive.writestr(_entry("meta.json"), json.dumps(meta, ensure_ascii=False))
            for name, array in arrays.items():
                out = io.BytesIO()
                dtype = np.float32 if name == "coef_t" else np.float64
                np.save(out, np.asarray(array, dtype=dtype), allow_pickle=False)
                archive.writestr(_entry(f"{name}.npy"), out.getvalue())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextModel:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                meta = json.loads(archive.read("meta.json").decode("utf-8"))
                arrays = {
                    name: np.load(io.BytesIO(archive.read(f"{name}.npy")), allow_pickle=False)
                    for name in ("word_idf", "char_idf", "coef_t", "intercept", "probe_scores")
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
            model = cls(
                task=str(meta["task"]),
                labels=tuple(str(label) for label in meta["labels"]),
                spec=FeatureSpec.from_dict(meta["spec"]),
                word_vocab={t: i for i, t in enumerate(meta["word_terms"])},
                word_idf=arrays["word_idf"].astype(np.float64),
                char_vocab={t: i for i, t in enumerate(meta["char_terms"])},
                char_idf=arrays["char_idf"].astype(np.float64),
                coef_t=arrays["coef_t"].astype(np.float64),
                intercept=arrays["intercept"].astype(np.float64),
                temperature=float(meta["temperature"]),
                metrics=dict(meta.get("metrics", {})),
                probes=tuple(str(p) for p in meta.get("probes", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"damaged text model: {exc}") from None
        saved = arrays["probe_scores"]
        now = model.decision(list(model.probes))
        if now.shape != saved.shape or not np.allclose(now, saved, atol=_PROBE_TOLERANCE):
            raise ModelFormatError(
                f"the {model.task} model scores its probe texts differently in this version "
                "than when it was saved; retrain it"
            )
        return model


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _terms(vocabulary: Mapping[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return terms


def softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result
