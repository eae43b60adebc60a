"""Whatever an admin's browser (or a script) posts, the answer is a page, never a server error."""

from __future__ import annotations

import io

from intake.core.runtime import Runtime
from tests.conftest import login
from tests.web.conftest import ADMIN, people_app

GARBAGE = [
    {},
    {"direction": "sideways", "enabled": "maybe", "retired": "x", "active": "2"},
    {
        "key": "a" * 500,
        "label": "\x00" * 300,
        "role": "owner",
        "email": "@",
        "password": "",
        "tier": "t" * 100,
        "name": "",
    },
    {
        "key": "nul\x00",
        "label": "a\x00b",
        "email": "n\x00l@example.com",
        "name": "\x00",
        "password": "long-enough-\x00",
        "tier": "v\x00ip",
        "role": "agent",
    },
    {
        "mode": "json",
        "definition": '{"name": "a\\u0000b", "conditions": [{"field": '
        '"subject", "op": "contains", "value": "\\u0000"}], "actions": {"set_group": "g"}}',
    },
    {
        "mode": "form",
        "name": "n\x00",
        "field": "subject",
        "op": "contains",
        "value": "v\x00",
        "set_group": "\x00g",
    },
    {"mode": "json", "definition": "[" * 50_000},
    {"mode": "json", "definition": '{"name": "x", "conditions": [1], "actions": []}'},
    {
        "mode": "json",
        "definition": '{"name": "x", "conditions": [{"field": "subject", '
        '"op": "in", "value": {"a": 1}}], "actions": {"add_tags": "oops"}}',
    },
    {"mode": "form", "field": "nope", "op": "regex", "value": "(", "set_priority": "asap"},
    {"urgent": "1e9", "high": "-5", "medium": "", "low": "NaN"},
]
POST_PATHS = [
    "/admin/people",
    "/admin/people/1/role",
    "/admin/people/1/active",
    "/admin/people/1/password",
    "/admin/people/1/tokens",
    "/admin/people/999/role",
    "/admin/people/1/tokens/999/revoke",
    "/admin/categories",
    "/admin/categories/1/label",
    "/admin/categories/1/retired",
    "/admin/categories/1/move",
    "/admin/categories/999/move",
    "/admin/sla",
    "/admin/rules",
    "/admin/rules/999",
    "/admin/rules/999/enabled",
    "/admin/rules/999/move",
    "/admin/rules/999/delete",
    "/admin/customers/999/tier",
    "/admin/customers/import",
]


def test_garbage_posted_to_any_admin_form_never_causes_a_server_error(
    both_backends: Runtime,
) -> None:
    admin = people_app(both_backends).test_client()
    login(admin, ADMIN)
    for form in GARBAGE:
        for path in POST_PATHS:
            response = admin.post(path, data=form)
            assert response.status_code < 500, (path, form, response.status_code)
    for path in (
        "/admin/people/1",
        "/admin/rules/999",
        "/analytics?days=%00",
        "/admin/customers?q=%00%25_",
        "/admin/customers?tier=%00",
    ):
        assert admin.get(path).status_code < 500, path


def test_a_csv_full_of_control_characters_imports_cleanly(both_backends: Runtime) -> None:
    admin = people_app(both_backends).test_client()
    login(admin, ADMIN)
    data = {"file": (io.BytesIO(b"email,name,tier\nnul@example.org,N\x00ul,v\x00ip\n"), "c.csv")}
    page = admin.post("/admin/customers/import", data=data, content_type="multipart/form-data")
    assert "1 created" in page.get_data(as_text=True)
    assert "Nul" in admin.get("/admin/customers?tier=vip").get_data(as_text=True)
