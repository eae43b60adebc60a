"""Bulk customer import (email or phone, name, tier) from CSV rows, shared by the web UI and CLI.

Rows are matched on the normalized email first, then the E.164 phone number, so re-importing the
same file updates rather than duplicates. A bad row is reported with its line number and skipped;
the good rows are still imported.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.customers import normalize_email, normalize_phone
from intake.core.db.models import Customer
from intake.errors import RejectedError

log = logging.getLogger(__name__)

COLUMNS = ("email", "phone", "name", "tier")
MAX_TIER_LENGTH = 40
MAX_NAME_LENGTH = 200
# PostgreSQL refuses NUL in text; other control characters are spreadsheet debris.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    line: int  # 1-based line in the file, counting the header as line 1
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def summary(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.errors:
            text += f", {len(self.errors)} skipped"
        return text


def parse_csv(data: bytes | str) -> list[dict[str, str]]:
    """CSV text (UTF-8, with or without BOM) to rows keyed by lower-cased header names.

    Raises ``RejectedError`` when the header names neither an email nor a phone column.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Spreadsheets on Windows still export Windows-1252; it decodes any byte string.
            text = data.decode("cp1252", errors="replace")
    else:
        text = data.removeprefix("\ufeff")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise RejectedError("the file is empty") from None
    except csv.Error as exc:
        raise RejectedError("not a CSV file: {exc}", exc=exc) from None
    names = [h.strip().lower() for h in header]
    if "email" not in names and "phone" not in names:
        raise RejectedError(
            "the first line must name the columns, with at least 'email' or 'phone' "
            "(found: {columns})",
            columns=", ".join(n for n in names if n) or "nothing",
        )
    rows: list[dict[str, str]] = []
    try:
        for values in reader:
            rows.append({name: value for name, value in zip(names, values, strict=False) if name})
    except csv.Error as exc:
        raise RejectedError(
            "CSV error on line {line_num}: {exc}", line_num=reader.line_num, exc=exc
        ) from None
    return rows


def import_customers(
    session: Session, rows: Iterable[Mapping[str, str]], default_region: str | None = "US"
) -> ImportResult:
    """Create or update customers; flushes but does not commit (the caller owns the transaction).

    An empty ``tier`` cell leaves the tier as it is; the literal ``-`` clears it.
    """
    result = ImportResult()
    for index, row in enumerate(rows):
        line = index + 2
        if not any((v or "").strip() for v in row.values()):
            continue  # blank lines at the end of spreadsheets
        try:
            outcome = _import_row(session, row, default_region)
        except RejectedError as exc:
            result.errors.append(RowError(line, str(exc)))
            continue
        if outcome == "created":
            result.created += 1
        elif outcome == "updated":
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    log.info("customer import: %s", result.summary)
    return result


def _import_row(session: Session, row: Mapping[str, str], default_region: str | None) -> str:
    raw_email, raw_phone, name, tier = (
        _CONTROL.sub("", row.get(column) or "").strip() for column in COLUMNS
    )
    email = normalize_email(raw_email) if raw_email else None
    if email is not None and ("@" not in email or len(email) > 320 or " " in email):
        raise RejectedError("not an email address: {raw_email!r}", raw_email=raw_email)
    phone = normalize_phone(raw_phone, default_region) if raw_phone else None
    if raw_phone and phone is None:
        raise RejectedError("not a phone number: {raw_phone!r}", raw_phone=raw_phone)
    if email is None and phone is None:
        raise RejectedError("needs an email or a phone number")
    if len(name) > MAX_NAME_LENGTH:
        raise RejectedError("name longer than {limit} characters", limit=MAX_NAME_LENGTH)
    if len(tier) > MAX_TIER_LENGTH:
        raise RejectedError("tier longer than {limit} characters", limit=MAX_TIER_LENGTH)

    by_email = _find(session, "email", email)
    by_phone = _find(session, "phone", phone)
    if by_email is not None and by_phone is not None and by_email.id != by_phone.id:
        raise RejectedError(
            "{email} and {phone} belong to two different customers", email=email, phone=phone
        )
    customer = by_email or by_phone
    created = customer is None
    if customer is None:
        customer = Customer(email=email, phone=phone, name=name)
        session.add(customer)
    before = (customer.email, customer.phone, customer.name, customer.tier)
    if email is not None and customer.email is None:
        customer.email = email
    if phone is not None and customer.phone is None:
        customer.phone = phone
    if name:
        customer.name = name
    if tier == "-":
        customer.tier = None
    elif tier:
        customer.tier = tier.lower()
    # Flushing per row makes later rows in the same file see this one.
    session.flush()
    if created:
        return "created"
    return (
        "unchanged"
        if before == (customer.email, customer.phone, customer.name, customer.tier)
        else "updated"
    )


def _find(session: Session, column: str, value: str | None) -> Customer | None:
    if value is None:
        return None
    return session.scalar(select(Customer).where(getattr(Customer, column) == value))
