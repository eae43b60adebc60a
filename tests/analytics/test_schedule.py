"""The sweeper's root-cause schedule: one run per 5-minute slot, even after it finished."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job
from sqlalchemy import select

from intake.core.analytics_jobs import schedule_root_causes, slot_of
from intake.core.db.admin_models import AppSetting
from intake.core.db.analytics_models import RootCauseSnapshot, TicketAnalysis
from intake.core.jobs import ROOT_CAUSES
from intake.core.runtime import Runtime
from tests.analytics.seeding import Seed, insert_tickets
from tests.conftest import run_jobs


def test_one_root_cause_run_per_slot(sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    now = datetime.now(UTC)
    with runtime.db.session() as session:
        insert_tickets(
            session, [Seed(now - timedelta(hours=1), "Refund missing", category="billing")]
        )
    assert slot_of(datetime(2026, 3, 10, 12, 34, tzinfo=UTC)) == "202603101230"
    assert schedule_root_causes(runtime, now)
    assert not schedule_root_causes(runtime, now)  # queued
    run_jobs(runtime, "analytics")
    job = Job.fetch(ROOT_CAUSES.job_id(slot_of(now)), connection=runtime.jobs.connection)
    assert job.get_status() == "finished"
    assert str(job.return_value()).startswith("1 analysed")
    assert not schedule_root_causes(runtime, now)  # done: not again in this slot
    later = now + timedelta(minutes=5)
    assert schedule_root_causes(runtime, later)
    run_jobs(runtime, "analytics")
    again = Job.fetch(ROOT_CAUSES.job_id(slot_of(later)), connection=runtime.jobs.connection)
    assert again.return_value() == "0 analysed, 0 snapshots"  # nothing new: nothing recomputed
    with runtime.db.session() as session:
        assert len(session.scalars(select(TicketAnalysis)).all()) == 1
        assert session.scalars(select(RootCauseSnapshot)).all()
        assert session.get(AppSetting, "analytics.complaint_groups") is not None
