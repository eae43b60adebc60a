"""Property-based fuzzing of the MIME parser, seeded with real mail from the shared corpus.

Whatever bytes arrive, ``parse_email`` and ``peek_message_id`` return sane values (never raise),
and agree on the Message-ID: the SMTP path stores a message by the id ``peek_message_id`` gives.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.mail.parse import parse_email, peek_message_id

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "email"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not found")


@cache
def seeds() -> tuple[bytes, ...]:
    with (CORPUS / "INDEX.tsv").open(encoding="utf-8") as index:
        paths = [CORPUS / row["path"] for row in csv.DictReader(index, delimiter="\t")]
    # Small messages keep each example fast; every 7th for variety across the corpus's sources.
    return tuple(data for path in paths[::7] if len(data := path.read_bytes()) < 20_000)


@st.composite
def mutated_mail(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, max(0, len(raw) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "duplicate"]))
        if action == "flip" and raw:
            raw[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del raw[position : position + draw(st.integers(1, 200))]
        elif action == "insert":
            raw[position:position] = draw(
                st.sampled_from(
                    [b"\r\n\r\n", b"--", b"=?utf-8?B?", b"\x00", b"\xff\xfe", b"boundary=", b";"]
                )
            )
        else:
            raw[position:position] = raw[position : position + draw(st.integers(1, 300))]
    return bytes(raw)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(mutated_mail())
def test_mutated_real_mail_always_parses_to_sane_values(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert isinstance(parsed.subject, str) and "\n" not in parsed.subject
    assert isinstance(parsed.text, str) and "\x00" not in parsed.text
    assert parsed.message_id and not parsed.message_id.startswith("<")
    assert all(a.filename and "/" not in a.filename for a in parsed.attachments)
    assert peek_message_id(raw) == parsed.message_id
