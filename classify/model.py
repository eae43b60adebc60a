"""A trained text model: scoring, and its byte format.

A model may also read a sentence embedding (``classify.embeddings``): its coefficients then
have one more block, one row per embedding dimension, and the model stores the encoder's name.

The format is a zip of JSON metadata and plain numeric arrays (``numpy.save``), never a pickle:
bytes read back from the database cannot run code, and a model outlives scikit-learn upgrades
because only the vocabulary, IDF weights and linear coefficients are stored; scoring is done
here, with scikit-learn needed only for training. Each model also stores a few probe texts with
the scores it gave them; loading recomputes them and refuses a model whose scores changed (for
example because the analyzer changed between versions), rather than silently classifying
differently.
"""

from __future__ import annotations

import hashlib
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

from classify.embeddings import get_encoder
from classify.features import FeatureSpec, count_features

log = logging.getLogger(__name__)

FORMAT = "intake-text-model"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1: TF-IDF only, no embedding fields
_PROBE_TOLERANCE = 1e-4

FloatArray = npt.NDArray[np.float64]
Tokens = tuple["Counter[str]", "Counter[str]"]  # word and character feature counts


class ModelFormatError(ValueError):
    """The bytes are not a model this version can load, or the model no longer scores the same."""


@dataclass
class TextModel:
    """Linear classifier over word and character TF-IDF blocks (plus, optionally, a sentence
    embedding scaled by ``embedding_scale``); probabilities by softmax.

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
    # (n_features, n_labels): word features, character ones, then embedding dimensions
    coef_t: npt.NDArray[np.floating[Any]]
    intercept: FloatArray  # (n_labels,)
    temperature: float
    metrics: dict[str, Any] = field(default_factory=dict)
    probes: tuple[str, ...] = ()
    embedding: str | None = None  # encoder name (``classify.embeddings``), or None
    embedding_dim: int = 0
    embedding_scale: float = 1.0

    def __post_init__(self) -> None:
        n_features = len(self.word_vocab) + len(self.char_vocab) + self.embedding_dim
        if self.coef_t.shape != (n_features, len(self.labels)):
            raise ModelFormatError(
                f"coefficients {self.coef_t.shape} do not fit {n_features} features "
                f"and {len(self.labels)} labels"
            )
        if self.word_idf.shape != (len(self.word_vocab),) or self.char_idf.shape != (
            len(self.char_vocab),
        ):
            raise ModelFormatError("IDF weights do not fit the vocabulary")
        if (self.embedding is None) != (self.embedding_dim == 0):
            raise ModelFormatError("embedding name and size disagree")
        self._char_offset = len(self.word_vocab)
        self._embedding_offset = self._char_offset + len(self.char_vocab)

    def tokens(self, text: str) -> Tokens:
        """The analyzer output; models sharing a ``spec`` can share it (see ``decision_tokens``)."""
        return count_features(text, self.spec)

    def embed(self, texts: Sequence[str]) -> FloatArray | None:
        """The sentence vectors this model reads, or None for a TF-IDF-only model."""
        if self.embedding is None:
            return None
        return get_encoder(self.embedding).encode(list(texts))

    def decision_tokens(self, tokens: Tokens, vector: FloatArray | None = None) -> FloatArray:
        """Decision values; ``vector`` is the text's embedding, needed when the model has one."""
        words, chars = tokens
        scores = self.intercept.copy()
        if self.embedding is not None:
            if vector is None or vector.shape != (self.embedding_dim,):
                raise ValueError(f"the {self.task} model needs a {self.embedding} vector")
            scores += (vector * self.embedding_scale) @ self.coef_t[self._embedding_offset :]
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

    def term_contributions(self, tokens: Tokens, label: str) -> list[tuple[str, float]]:
        """Word-block terms of this text by how much they pushed towards ``label`` (largest
        first): the readable part of a decision, for reasons shown to agents."""
        column = self.labels.index(label)
        words = tokens[0]
        found = [(t, self.word_vocab[t]) for t in words if t in self.word_vocab]
        if not found:
            return []
        weights = np.array([(1.0 + math.log(words[t])) * self.word_idf[i] for t, i in found])
        weights /= math.sqrt(float(weights @ weights))
        others = [c for c in range(len(self.labels)) if c != column]
        rows = self.coef_t[[i for _, i in found]]
        margin = rows[:, column] - (rows[:, others].mean(axis=1) if others else 0.0)
        scored = [(t, float(w * m)) for (t, _), w, m in zip(found, weights, margin, strict=True)]
        return sorted(scored, key=lambda tm: -tm[1])

    def decision(self, texts: Sequence[str]) -> FloatArray:
        out = np.empty((len(texts), len(self.labels)), dtype=np.float64)
        vectors = self.embed(texts)
        for row, text in enumerate(texts):
            vector = vectors[row] if vectors is not None else None
            out[row] = self.decision_tokens(self.tokens(text), vector)
        return out

    def proba_tokens(self, tokens: Tokens, vector: FloatArray | None = None) -> FloatArray:
        scores = self.decision_tokens(tokens, vector)[None, :] * self.temperature
        probs: FloatArray = softmax(scores)[0]
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
            "embedding": self.embedding,
            "embedding_dim": self.embedding_dim,
            "embedding_scale": self.embedding_scale,
        }
        arrays: dict[str, npt.NDArray[Any]] = {
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
        if meta.get("format_version") not in _READABLE_VERSIONS:
            raise ModelFormatError(
                f"model format version {meta.get('format_version')!r} is not supported "
                f"(this build reads version {FORMAT_VERSION})"
            )
        try:
            model = cls(
                task=str(meta["task"]),
                labels=tuple(str(label) for label in meta["labels"]),
                spec=FeatureSpec.from_dict(meta["spec"]),
                word_vocab=_shared_vocabulary(meta["word_terms"]),
                word_idf=arrays["word_idf"].astype(np.float64),
                char_vocab=_shared_vocabulary(meta["char_terms"]),
                char_idf=arrays["char_idf"].astype(np.float64),
                # Kept in single precision, as stored: half the memory, same scores to 1e-6.
                coef_t=arrays["coef_t"].astype(np.float32),
                intercept=arrays["intercept"].astype(np.float64),
                temperature=float(meta["temperature"]),
                metrics=dict(meta.get("metrics", {})),
                probes=tuple(str(p) for p in meta.get("probes", ())),
                embedding=meta.get("embedding"),
                embedding_dim=int(meta.get("embedding_dim", 0)),
                embedding_scale=float(meta.get("embedding_scale", 1.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"damaged text model: {exc}") from None
        saved = arrays["probe_scores"]
        try:
            now = model.decision(list(model.probes))
        except RuntimeError as exc:  # e.g. the sentence encoder is not installed
            raise ModelFormatError(f"the {model.task} model cannot score here: {exc}") from None
        if now.shape != saved.shape or not np.allclose(now, saved, atol=_PROBE_TOLERANCE):
            raise ModelFormatError(
                f"the {model.task} model scores its probe texts differently in this version "
                "than when it was saved; retrain it"
            )
        return model


# Models trained on the same texts (the four shipped ones) have the same vocabulary; one dict
# serves them all, which saves about 150 MB in a worker. Kept for the process's lifetime, at
# most a few entries (one per distinct vocabulary loaded).
_VOCABULARIES: dict[str, dict[str, int]] = {}
_MAX_SHARED = 8


def _shared_vocabulary(terms: list[str]) -> dict[str, int]:
    digest = hashlib.sha1("\n".join(terms).encode("utf-8")).hexdigest()
    vocabulary = _VOCABULARIES.get(digest)
    if vocabulary is None:
        vocabulary = {t: i for i, t in enumerate(terms)}
        if len(_VOCABULARIES) >= _MAX_SHARED:
            _VOCABULARIES.pop(next(iter(_VOCABULARIES)))
        _VOCABULARIES[digest] = vocabulary
    return vocabulary


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
