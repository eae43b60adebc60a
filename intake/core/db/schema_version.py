"""Is the database at this version's schema? Answered without importing Alembic.

``intake up`` migrates before it starts anything; services started one by one (systemd units,
several hosts) rely on ``intake migrate`` having run and check it at start with
:func:`require_current_schema`, which names the command to run instead of failing later on a
missing column. The check reads the revision ids from the migration files (Alembic itself
would add about 11 MB to every light process) and compares them with ``alembic_version``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from intake.core.db.engine import Database
from intake.errors import ConfigError

VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"
_REVISION = re.compile(r'^revision(?::[^=]*)?=\s*"([^"]+)"', re.MULTILINE)
# One quoted id, None, or a tuple of ids (a merge revision) that may span lines.
_DOWN_REVISION = re.compile(r"^down_revision(?::[^=]*)?=\s*(\([^)]*\)|.*)$", re.MULTILINE)
_QUOTED = re.compile(r'"([^"]+)"')


@cache
def known_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every revision id, the heads: revisions nothing else revises)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            revised.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions), frozenset(revisions - revised)


def require_current_schema(db: Database) -> None:
    """Raises ConfigError when the database lacks migrations of this version."""
    revisions, heads = known_revisions()
    try:
        with db.engine.connect() as connection:
            current = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        current = set()  # no alembic_version table: never migrated
    if current - revisions:
        return  # a revision this version does not know: a newer version migrated it
    if current != heads:
        missing = ", ".join(sorted(heads - current)) or "all"
        raise ConfigError(
            f"the database lacks migrations (heads {missing}): run `intake migrate` once "
            "with this version before starting the services"
        )
