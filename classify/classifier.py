"""The classifier the worker calls: rules first, then the learned models, then priority."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classify.language import detect_language
from classify.model import ModelFormatError, TextModel, Tokens
from classify.priority import PriorityInput, PriorityPolicy, prioritize
from classify.rules import RuleDefinition, RuleFields, apply_rules
from classify.taxonomy import FALLBACK_CATEGORY
from intake.domain import CustomerType, Priority, Sentiment

log = logging.getLogger(__name__)

_SUPPORTED_LANGUAGES = frozenset({"en", "zh-Hans", "zh-Hant"})
MODEL_TEXT_LIMIT = 20_000  # characters


@dataclass(frozen=True)
class TicketText:
    """What the classifier sees of one inbound message (voicemail: the transcript as body)."""

    subject: str
    body: str
    channel: str  # "email" | "voicemail"
    sender: str
    mailbox: str | None = None
    customer_tier: str | None = None
    customer_type: CustomerType = CustomerType.POTENTIAL
    recent_contacts_7d: int = 1  # this customer's messages in the last 7 days, this one included
    is_reply: bool = False

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}".strip()


@dataclass(frozen=True)
class Classification:
    category: str
    category_confidence: float
    priority: Priority
    priority_reasons: tuple[str, ...]
    sentiment: Sentiment
    sentiment_score: float  # P(positive) - P(negative), in [-1, 1]
    language: str  # "en", "zh-Hans", "zh-Hant", another ISO 639-1 code, or "und"
    confidence: float
    needs_review: bool
    group: str | None
    tags: tuple[str, ...]
    rule_names: tuple[str, ...]


class Classifier:
    """A category and a sentiment model; ``classify`` only reads them, so threads may share one."""

    def __init__(
        self,
        category_model: TextModel,
        sentiment_model: TextModel,
        *,
        policy: PriorityPolicy | None = None,
        review_below: float = 0.5,
    ) -> None:
        if category_model.task != "category":
            raise ValueError(f"category model has task {category_model.task!r}")
        if sentiment_model.task != "sentiment":
            raise ValueError(f"sentiment model has task {sentiment_model.task!r}")
        missing = {"negative", "positive"} - set(sentiment_model.labels)
        if missing:
            raise ValueError(f"sentiment model lacks labels {sorted(missing)}")
        self.category_model = category_model
        self.sentiment_model = sentiment_model
        self.policy = policy or PriorityPolicy()
        self.review_below = review_below
        self._positive = sentiment_model.labels.index("positive")
        self._negative = sentiment_model.labels.index("negative")

    @classmethod
    def default(cls) -> Classifier:
        """The shipped pre-trained models, loaded once per process."""
        global _default
        with _default_lock:
            if _default is None:
                _default = _load_default(cls)
            return _default

    @classmethod
    def from_bytes(cls, category_model: bytes, sentiment_model: bytes) -> Classifier:
        """Raises ``ModelFormatError`` for bytes that are not a loadable model."""
        return cls(TextModel.from_bytes(category_model), TextModel.from_bytes(sentiment_model))

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.category_model.to_bytes(), self.sentiment_model.to_bytes()

    def with_models(
        self, category_model: TextModel | None = None, sentiment_model: TextModel | None = None
    ) -> Classifier:
        return Classifier(
            category_model or self.category_model,
            sentiment_model or self.sentiment_model,
            policy=self.policy,
            review_below=self.review_below,
        )

    def classify(
        self,
        item: TicketText,
        rules: Sequence[RuleDefinition] = (),
        categories: Sequence[str] | None = None,
    ) -> Classification:
        """Classify one message; ``categories`` are the active ones (default: all known)."""
        text = item.text
        language = detect_language(text)
        sender = item.sender.strip()
        outcome = apply_rules(
            rules,
            RuleFields(
                channel=item.channel,
                mailbox=item.mailbox or "",
                sender=sender,
                sender_domain=sender.rpartition("@")[2] if "@" in sender else "",
                subject=item.subject,
                body=item.body,
                language=language,
                customer_tier=item.customer_tier or "",
            ),
        )
        if text:
            # The models read the start of very long mails only (pasted logs, long threads):
            # the topic is there, and scoring time stays bounded. Rules and threats see it all.
            head = text[:MODEL_TEXT_LIMIT]
            tokens = self.category_model.tokens(head)
            category, category_confidence = self._category(tokens, categories)
            if self.sentiment_model.spec != self.category_model.spec:
                tokens = self.sentiment_model.tokens(head)
            sentiment, sentiment_score = self._sentiment(tokens)
        else:
            category, category_confidence = _fallback(categories), 0.0
            sentiment, sentiment_score = Sentiment.NEUTRAL, 0.0
        if outcome.category is not None:
            category, category_confidence = outcome.category, 1.0
        priority, reasons = prioritize(
            PriorityInput(
                text=text,
                category=category,
                sentiment_score=sentiment_score,
                channel=item.channel,
                customer_tier=item.customer_tier,
                customer_type=item.customer_type,
                recent_contacts_7d=item.recent_contacts_7d,
            ),
            self.policy,
        )
        rule_reasons = tuple(f"rule '{name}'" for name in outcome.rule_names)
        if outcome.priority is not None:
            priority = outcome.priority
        needs_review = outcome.category is None and (
            category_confidence < self.review_below or language not in _SUPPORTED_LANGUAGES
        )
        return Classification(
            category=category,
            category_confidence=round(category_confidence, 4),
            priority=priority,
            priority_reasons=rule_reasons + reasons,
            sentiment=sentiment,
            sentiment_score=round(sentiment_score, 4),
            language=language,
            confidence=round(category_confidence, 4),
            needs_review=needs_review,
            group=outcome.group,
            tags=outcome.tags,
            rule_names=outcome.rule_names,
        )

    def _category(self, tokens: Tokens, categories: Sequence[str] | None) -> tuple[str, float]:
        probs = self.category_model.proba_tokens(tokens)
        labels = self.category_model.labels
        allowed = set(categories) if categories is not None else set(labels)
        for i in np.argsort(-probs):
            if labels[i] in allowed:
                return labels[i], float(probs[i])
        return _fallback(categories), 0.0

    def _sentiment(self, tokens: Tokens) -> tuple[Sentiment, float]:
        probs = self.sentiment_model.proba_tokens(tokens)
        label = self.sentiment_model.labels[int(probs.argmax())]
        score = float(probs[self._positive] - probs[self._negative])
        return Sentiment(label), max(-1.0, min(1.0, score))


def _fallback(categories: Sequence[str] | None) -> str:
    if categories is None or FALLBACK_CATEGORY in categories or not categories:
        return FALLBACK_CATEGORY
    return categories[0]


_default: Classifier | None = None
_default_lock = threading.Lock()


def _load_default(cls: type[Classifier]) -> Classifier:
    from classify import shipped

    try:
        return cls.from_bytes(
            shipped.CATEGORY_MODEL_FILE.read_bytes(), shipped.SENTIMENT_MODEL_FILE.read_bytes()
        )
    except (OSError, ModelFormatError) as exc:
        # The shipped training data is always present, so a model file that this environment
        # cannot use is rebuilt (about ten seconds) instead of failing the worker.
        log.warning("rebuilding the default classifier from shipped data: %s", exc)
        category, sentiment = shipped.build_default_models()
        return cls(category, sentiment)
