from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.admin_models import Category, SlaPolicy
from intake.core.db.models import Ticket
from intake.core.runtime import Runtime
from intake.core.sla import first_response_due
from intake.core.tickets import active_categories
from intake.domain import Priority
from tests.conftest import login
from tests.web.conftest import ADMIN, people_app


def category_rows(runtime: Runtime) -> list[tuple[str, str, bool]]:
    with runtime.db.session() as session:
        rows = session.scalars(select(Category).order_by(Category.position, Category.id))
        return [(c.key, c.label, c.retired) for c in rows]


def category_id(runtime: Runtime, key: str) -> int:
    with runtime.db.session() as session:
        found = session.scalar(select(Category.id).where(Category.key == key))
        assert found is not None
        return found


def active(runtime: Runtime) -> list[str]:
    with runtime.db.session() as session:
        return active_categories(session)


def test_an_added_category_is_offered_at_once(runtime: Runtime, admin: FlaskClient) -> None:
    response = admin.post(
        "/admin/categories", data={"key": "refund_request", "label": "Refund request"}
    )
    assert response.status_code == 302
    assert active(runtime)[-1] == "refund_request"
    assert ("refund_request", "Refund request", False) in category_rows(runtime)
    assert b'<option value="refund_request"' in admin.get("/").data


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Bad Key", "A key is a lower-case letter"),
        ("", "A key is a lower-case letter"),
        ("billing", "Category &#39;billing&#39; already exists"),
    ],
)
def test_a_bad_or_duplicate_category_key_is_explained(
    runtime: Runtime, admin: FlaskClient, key: str, message: str
) -> None:
    before = category_rows(runtime)
    page = admin.post("/admin/categories", data={"key": key}, follow_redirects=True)
    assert message in page.get_data(as_text=True)
    assert category_rows(runtime) == before


def test_renaming_a_category_changes_its_label_but_never_its_key(
    runtime: Runtime, admin: FlaskClient
) -> None:
    billing = category_id(runtime, "billing")
    admin.post(f"/admin/categories/{billing}/label", data={"label": "Invoices & payments"})
    assert ("billing", "Invoices & payments", False) in category_rows(runtime)
    assert "billing" in active(runtime)


def test_a_retired_category_stays_on_old_tickets_and_can_come_back(
    runtime: Runtime, admin: FlaskClient
) -> None:
    with runtime.db.session() as session:
        session.add(Ticket(subject="old", category="suggestion"))
    suggestion = category_id(runtime, "suggestion")
    admin.post(f"/admin/categories/{suggestion}/retired", data={"retired": "1"})
    assert "suggestion" not in active(runtime)
    with runtime.db.session() as session:
        assert session.scalar(select(Ticket.category)) == "suggestion"
    page = admin.get("/admin/categories").get_data(as_text=True)
    assert 'data-category="suggestion" class="inactive"' in page
    admin.post(f"/admin/categories/{suggestion}/retired", data={"retired": "0"})
    assert "suggestion" in active(runtime)


def test_the_last_active_category_cannot_be_retired(runtime: Runtime, admin: FlaskClient) -> None:
    keys = active(runtime)
    for key in keys[:-1]:
        admin.post(f"/admin/categories/{category_id(runtime, key)}/retired", data={"retired": "1"})
    page = admin.post(
        f"/admin/categories/{category_id(runtime, keys[-1])}/retired",
        data={"retired": "1"},
        follow_redirects=True,
    )
    assert "The last active category cannot be retired." in page.get_data(as_text=True)
    assert active(runtime) == [keys[-1]]


def test_categories_move_up_and_down(both_backends: Runtime) -> None:
    admin = people_app(both_backends).test_client()
    login(admin, ADMIN)
    before = active(both_backends)
    admin.post(
        f"/admin/categories/{category_id(both_backends, before[2])}/move", data={"direction": "up"}
    )
    assert active(both_backends) == [before[0], before[2], before[1], *before[3:]]
    admin.post(
        f"/admin/categories/{category_id(both_backends, before[2])}/move",
        data={"direction": "down"},
    )
    assert active(both_backends) == before
    first = category_id(both_backends, before[0])
    admin.post(f"/admin/categories/{first}/move", data={"direction": "up"})
    assert active(both_backends) == before


def test_sla_targets_are_saved_and_used_for_new_due_times(
    runtime: Runtime, admin: FlaskClient
) -> None:
    page = admin.get("/admin/sla").get_data(as_text=True)
    assert 'name="urgent" value="60"' in page
    admin.post("/admin/sla", data={"urgent": "15", "high": "120", "medium": "480", "low": "2880"})
    with runtime.db.session() as session:
        policies = {
            p.priority: p.first_response_minutes for p in session.scalars(select(SlaPolicy))
        }
        created = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        assert first_response_due(session, Priority.URGENT, created) == created + timedelta(
            minutes=15
        )
    assert policies == {"urgent": 15, "high": 120, "medium": 480, "low": 2880}


@pytest.mark.parametrize(
    ("urgent", "message"),
    [("soon", "urgent: enter whole minutes, got &#39;soon&#39;."), ("0", "between 1 and")],
)
def test_bad_sla_minutes_are_refused_without_saving_anything(
    runtime: Runtime, admin: FlaskClient, urgent: str, message: str
) -> None:
    page = admin.post(
        "/admin/sla",
        data={"urgent": urgent, "high": "1", "medium": "1", "low": "1"},
        follow_redirects=True,
    )
    assert message in page.get_data(as_text=True)
    with runtime.db.session() as session:
        assert (
            session.scalar(
                select(SlaPolicy.first_response_minutes).where(SlaPolicy.priority == "high")
            )
            != 1
        )
