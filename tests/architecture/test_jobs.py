"""The job registry: every job is defined once, and every definition points at a real job."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from intake.core.jobs import JOBS, JobQueue, JobSpec


@pytest.mark.parametrize("spec", JOBS, ids=lambda spec: spec.function)
def test_every_registered_job_function_imports_and_takes_what_it_is_given(spec: JobSpec) -> None:
    module_name, _, function_name = spec.function.rpartition(".")
    assert module_name.startswith("workers."), "jobs live in the workers layer"
    function = getattr(importlib.import_module(module_name), function_name)
    parameters = list(inspect.signature(function).parameters)
    assert len(parameters) == (1 if spec.passes_key else 0)


def test_job_ids_differ_between_kinds_and_come_from_the_item() -> None:
    ids = [spec.job_id(7) for spec in JOBS]
    assert len(set(ids)) == len(JOBS)
    assert all("7" in job_id for job_id in ids)
    assert len({spec.function for spec in JOBS}) == len(JOBS)


def test_the_transcribe_queue_runs_speech_only() -> None:
    """GPU transcription hosts serve this queue alone: nothing else may land on it."""
    on_transcribe = [spec.function for spec in JOBS if spec.queue is JobQueue.TRANSCRIBE]
    assert on_transcribe == ["workers.transcription.transcribe_message"]


@pytest.mark.slow
def test_a_worker_warms_up_without_the_training_code() -> None:
    """scikit-learn arrives with a retrain job, not at a classify worker's start (~90 MB)."""
    warmed = sorted({s.function.rpartition(".")[0] for s in JOBS if s.warm_up})
    code = "import importlib, sys\n"
    code += "".join(f"importlib.import_module({m!r})\n" for m in warmed)
    code += "print(sorted({'sklearn', 'scipy'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
