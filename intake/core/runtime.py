"""The handful of long-lived objects a process needs, built once from Settings."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from intake.core import metrics
from intake.core.blob_db import DbBlobStore
from intake.core.blobs import BlobStore
from intake.core.db.engine import Database
from intake.core.jobs import Jobs
from intake.core.settings import Settings, load_settings
from intake.errors import ConfigError

log = logging.getLogger(__name__)

# The data dir holds the database, the secret key, every stored message and the embedded Redis:
# only the gateway's own user may enter it.
DATA_DIR_MODE = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` as 0700, and take group and other access away from an existing one."""
    path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, DATA_DIR_MODE)
    except OSError as exc:  # e.g. owned by another user: say so, but run
        log.warning("cannot make %s private (mode 0700): %s", path, exc)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    blobs: BlobStore
    jobs: Jobs

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        if not settings.redis_url:
            raise ConfigError("INTAKE_REDIS_URL is not set (intake up sets it for its children)")
        make_private_dir(settings.data_dir)
        db = Database(settings.database_url)
        blobs = (
            DbBlobStore(db, settings.data_dir / "blob-cache")
            if settings.blob_store == "db"
            else BlobStore(settings.blob_dir)
        )
        # Every process records its metrics in the one Redis, so /metrics sees all hosts.
        metrics.attach(settings.redis_url)
        return cls(
            settings=settings,
            db=db,
            blobs=blobs,
            jobs=Jobs(settings.redis_url, retries=settings.job_retries),
        )

    def close(self) -> None:
        metrics.flush()
        self.jobs.close()
        self.db.dispose()


_current: Runtime | None = None


def set_current(runtime: Runtime | None) -> None:
    """Jobs run in worker processes that get only ids: they find the process's runtime here."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        set_current(Runtime.from_settings(load_settings()))
    assert _current is not None
    return _current
