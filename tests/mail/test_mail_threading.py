import pytest

from intake.mail.threading import extract_ticket_tag, normalize_subject


def test_ticket_tag_anywhere_in_subject_is_found() -> None:
    assert extract_ticket_tag("Re: printer broken [#123] again") == 123
    assert extract_ticket_tag("[#7] first [#8] second") == 7


def test_subject_without_ticket_tag_has_none() -> None:
    assert extract_ticket_tag("Order #123 [123]") is None
    assert extract_ticket_tag("") is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Printer broken", "Printer broken"),
        ("RE: Fwd: re: Printer broken", "Printer broken"),
        ("AW: WG: Drucker kaputt", "Drucker kaputt"),
        ("回复：打印机坏了", "打印机坏了"),
        ("答复: 转发: 打印机坏了", "打印机坏了"),
        ("Re[2]: Printer broken", "Printer broken"),
        ("Re: [#42] Printer broken", "Printer broken"),
        ("[#42] Re: Printer broken", "Printer broken"),
        ("Regarding: the invoice", "Regarding: the invoice"),
        ("  ", ""),
    ],
)
def test_normalize_subject_strips_reply_prefixes_and_ticket_tags(
    subject: str, expected: str
) -> None:
    assert normalize_subject(subject) == expected
