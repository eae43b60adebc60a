"""The layer contracts in pyproject.toml cover every module, and a back-edge breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("intake", "workers", "web", "classify", "transcribe")


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    result: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return result


def layered_modules() -> list[str]:
    [layers] = [c["layers"] for c in contracts() if c["type"] == "layers"]
    assert isinstance(layers, list)
    return [name.strip() for layer in layers for name in str(layer).split("|")]


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic scripts, loaded by Alembic, imported by nothing
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``root`` (as ``./dev lint`` runs it)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def test_every_module_belongs_to_a_layer() -> None:
    layers = layered_modules()
    homeless = [
        name
        for name in module_names()
        if name not in PACKAGES
        and not any(name == layer or name.startswith(layer + ".") for layer in layers)
    ]
    assert homeless == []


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_pointing_up_breaks_the_build(tmp_path: Path) -> None:
    """The core importing the web, as a stray edit would: lint-imports must say no."""
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    tickets = tmp_path / "intake" / "core" / "tickets.py"
    tickets.write_text("import web.views  # noqa: F401\n" + tickets.read_text())
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "intake.core.tickets -> web.views" in result.stdout
