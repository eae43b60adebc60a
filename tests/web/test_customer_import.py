from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.cli import main
from intake.core.customer_import import import_customers, parse_csv
from intake.core.db.models import Customer
from intake.core.runtime import Runtime
from intake.errors import RejectedError


def customers(runtime: Runtime) -> dict[str, tuple[str | None, str, str | None]]:
    with runtime.db.session() as session:
        return {
            (c.email or c.phone or ""): (c.phone, c.name, c.tier)
            for c in session.scalars(select(Customer))
        }


def test_parse_csv_reads_a_spreadsheet_export_with_bom_and_semicolons() -> None:
    data = "\ufeffEmail;Name;Tier\r\nann@example.org;Ann Example;VIP\r\n".encode()
    assert parse_csv(data) == [{"email": "ann@example.org", "name": "Ann Example", "tier": "VIP"}]


def test_parse_csv_falls_back_to_windows_1252_for_non_utf8_files() -> None:
    data = "email,name\nzoe@example.org,Zoë\n".encode("cp1252")
    assert parse_csv(data) == [{"email": "zoe@example.org", "name": "Zoë"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"name,tier\nAnn,vip\n", "at least 'email' or 'phone' (found: name, tier)"),
    ],
)
def test_parse_csv_rejects_files_without_a_usable_header(data: bytes, message: str) -> None:
    with pytest.raises(RejectedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(data)


def test_import_creates_updates_and_reports_bad_rows_with_line_numbers(
    both_backends: Runtime,
) -> None:
    rows = parse_csv(
        b"email,phone,name,tier\n"
        b"Ann@Example.org,,Ann,VIP\n"
        b",+1 415 555 0100,Caller,Gold\n"
        b"not-an-email,,Bad,\n"
        b",,Nobody,vip\n"
        b",call me,Bad phone,\n"
        b"\n"
    )
    with both_backends.db.session() as session:
        result = import_customers(session, rows)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert [(e.line, e.message) for e in result.errors] == [
        (4, "not an email address: 'not-an-email'"),
        (5, "needs an email or a phone number"),
        (6, "not a phone number: 'call me'"),
    ]
    assert customers(both_backends) == {
        "ann@example.org": (None, "Ann", "vip"),
        "+14155550100": ("+14155550100", "Caller", "gold"),
    }

    again = parse_csv(
        b"email,phone,name,tier\n"
        b"ann@example.org,,Ann,vip\n"
        b"ann@example.org,0044 20 7946 0018,,\n"
        b",(415) 555-0100,,-\n"
    )
    with both_backends.db.session() as session:
        result = import_customers(session, again)
    assert (result.created, result.updated, result.unchanged, result.errors) == (0, 2, 1, [])
    assert customers(both_backends) == {
        "ann@example.org": ("+442079460018", "Ann", "vip"),
        "+14155550100": ("+14155550100", "Caller", None),
    }


def test_import_refuses_a_row_joining_two_existing_customers(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        import_customers(session, [{"email": "a@example.org"}, {"phone": "+14155550100"}])
    with runtime.db.session() as session:
        result = import_customers(session, [{"email": "a@example.org", "phone": "+14155550100"}])
    assert [e.message for e in result.errors] == [
        "a@example.org and +14155550100 belong to two different customers"
    ]


def test_admins_import_a_csv_through_the_page(runtime: Runtime, admin: FlaskClient) -> None:
    data = {"file": (io.BytesIO(b"email,name,tier\nvip@example.org,Very,VIP\nbad,,\n"), "c.csv")}
    page = admin.post("/admin/customers/import", data=data, content_type="multipart/form-data")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Import: 1 created, 0 updated, 0 unchanged, 1 skipped." in text
    assert "line 3: not an email address: &#39;bad&#39;" in text
    assert customers(runtime)["vip@example.org"] == (None, "Very", "vip")


def test_a_file_without_an_email_or_phone_column_is_explained(admin: FlaskClient) -> None:
    data = {"file": (io.BytesIO(b"who,tier\nAnn,vip\n"), "c.csv")}
    page = admin.post("/admin/customers/import", data=data, content_type="multipart/form-data")
    assert page.status_code == 400
    assert "c.csv: the first line must name the columns" in page.get_data(as_text=True)


def test_admins_search_customers_and_set_a_tier(runtime: Runtime, admin: FlaskClient) -> None:
    with runtime.db.session() as session:
        import_customers(
            session, [{"email": "bo@shop.example", "name": "Bo"}, {"email": "cy@x.org"}]
        )
        customer_id = session.scalar(select(Customer.id).where(Customer.name == "Bo"))
    page = admin.get("/admin/customers?q=shop").get_data(as_text=True)
    assert "bo@shop.example" in page and "cy@x.org" not in page
    admin.post(f"/admin/customers/{customer_id}/tier", data={"tier": "VIP"})
    assert customers(runtime)["bo@shop.example"][2] == "vip"
    assert "bo@shop.example" in admin.get("/admin/customers?tier=vip").get_data(as_text=True)
    admin.post(f"/admin/customers/{customer_id}/tier", data={"tier": ""})
    assert customers(runtime)["bo@shop.example"][2] is None


def test_the_cli_imports_a_csv_file_and_exits_1_when_rows_were_skipped(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("email,tier\ncli@example.org,gold\nnope,\n")
    monkeypatch.setenv("INTAKE_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("INTAKE_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("INTAKE_SECRET_KEY", "test-secret-key-test-secret-key-0123456789")

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert main(["customers", "import", "--dry-run", "-"]) == 1
    assert capsys.readouterr().out.strip() == (
        "dry run: 1 created, 0 updated, 0 unchanged, 1 skipped"
    )
    assert customers(runtime) == {}

    assert main(["customers", "import", str(path)]) == 1
    output = capsys.readouterr()
    assert output.out.strip() == "1 created, 0 updated, 0 unchanged, 1 skipped"
    assert f"{path}:3: not an email address: 'nope'" in output.err
    assert customers(runtime)["cli@example.org"][2] == "gold"

    assert main(["customers", "import", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
