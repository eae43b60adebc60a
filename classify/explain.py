"""Readable reasons behind the learned decisions: the words that pushed the topic or the
complaint decision, as an agent would quote them from the message."""

from __future__ import annotations

import re

from classify.features import normalize
from classify.language import is_han
from classify.model import TextModel, Tokens
from classify.signals import says_not_a_complaint

TOP_TERMS = 3
# Function words carry weight in a linear model ("do you" marks a question) but explain
# nothing to an agent.
_STOP = frozenset(
    "a an the and or but if of to in on at for from with by as is are was were be been am it its "
    "this that these those i me my we our you your he she they them their his her do does did "
    "have has had not no so very just can could would will should please hi hello thanks thank "
    "there here what when where how why which who all any some about into out up than then too "
    "again still also".split()
)
_STOP_ZH = frozenset(
    "了 的 是 也 都 很 就 我 你 他 她 它 们 我们 你们 在 有 和 还 又 吗 呢 吧 啊 太 没 不 "
    "这 那 个 一".split()
)


def top_terms(model: TextModel, tokens: Tokens, label: str, k: int = TOP_TERMS) -> list[str]:
    """Up to ``k`` words or phrases of the message that pushed the model towards ``label`` the
    most. Only terms that appear as such in the message are shown (not suffix-stripped stems
    or Chinese character pairs that are no word), without function words, and none that
    pushed against the label."""
    words = tokens[0]
    han_words = {w[1:] for w in words if w.startswith("#") and " " not in w}
    picked: list[str] = []
    for term, weight in model.term_contributions(tokens, label):
        if weight <= 0 or len(picked) >= k:
            break
        shown = _readable(term, han_words)
        if shown is None or any(shown in p or p in shown for p in picked):
            continue
        picked.append(shown)
    return picked


def _readable(term: str, han_words: set[str]) -> str | None:
    parts = [p.removeprefix("#") for p in term.split(" ")]
    if any(is_han(p[0]) for p in parts if p):
        # Chinese: jieba's words only (a pair of them reads as a phrase), no function words.
        if not all(p in han_words for p in parts) or all(p in _STOP_ZH for p in parts):
            return None
        return "".join(parts) if len(parts) > 1 else parts[0]
    while parts and parts[0] in _STOP:  # "was charged" -> "charged", "food and" -> "food"
        parts = parts[1:]
    while parts and parts[-1] in _STOP:
        parts = parts[:-1]
    if not parts or any(not p.strip("0") for p in parts):
        return None
    return " ".join(parts)


def _in_text(term: str, folded: str) -> bool:
    if is_han(term[0]):
        return term in folded
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", folded) is not None


def topic_reasons(model: TextModel, tokens: Tokens, label: str, text: str = "") -> tuple[str, ...]:
    if label not in model.labels:
        return ()
    terms = _present(top_terms(model, tokens, label, k=TOP_TERMS * 2), text)[:TOP_TERMS]
    return (f"{label}: " + ", ".join(f"'{t}'" for t in terms),) if terms else ()


def complaint_reasons(
    model: TextModel, tokens: Tokens, complaint: bool, text: str
) -> tuple[str, ...]:
    framing = says_not_a_complaint(text)
    if framing and not complaint:
        return (f"says '{framing}'",)
    label = "yes" if complaint else "no"
    terms = _present(top_terms(model, tokens, label, k=TOP_TERMS * 2), text)[:TOP_TERMS]
    if not terms:
        return ()
    prefix = "complaint: " if complaint else "not a complaint: "
    return (prefix + ", ".join(f"'{t}'" for t in terms),)


def _present(terms: list[str], text: str) -> list[str]:
    """Keep the terms that occur in the message as written (digits were folded to 0 and
    suffixes stripped in the features), when the message is given."""
    if not text:
        return terms
    folded = normalize(text)
    return [t for t in terms if _in_text(t, folded)]
