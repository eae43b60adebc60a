"""The classifier the worker calls: rules first, then the learned models, then priority.

Four models read the same features of a message (TF-IDF counts and one sentence embedding,
each computed once): the topic (``category``), whether it is a complaint, the sentiment and the
priority level. Rules and context phrases then adjust priority (``classify.priority``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classify import shipped
from classify.explain import complaint_reasons, topic_reasons
from classify.language import detect_language
from classify.model import FloatArray, ModelFormatError, TextModel, Tokens
from classify.priority import PriorityInput, PriorityPolicy, prioritize
from classify.rules import RuleDefinition, RuleFields, apply_rules
from classify.signals import says_not_a_complaint
from classify.taxonomy import FALLBACK_CATEGORY
from intake.domain import CustomerType, Priority, Sentiment

log = logging.getLogger(__name__)

_SUPPORTED_LANGUAGES = frozenset({"en", "zh-Hans", "zh-Hant"})
MODEL_TEXT_LIMIT = 20_000  # characters
# Measured on the shipped topic model (tests/bench/bench_classify.py): below this calibrated
# probability the topic is wrong more often than right.
REVIEW_BELOW = 0.4


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
    complaint: bool = False
    complaint_confidence: float = 0.0  # P(the decision taken), in [0.5, 1]
    complaint_reasons: tuple[str, ...] = ()
    category_reasons: tuple[str, ...] = ()  # the terms behind the topic


class Classifier:
    """Topic, sentiment and (optionally) complaint and priority models; ``classify`` only reads
    them, so threads may share one.

    Without a complaint model, a negative tone counts as a complaint; without a priority model,
    priority comes from points (``classify.priority``). ``review_below``: a topic less likely
    than this (calibrated probability) is flagged ``needs_review``.
    """

    def __init__(
        self,
        category_model: TextModel,
        sentiment_model: TextModel,
        *,
        complaint_model: TextModel | None = None,
        priority_model: TextModel | None = None,
        policy: PriorityPolicy | None = None,
        review_below: float = REVIEW_BELOW,
    ) -> None:
        for model, task in (
            (category_model, "category"),
            (sentiment_model, "sentiment"),
            (complaint_model, "complaint"),
            (priority_model, "priority"),
        ):
            if model is not None and model.task != task:
                raise ValueError(f"{task} model has task {model.task!r}")
        missing = {"negative", "positive"} - set(sentiment_model.labels)
        if missing:
            raise ValueError(f"sentiment model lacks labels {sorted(missing)}")
        if complaint_model is not None and set(complaint_model.labels) != {"yes", "no"}:
            raise ValueError(f"complaint model has labels {complaint_model.labels}, not yes/no")
        self.category_model = category_model
        self.sentiment_model = sentiment_model
        self.complaint_model = complaint_model
        self.priority_model = priority_model
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
    def from_bytes(
        cls,
        category_model: bytes,
        sentiment_model: bytes,
        complaint_model: bytes | None = None,
        priority_model: bytes | None = None,
    ) -> Classifier:
        """Raises ``ModelFormatError`` for bytes that are not a loadable model. A complaint or
        priority model not given is left out (see the class docstring)."""
        return cls(
            TextModel.from_bytes(category_model),
            TextModel.from_bytes(sentiment_model),
            complaint_model=TextModel.from_bytes(complaint_model) if complaint_model else None,
            priority_model=TextModel.from_bytes(priority_model) if priority_model else None,
        )

    def to_bytes(self) -> tuple[bytes, bytes]:
        """The topic and sentiment models (see ``models_to_bytes`` for all of them)."""
        return self.category_model.to_bytes(), self.sentiment_model.to_bytes()

    def models_to_bytes(self) -> tuple[bytes, bytes, bytes | None, bytes | None]:
        """All four models in ``from_bytes`` order; None where a model is absent."""
        return (
            self.category_model.to_bytes(),
            self.sentiment_model.to_bytes(),
            self.complaint_model.to_bytes() if self.complaint_model else None,
            self.priority_model.to_bytes() if self.priority_model else None,
        )

    def with_models(
        self,
        category_model: TextModel | None = None,
        sentiment_model: TextModel | None = None,
        *,
        complaint_model: TextModel | None = None,
        priority_model: TextModel | None = None,
    ) -> Classifier:
        """A copy with the given models replaced (e.g. a retrained priority model)."""
        return Classifier(
            category_model or self.category_model,
            sentiment_model or self.sentiment_model,
            complaint_model=complaint_model or self.complaint_model,
            priority_model=priority_model or self.priority_model,
            policy=self.policy,
            review_below=self.review_below,
        )

    @property
    def models(self) -> tuple[TextModel, ...]:
        return tuple(
            m
            for m in (
                self.category_model,
                self.sentiment_model,
                self.complaint_model,
                self.priority_model,
            )
            if m is not None
        )

    def classify(
        self,
        item: TicketText,
        rules: Sequence[RuleDefinition] = (),
        categories: Sequence[str] | None = None,
    ) -> Classification:
        """Classify one message; ``categories`` are the active ones (default: all known)."""
        return self._classify(item, rules, categories, None)

    def classify_many(
        self,
        items: Sequence[TicketText],
        rules: Sequence[RuleDefinition] = (),
        categories: Sequence[str] | None = None,
    ) -> list[Classification]:
        """:meth:`classify` for several messages, encoding their sentences in one encoder call
        (about 2.5x cheaper a message than one call each; tests/classify shows the same
        results as one by one)."""
        heads = [item.text[:MODEL_TEXT_LIMIT] for item in items]
        encoders = {m.embedding: m for m in self.models if m.embedding is not None}
        encoded = {name: model.embed([h for h in heads if h]) for name, model in encoders.items()}
        results = []
        row = 0
        for item, head in zip(items, heads, strict=True):
            vectors = None
            if head:
                vectors = {name: rows[row] for name, rows in encoded.items() if rows is not None}
                row += 1
            results.append(self._classify(item, rules, categories, vectors))
        return results

    def _classify(
        self,
        item: TicketText,
        rules: Sequence[RuleDefinition],
        categories: Sequence[str] | None,
        vectors: dict[str, FloatArray] | None,
    ) -> Classification:
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
        complaint, complaint_p = False, 0.5
        complaint_why: tuple[str, ...] = ()
        category_why: tuple[str, ...] = ()
        level_probs: dict[str, float] | None = None
        if text:
            # The models read the start of very long mails only (pasted logs, long threads):
            # the topic is there, and scoring time stays bounded. Rules and threats see it all.
            head = text[:MODEL_TEXT_LIMIT]
            features = _Features(head, self.models, vectors)
            tokens, vector = features.of(self.category_model)
            category, category_confidence = self._category(tokens, vector, categories)
            category_why = topic_reasons(self.category_model, tokens, category, head)
            sentiment, sentiment_score = self._sentiment(*features.of(self.sentiment_model))
            complaint, complaint_p, complaint_why = self._complaint(
                features, head, sentiment, sentiment_score
            )
            if self.priority_model is not None:
                probs = self.priority_model.proba_tokens(*features.of(self.priority_model))
                level_probs = {
                    label: float(p)
                    for label, p in zip(self.priority_model.labels, probs, strict=True)
                }
        else:
            category, category_confidence = _fallback(categories), 0.0
            sentiment, sentiment_score = Sentiment.NEUTRAL, 0.0
        if outcome.category is not None:
            category, category_confidence = outcome.category, 1.0
            category_why = ()
        if outcome.complaint is not None:
            complaint, complaint_p = outcome.complaint, 1.0
            complaint_why = tuple(f"rule '{name}'" for name in outcome.rule_names)
        priority, reasons = prioritize(
            PriorityInput(
                text=text,
                category=category,
                sentiment_score=sentiment_score,
                channel=item.channel,
                customer_tier=item.customer_tier,
                customer_type=item.customer_type,
                recent_contacts_7d=item.recent_contacts_7d,
                complaint=complaint,
                level_probs=level_probs,
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
            complaint=complaint,
            complaint_confidence=round(complaint_p, 4),
            complaint_reasons=complaint_why,
            category_reasons=category_why,
        )

    def _complaint(
        self, features: _Features, head: str, sentiment: Sentiment, score: float
    ) -> tuple[bool, float, tuple[str, ...]]:
        """Complaint or not, the probability of that decision, and its reasons."""
        if self.complaint_model is None:
            complaint = sentiment is Sentiment.NEGATIVE
            return complaint, 0.5 + abs(score) / 2, ("negative tone",) if complaint else ()
        tokens, vector = features.of(self.complaint_model)
        probs = self.complaint_model.proba_tokens(tokens, vector)
        p_yes = float(probs[self.complaint_model.labels.index("yes")])
        complaint = p_yes >= 0.5
        if complaint and says_not_a_complaint(head) and p_yes < 0.9:
            # "This isn't a complaint, just…": the customer's framing wins unless the text is
            # plainly a grievance.
            complaint = False
        reasons = complaint_reasons(self.complaint_model, tokens, complaint, head)
        # Overruled by the customer's framing, the decision is at least a coin toss.
        return complaint, p_yes if complaint else max(1.0 - p_yes, 0.5), reasons

    def _category(
        self, tokens: Tokens, vector: FloatArray | None, categories: Sequence[str] | None
    ) -> tuple[str, float]:
        probs = self.category_model.proba_tokens(tokens, vector)
        labels = self.category_model.labels
        allowed = set(categories) if categories is not None else set(labels)
        for i in np.argsort(-probs):
            if labels[i] in allowed:
                return labels[i], float(probs[i])
        return _fallback(categories), 0.0

    def _sentiment(self, tokens: Tokens, vector: FloatArray | None) -> tuple[Sentiment, float]:
        probs = self.sentiment_model.proba_tokens(tokens, vector)
        label = self.sentiment_model.labels[int(probs.argmax())]
        score = float(probs[self._positive] - probs[self._negative])
        return Sentiment(label), max(-1.0, min(1.0, score))


class _Features:
    """Each feature set a message needs, computed once: analyzer output per ``FeatureSpec`` and
    one sentence vector per encoder, shared by the models that read them."""

    def __init__(
        self,
        text: str,
        models: Sequence[TextModel],
        vectors: dict[str, FloatArray] | None = None,
    ) -> None:
        self._text = text
        self._tokens: dict[object, Tokens] = {}
        # Given: encoded with other messages in one call (Classifier.classify_many).
        self._vectors: dict[str, FloatArray] = dict(vectors or {})
        encoders = {m.embedding: m for m in models if m.embedding is not None}
        for name, model in encoders.items():
            if name in self._vectors:
                continue
            embedded = model.embed([text])
            assert embedded is not None
            self._vectors[name] = embedded[0]

    def of(self, model: TextModel) -> tuple[Tokens, FloatArray | None]:
        tokens = self._tokens.get(model.spec)
        if tokens is None:
            tokens = self._tokens[model.spec] = model.tokens(self._text)
        return tokens, self._vectors.get(model.embedding) if model.embedding else None


def _fallback(categories: Sequence[str] | None) -> str:
    if categories is None or FALLBACK_CATEGORY in categories or not categories:
        return FALLBACK_CATEGORY
    return categories[0]


_default: Classifier | None = None
_default_lock = threading.Lock()


def _load_default(cls: type[Classifier]) -> Classifier:
    try:
        files = shipped.MODEL_FILES
        return cls.from_bytes(*(files[t].read_bytes() for t in shipped.MODEL_TASKS))
    except (OSError, ModelFormatError) as exc:
        # The shipped training data is always present, so a model file that this environment
        # cannot use is rebuilt (about a minute) instead of failing the worker.
        log.warning("rebuilding the default classifier from shipped data: %s", exc)
        models = shipped.build_default_models()
        return cls(
            models["category"],
            models["sentiment"],
            complaint_model=models["complaint"],
            priority_model=models["priority"],
        )
