import pytest

from intake.mail.quotes import split_reply


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, 3 Jun 2024 at 10:00, Alice Smith <alice@example.com> wrote:\n> old text",
        "On Mon, 3 Jun 2024 at 10:00, Alice Smith <alice@example.com>\nwrote:\n> old text",
        "-----Original Message-----\nFrom: Alice\nSent: Monday\nTo: Bob\nSubject: x\n\nold text",
        "________________________________\nFrom: Alice\nSent: Monday\nold text",
        "From: Alice <alice@example.com>\nSent: Monday, June 3, 2024 10:00\nTo: Bob\n"
        "Subject: Re: x\n\nold text",
        "Am 03.06.2024 um 10:00 schrieb Alice <alice@example.com>:\n> alter Text",
        "-----Ursprüngliche Nachricht-----\nVon: Alice\nGesendet: Montag\nold",
        "Von: Alice\nGesendet: Montag, 3. Juni 2024\nAn: Bob\nBetreff: x\nold",
        "Le lun. 3 juin 2024 à 10:00, Alice <alice@example.com> a écrit :\n> vieux",
        "De : Alice\nEnvoyé : lundi 3 juin 2024\nÀ : Bob\nObjet : x\nvieux",
        "El lun, 3 jun 2024 a las 10:00, Alice (<alice@example.com>) escribió:\n> viejo",
        "在 2024年6月3日 10:00，Alice <alice@example.com> 写道：\n> 旧内容",
        "------------------ 原始邮件 ------------------\n发件人: Alice\n发送时间: 2024年6月3日\n旧",
        "发件人: Alice\n发送时间: 2024年6月3日 10:00\n收件人: Bob\n主题: x\n旧内容",
        "> old text\n> more old text",
        "-- \nBob Example\nSupport Lead",
        "Sent from my iPhone",
    ],
)
def test_reply_history_and_signature_are_split_off(history: str) -> None:
    new, rest = split_reply("Thanks, that fixed it.\n\n" + history)
    assert new == "Thanks, that fixed it."
    assert rest == history


def test_inline_answers_between_quotes_are_kept_whole() -> None:
    text = "> Is the printer on?\nYes it is.\n> Is it plugged in?\nAlso yes."
    assert split_reply(text) == (text, "")


def test_trailing_quote_after_inline_answers_is_split_off() -> None:
    new, rest = split_reply("> Q1?\nA1.\n\n> older history\n> more")
    assert new == "> Q1?\nA1."
    assert rest == "> older history\n> more"


def test_text_without_history_is_returned_unchanged() -> None:
    text = "I wrote: the printer is broken.\nPlease help."
    assert split_reply(text) == (text, "")


def test_message_that_is_only_a_quote_has_empty_new_text() -> None:
    assert split_reply("> everything quoted") == ("", "> everything quoted")


def test_empty_and_crlf_text_is_handled() -> None:
    assert split_reply("") == ("", "")
    assert split_reply("new\r\n-- \r\nsig") == ("new", "-- \nsig")


def test_mobile_signature_right_above_the_quoted_history_is_split_off() -> None:
    text = (
        "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <b@x.example> wrote:\n> Hi"
    )
    assert split_reply(text)[0] == "Hello"


def test_mobile_signature_phrase_followed_by_more_writing_is_kept() -> None:
    text = "Hi\n\nSent from my iPhone\nbut more text follows"
    assert split_reply(text) == (text, "")
