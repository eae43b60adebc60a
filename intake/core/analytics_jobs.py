"""When the root-cause job runs: every few minutes, asked by the sweeper, one job per time slot.

The job (``workers.root_causes``) analyses whatever tickets were classified since its last run
and regroups complaints at most hourly; the slot in its job id makes enqueueing from several
sweepers, or several times within a slot, start it once.
"""

from __future__ import annotations

from datetime import datetime

from intake.core.db.base import utcnow
from intake.core.jobs import ROOT_CAUSES
from intake.core.runtime import Runtime

SLOT_MINUTES = 5
# AppSetting key where the job notes when it last grouped complaints.
GROUPS_SETTING = "analytics.complaint_groups"


def slot_of(now: datetime) -> str:
    minute = now.minute - now.minute % SLOT_MINUTES
    return now.strftime("%Y%m%d%H") + f"{minute:02d}"


def schedule_root_causes(runtime: Runtime, now: datetime | None = None) -> bool:
    """Queue this slot's root-cause run unless it is already queued, running or done."""
    return runtime.jobs.enqueue_once(ROOT_CAUSES, slot_of(now or utcnow()))
