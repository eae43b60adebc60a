"""Classifying several messages with one encoder call gives what one by one gives."""

from __future__ import annotations

from classify import shipped
from classify.classifier import Classifier, TicketText


def test_a_batch_classifies_every_message_as_one_by_one(classifier: Classifier) -> None:
    texts, _, _ = shipped.category_training_set()
    # Every 40th shipped text, both languages, plus the edge cases of a batch: an empty message
    # (no vector) between others, and a long one.
    sample = texts[::40][:60]
    items = [TicketText(subject=t[:60], body=t, channel="email", sender="c@x.org") for t in sample]
    items.insert(3, TicketText(subject="", body="", channel="email", sender=""))
    items.append(
        TicketText(subject="Refund", body="charged twice " * 400, channel="email", sender="")
    )
    one_by_one = [classifier.classify(item) for item in items]
    batch = classifier.classify_many(items)
    assert len(batch) == len(items)
    for single, batched in zip(one_by_one, batch, strict=True):
        assert batched.category == single.category
        assert batched.priority == single.priority
        assert batched.sentiment == single.sentiment
        assert batched.complaint == single.complaint
        assert abs(batched.category_confidence - single.category_confidence) < 1e-3
