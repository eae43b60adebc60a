"""Joining whisper-base from its two PyPI packages into a models directory, once, safely."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import transcribe.modelfiles as modelfiles
from transcribe import ModelLoadError
from transcribe.modelfiles import PACKAGED, join_packaged_model, resolve_model_path

# Each test copies and hashes the 145 MB model: left out of the fast subset.
pytestmark = pytest.mark.slow

FILES = {"model.bin", "config.json", "tokenizer.json", "joined.json"}


def test_base_is_joined_into_the_models_dir_once(tmp_path: Path) -> None:
    target = join_packaged_model("base", tmp_path)
    assert target == tmp_path / "base"
    assert FILES <= {path.name for path in target.iterdir()}
    model = next(m for m in PACKAGED["base"] if (target / "model.bin").stat().st_size == m.size)
    marker = json.loads((target / "joined.json").read_text())
    assert marker["sha256"] == model.sha256
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert resolve_model_path("base", tmp_path) == str(target)
    # The second call finds the finished join and writes nothing.
    assert (target / "model.bin").stat().st_mtime_ns == stamp
    # No temporary folder is left next to it.
    assert [path.name for path in tmp_path.iterdir()] == ["base"]


def test_a_damaged_join_is_replaced(tmp_path: Path) -> None:
    target = join_packaged_model("base", tmp_path)
    with (target / "model.bin").open("r+b") as handle:
        handle.truncate(1000)
    join_packaged_model("base", tmp_path)
    assert (target / "model.bin").stat().st_size > 100_000_000


def test_a_join_with_the_wrong_checksum_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = tuple(dataclasses.replace(m, sha256="0" * 64) for m in PACKAGED["base"])
    monkeypatch.setitem(modelfiles.PACKAGED, "base", wrong)
    with pytest.raises(ModelLoadError, match="Reinstall them"):
        join_packaged_model("base", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_packages_are_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tuple(
        dataclasses.replace(m, parts=(("no_such_package_1", "model.bin.part1"), *m.parts[1:]))
        for m in PACKAGED["base"]
    )
    monkeypatch.setitem(modelfiles.PACKAGED, "base", missing)
    with pytest.raises(ModelLoadError, match="install the packages no-such-package-1"):
        join_packaged_model("base", tmp_path)


def test_a_packaged_model_needs_a_models_dir() -> None:
    with pytest.raises(ModelLoadError, match="no models directory"):
        resolve_model_path("base")


def test_two_workers_joining_at_once_both_get_the_same_finished_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_join_into = modelfiles._join_into
    calls: list[Path] = []

    def racing(folder: Path, model: modelfiles.PackagedModel, data: list[Path]) -> None:
        calls.append(folder)
        if len(calls) == 1:
            # The other worker starts later but finishes first.
            join_packaged_model("base", tmp_path)
            stamp = (tmp_path / "base" / "model.bin").stat().st_mtime_ns
            calls.append(Path(str(stamp)))
        real_join_into(folder, model, data)

    monkeypatch.setattr(modelfiles, "_join_into", racing)
    target = join_packaged_model("base", tmp_path)
    # The first finished join is kept (it may already be loaded), the second one discarded.
    assert str((target / "model.bin").stat().st_mtime_ns) == calls[2].name
    assert [path.name for path in tmp_path.iterdir()] == ["base"]
