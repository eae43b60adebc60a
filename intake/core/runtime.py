"""The handful of long-lived objects a process needs, built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from intake.core.blobs import BlobStore
from intake.core.db.engine import Database
from intake.core.jobs import Jobs
from intake.core.settings import Settings, load_settings
from intake.errors import ConfigError


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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            blobs=BlobStore(settings.blob_dir),
            jobs=Jobs(settings.redis_url, retries=settings.job_retries),
        )

    def close(self) -> None:
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
