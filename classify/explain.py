"""Readable reasons behind the learned decisions: the terms that pushed the topic or the
complaint decision, as an agent would quote them."""

from __future__ import annotations

from classify.model import TextModel, Tokens
from classify.signals import says_not_a_complaint

TOP_TERMS = 3


def top_terms(model: TextModel, tokens: Tokens, label: str, k: int = TOP_TERMS) -> list[str]:
    """Up to ``k`` words of the message that pushed the model towards ``label`` the most.

    Word pairs win over their single words, suffix-stripped variants and jieba's markers are
    shown as the words they came from, and terms that pushed against the label are left out.
    """
    picked: list[str] = []
    for term, weight in model.term_contributions(tokens, label):
        if weight <= 0 or len(picked) >= k:
            break
        shown = term.replace("#", "")
        if shown not in tokens[0] and "#" + shown not in tokens[0] and " " not in shown:
            # a suffix-stripped variant ("refund" from "refunds"): show a word that was there
            shown = next((w for w in tokens[0] if w.startswith(shown) and " " not in w), shown)
        if any(shown in p or p in shown for p in picked) or not shown.strip("0"):
            continue
        picked.append(shown)
    return picked


def topic_reasons(model: TextModel, tokens: Tokens, label: str) -> tuple[str, ...]:
    if label not in model.labels:
        return ()
    terms = top_terms(model, tokens, label)
    return (f"{label}: " + ", ".join(f"'{t}'" for t in terms),) if terms else ()


def complaint_reasons(
    model: TextModel, tokens: Tokens, complaint: bool, text: str
) -> tuple[str, ...]:
    framing = says_not_a_complaint(text)
    if framing and not complaint:
        return (f"says '{framing}'",)
    terms = top_terms(model, tokens, "yes" if complaint else "no")
    if not terms:
        return ()
    return (
        ("complaint: " if complaint else "not a complaint: ") + ", ".join(f"'{t}'" for t in terms),
    )
