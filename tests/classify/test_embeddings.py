"""The embedding cache's stored vectors: what a retrain reads equals what the build trained on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classify.embeddings import EmbeddingCache, FloatArray


class CountingEncoder:
    """A stand-in encoder: deterministic vectors, and a count of the texts it was asked for."""

    name = "counting"
    dim = 8

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> FloatArray:
        self.encoded += list(texts)
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=self.dim) for t in texts]
        vectors = np.array(rows).reshape(len(texts), self.dim)
        result: FloatArray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return result


def test_saved_vectors_load_back_exactly_as_rounded_and_only_new_texts_are_encoded(
    tmp_path: Path,
) -> None:
    texts = ["refund please", "退款还没到账", "where is my parcel"]
    build = EmbeddingCache(CountingEncoder())
    original = build.encode(texts)
    build.round_as_stored()
    rounded = build.encode(texts)
    assert np.abs(rounded - original).max() < 0.01
    build.save(tmp_path / "vectors.zip", texts)

    encoder = CountingEncoder()
    later = EmbeddingCache(encoder)
    later.load(tmp_path / "vectors.zip", texts)
    assert np.array_equal(
        later.encode(texts + ["a new correction"]),
        np.vstack([rounded, CountingEncoder().encode(["a new correction"])]),
    )
    assert encoder.encoded == ["a new correction"]


def test_a_file_from_another_encoder_is_ignored(tmp_path: Path) -> None:
    build = EmbeddingCache(CountingEncoder())
    build.save(tmp_path / "vectors.zip", ["hello"])
    other = CountingEncoder()
    other.name = "another"
    cache = EmbeddingCache(other)
    cache.load(tmp_path / "vectors.zip", ["hello"])
    assert len(cache) == 0
