"""The UI in English and Simplified Chinese, chosen per person or by the browser; local times."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from intake.core.activity import events_of
from intake.core.db.models import User
from intake.core.runtime import Runtime
from intake.domain import Role
from intake.errors import TRANSLATED_ERRORS
from tests.conftest import add_person, deliver, login, make_app
from tests.mailfactory import make_mail
from web.i18n import language_of

WEB = Path(__file__).resolve().parents[2] / "web"
INTAKE = WEB.parent / "intake"
CATALOG = WEB / "translations" / "zh" / "LC_MESSAGES"


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        ("en-US,en;q=0.9", None, "en"),
        ("fr-FR, zh-TW;q=0.5, en;q=0.4", None, "zh"),
        ("de-DE", None, "en"),
        ("en;q=0.3, zh;q=0.8", None, "zh"),
        ("zh-CN", "en", "en"),
        ("en", "zh", "zh"),
        (None, None, "en"),
        ("garbage;q=x, ,", None, "en"),
    ],
)
def test_the_language_is_the_persons_choice_else_the_browsers(
    header: str | None, chosen: str | None, expected: str
) -> None:
    assert language_of(header, chosen) == expected


def test_a_chinese_browser_gets_the_login_page_in_chinese(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = page.get_data(as_text=True)
    assert 'lang="zh-Hans"' in html and "登录" in html and "密码" in html
    english = client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "Log in" in english and "登录" not in english


@pytest.fixture
def ui(runtime: Runtime) -> FlaskClient:
    return make_app(runtime, WTF_CSRF_ENABLED=False).test_client()


def test_a_chosen_language_and_time_zone_win_over_the_browser(
    runtime: Runtime, ui: FlaskClient
) -> None:
    add_person(runtime, "mei@example.com")
    login(ui, "mei@example.com")
    ticket_id = deliver(runtime, make_mail(), "intake").ticket_id
    assert ticket_id is not None
    english = {"Accept-Language": "en-US"}
    saved = ui.post(
        "/preferences", data={"language": "zh", "timezone": "Asia/Shanghai"}, headers=english
    )
    assert saved.status_code == 302
    queue = ui.get("/", headers=english).get_data(as_text=True)
    assert "队列" in queue and "退出" in queue
    ui.post(f"/tickets/{ticket_id}", data={"status": "open"}, headers=english)
    with runtime.db.session() as session:
        user = session.query(User).filter_by(email="mei@example.com").one()
        assert (user.language, user.timezone) == ("zh", "Asia/Shanghai")
        at = events_of(session, ticket_id)[0].at
    page = ui.get(f"/tickets/{ticket_id}", headers=english).get_data(as_text=True)
    shanghai = at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert shanghai.strftime("%Y-%m-%d %H:%M") in page.split('id="timeline"')[1]


def test_an_unknown_language_or_time_zone_is_refused(runtime: Runtime, ui: FlaskClient) -> None:
    add_person(runtime, "mei@example.com")
    login(ui, "mei@example.com")
    answer = ui.post("/preferences", data={"language": "xx", "timezone": "Mars/Base"})
    assert answer.status_code == 422


def _msgids(found: Iterable[tuple[object, ...]]) -> set[str]:
    return {str(m[2] if isinstance(m[2], str) else m[2][0]) for m in found}  # type: ignore[index]


def test_every_string_of_the_ui_has_a_chinese_translation() -> None:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    error_keywords = {name: None for name in TRANSLATED_ERRORS}
    wanted = _msgids(extract_from_dir(str(WEB), method_map)) | _msgids(
        extract_from_dir(str(INTAKE), method_map, keywords=error_keywords)
    )
    assert "group {name!r} already exists" in wanted  # the errors' templates are extracted
    with (CATALOG / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh")
    untranslated = sorted(m for m in wanted if not getattr(catalog.get(m), "string", ""))
    assert untranslated == [], "run ./dev translations and translate these"


def _hashable(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _entries(messages: Iterable[Message]) -> dict[object, object]:
    """Id to translation; a plural entry's forms as tuples."""
    return {_hashable(m.id): _hashable(m.string) for m in messages if m.id}


def test_the_compiled_catalog_matches_its_source() -> None:
    with (CATALOG / "messages.po").open("rb") as po:
        source = _entries(read_po(po, locale="zh"))
    compiled = read_mo(BytesIO((CATALOG / "messages.mo").read_bytes()))
    assert _entries(compiled) == source, "run ./dev translations"


def _message_argument(call: ast.Call) -> ast.expr | None:
    name = getattr(call.func, "id", getattr(call.func, "attr", None))
    return call.args[0] if name in TRANSLATED_ERRORS and call.args else None


def test_errors_people_see_are_templates_the_catalog_can_hold() -> None:
    """An f-string or a concatenation would never match its catalog entry: values go in as
    keywords (another error's text passed on as it is, ``str(exc)``, stays allowed)."""
    built: list[str] = []
    for path in [*INTAKE.rglob("*.py"), *WEB.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                message = _message_argument(node)
                if isinstance(message, ast.JoinedStr | ast.BinOp):
                    built.append(f"{path.name}:{node.lineno}")
    assert built == []


def test_a_refusal_is_shown_in_the_readers_language(runtime: Runtime, ui: FlaskClient) -> None:
    add_person(runtime, "mei@example.com", Role.ADMIN)
    login(ui, "mei@example.com")
    ui.post("/preferences", data={"language": "zh", "timezone": "UTC"})
    for _ in range(2):
        answer = ui.post("/admin/groups", data={"name": "vip"}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "vip" in page and "already exists" not in page
    assert "已存在" in page


def test_error_text_keeps_the_braces_of_a_message_without_values(
    runtime: Runtime, ui: FlaskClient
) -> None:
    from flask import Flask

    from intake.errors import RejectedError
    from web.i18n import error_text

    app = ui.application
    assert isinstance(app, Flask)
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        plain = RejectedError('send JSON {"text": "..."}')
        assert error_text(plain) == 'send JSON {"text": "..."}'
        unknown = RejectedError("no template {thing} in the catalog", thing="x")
        assert error_text(unknown) == "no template x in the catalog"
        assert error_text(RejectedError("group {name!r} already exists", name="vip")) == (
            "组 'vip' 已存在"
        )
