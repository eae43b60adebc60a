"""The dashboard page, its CSV downloads and JSON, and Chromium screenshots of it.

Screenshots go to this test's output folder (printed), and also to ``INTAKE_UI_SCREENSHOTS``
when set.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import re
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.base import utcnow
from intake.core.db.models import User
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.analytics.corpus import background, cold_food_complaints
from tests.analytics.seeding import Seed, add_customer, insert_tickets
from tests.conftest import add_person, json_of, login, make_app
from tests.web.browser import Browser, keep, served
from web.analytics_dashboard import CHART_SECTION
from workers.root_causes import analyze_new_tickets, regroup

ADMIN = "chief@example.com"
GLYPH_DIFFERS = """(() => {
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = 40; canvas.height = 40;
    const context = canvas.getContext("2d");
    context.font = "32px sans-serif";
    context.fillText(text, 2, 32);
    return Array.from(context.getImageData(0, 0, 40, 40).data).join(",");
  };
  return draw("凉") !== draw("\\u{F0000}") && draw("凉") !== draw(" ");
})()"""
CHARTS = [*CHART_SECTION, "per_day", "terms", "emerging", "groups"]


def seed_small(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.db.session() as session:
        vip = add_customer(session, "vip@example.com", now - timedelta(days=400), "vip")
        insert_tickets(
            session,
            [
                Seed(
                    now - timedelta(hours=h),
                    text,
                    category=topic,
                    complaint=h % 2 == 0,
                    sentiment="negative",
                    channel="voicemail" if h == 5 else "email",
                    customer_id=vip if h < 3 else None,
                    language="zh" if "退" in text else "en",
                    first_response_at=now - timedelta(hours=h) + timedelta(minutes=20 * h + 5),
                )
                for h, (text, topic) in enumerate(
                    [
                        ("退款还没到账", "billing"),
                        ("退款申请被拒绝", "billing"),
                        ("退款太慢了", "billing"),
                        ("App crashes", "product_issue"),
                        ("Where is my parcel", "service_issue"),
                        ("Call me back", "other"),
                    ]
                )
            ],
        )


def _client(runtime: Runtime) -> tuple[FlaskClient, dict[str, str]]:
    token = add_person(runtime, ADMIN, Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, ADMIN)
    return client, {"Authorization": f"Bearer {token}"}


def test_the_dashboard_draws_every_chart_and_each_downloads_as_csv(
    sqlite_runtime: Runtime,
) -> None:
    seed_small(sqlite_runtime)
    analyze_new_tickets(sqlite_runtime)
    client, headers = _client(sqlite_runtime)
    page = client.get("/analytics?days=14&topic=billing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in CHART_SECTION:
        assert f'id="chart-{key}"' in html, key
    assert html.count("<svg") >= len(CHART_SECTION)
    # The Content-Security-Policy allows no inline style or script.
    assert " style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert 'id="root-terms"' in html and "退款" in html

    for key in CHARTS:
        answer = client.get(f"/analytics/{key}.csv?days=14&topic=billing")
        assert answer.status_code == 200, key
        assert answer.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows and rows[0], key
    topic_csv = client.get("/analytics/volume_topic.csv?days=14").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(topic_csv.lstrip("\ufeff"))))
    assert rows[0][0] == "day" and len(rows) == 15
    totals = {name: sum(int(r[i]) for r in rows[1:]) for i, name in enumerate(rows[0]) if i}
    assert totals == {"billing": 3, "product_issue": 1, "service_issue": 1, "other": 1}
    terms_csv = client.get("/analytics/terms.csv?days=14&topic=billing").get_data(as_text=True)
    assert "退款,3,0" in terms_csv
    assert client.get("/analytics/nonsense.csv").status_code == 404

    data = json_of(client.get("/api/analytics?days=14&channel=email", headers=headers))
    assert data["filters"] == {"channel": "email"}
    channel_rows = data["charts"]["volume_channel"]
    assert sum(r.get("email", 0) for r in channel_rows) == 5
    assert all("voicemail" not in r for r in channel_rows)
    assert data["charts"]["customer_tiers"] == [
        {"tier": "vip", "tickets": 3},
        {"tier": "none", "tickets": 2},
    ]
    assert client.get("/api/analytics/topics?days=7").status_code == 401


def full_page(browser: Browser, folder: Path, name: str) -> Path:
    height = int(browser.evaluate("document.documentElement.scrollHeight"))
    clip = {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}
    data = browser.send(
        "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
    )
    path = folder / name
    path.write_bytes(base64.b64decode(data["data"]))
    return keep(path)


def test_screenshots_of_the_dashboard_with_chinese_data(
    sqlite_runtime: Runtime, browser: Browser, shared_data: Path, tmp_path: Path
) -> None:
    runtime = sqlite_runtime
    now = utcnow()
    rng = random.Random(5)
    texts = background(shared_data)
    seeds = [
        Seed(
            now - timedelta(minutes=rng.randrange(10, 28 * 24 * 60)),
            t.text,
            category=t.topic,
            complaint=t.complaint,
            language=t.language,
            channel=rng.choice(["email", "email", "voicemail"]),
            sentiment=rng.choice(["negative", "neutral", "positive"]),
            priority=rng.choice(["urgent", "high", "medium", "medium", "low"]),
        )
        for t in texts
    ] + [
        Seed(
            now - timedelta(minutes=rng.randrange(10, 6 * 24 * 60)),
            t.text,
            category=t.topic,
            complaint=True,
            language=t.language,
            sentiment="negative",
            priority="high",
        )
        for t in cold_food_complaints(150)
    ]
    for seed in seeds:
        if rng.random() < 0.7:
            seed.first_response_at = seed.created_at + timedelta(minutes=rng.randrange(5, 600))
        if rng.random() < 0.5:
            seed.resolved_at = seed.created_at + timedelta(minutes=rng.randrange(600, 4000))
            seed.status = "resolved"
    with runtime.db.session() as session:
        insert_tickets(session, seeds)
    analyze_new_tickets(runtime)
    regroup(runtime)
    add_person(runtime, ADMIN, Role.ADMIN)
    with served(make_app(runtime, TESTING=False)) as site:
        browser.send("Network.clearBrowserCookies")
        browser.open(f"{site}/login")
        browser.fill("#email", ADMIN)
        browser.fill("#password", f"{ADMIN}-pw")
        browser.click("form.login button[type=submit]")
        browser.open(f"{site}/analytics?days=14&topic=service_issue")
        assert browser.count("svg.svg-chart") >= len(CHART_SECTION)
        assert "凉" in browser.text("#root-emerging")
        # A CJK font draws the Chinese terms: 凉 comes out other than a missing glyph's box.
        assert browser.evaluate(GLYPH_DIFFERS)
        whole = full_page(browser, tmp_path, "analytics_dashboard_en.png")
        browser.open(f"{site}/analytics?days=28")
        full_page(browser, tmp_path, "analytics_dashboard_all_topics.png")
        browser.click("#root-causes-topics a")
        browser.open(f"{site}/analytics?days=14&topic=service_issue")
        browser.click("#root-emerging tbody tr:first-child a")
        assert browser.count("#item-tickets tr[data-ticket]") >= 20
        full_page(browser, tmp_path, "analytics_item_tickets.png")
        with runtime.db.session() as session:
            admin = session.scalar(select(User).where(User.email == ADMIN))
            assert admin is not None
            admin.language = "zh"
            session.commit()
        browser.open(f"{site}/analytics?days=14&topic=service_issue")
        assert "根本原因" in browser.text("main") and "凉" in browser.text("#root-emerging")
        full_page(browser, tmp_path, "analytics_dashboard_zh.png")
    print(f"screenshots in {tmp_path}")
    assert whole.stat().st_size > 50_000
