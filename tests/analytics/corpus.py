"""A realistic background of customer texts from ../shared/data, and the injected "cold food" theme.

Background: the triage dev set (real English and Chinese messages with their topic and complaint
labels), Chinese shopping reviews (delivery complaints as ``service_issue``, other negative
reviews as ``product_issue``, positive ones as ``other``), CFPB complaint narratives about
customer service, and BANKING77 questions as ``inquiry``. The injected signal is written here,
and only here: complaints that take-away food arrived late and cold, in Chinese and English.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from itertools import product
from pathlib import Path

DELIVERY_WORDS = ("快递", "物流", "送货")


@dataclass(frozen=True)
class Text:
    text: str
    topic: str
    complaint: bool
    language: str


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def background(shared_data: Path, seed: int = 7) -> list[Text]:
    rng = random.Random(seed)
    texts = [
        Text(r["text"], r["topic"], r["complaint"] == "yes", r["lang"])
        for r in _csv(shared_data / "triage" / "dev_240.csv")
    ]
    reviews = _csv(
        shared_data / "text_classification" / "zh-ChineseNlpCorpus" / "online_shopping_10_cats.csv"
    )
    rng.shuffle(reviews)
    delivery = [
        r for r in reviews if r["label"] == "0" and any(w in r["review"] for w in DELIVERY_WORDS)
    ]
    negative = [
        r
        for r in reviews
        if r["label"] == "0" and not any(w in r["review"] for w in DELIVERY_WORDS)
    ]
    positive = [r for r in reviews if r["label"] == "1"]
    texts += [Text(r["review"][:400], "service_issue", True, "zh") for r in delivery[:120]]
    texts += [Text(r["review"][:400], "product_issue", True, "zh") for r in negative[:80]]
    texts += [Text(r["review"][:400], "other", False, "zh") for r in positive[:60]]
    cfpb = _csv(
        shared_data / "text_classification" / "en-cfpb-complaints-sample" / "complaints_sample.csv"
    )
    service = [
        r["Consumer complaint narrative"]
        for r in cfpb
        if r["Consumer complaint narrative"].strip()
        and "service" in r["Issue"].lower() + r["Sub-issue"].lower()
    ]
    texts += [Text(t[:600], "service_issue", True, "en") for t in service[:80]]
    banking = _csv(shared_data / "text_classification" / "en-banking77" / "train.csv")
    rng.shuffle(banking)
    texts += [Text(r["text"], "inquiry", False, "en") for r in banking[:80]]
    return texts


_ZH = (
    "外卖送到都凉了",
    "外卖送到的时候{dish}都凉了，等了{delay}",
    "点的{dish}迟到了{delay}，送来全凉了",
    "外卖又晚了{delay}，{dish}都凉透了",
    "送餐太慢，{dish}到手已经凉了，等了{delay}",
)
_ZH_DISHES = ("米饭", "面条", "披萨", "汉堡", "饺子", "汤", "炒饭", "麻辣烫")
_ZH_DELAYS = ("半小时", "一个小时", "四十分钟", "五十分钟", "一个半小时")
_EN = (
    "My takeout arrived cold and {delay} late",
    "The {dish} delivery was {delay} late and the food was cold",
    "Order came {delay} late again, the {dish} was stone cold",
    "Food delivered {delay} late, {dish} completely cold when it arrived",
    "Delivery took forever ({delay} late) and my {dish} arrived cold",
)
_EN_DISHES = ("pizza", "noodles", "burger", "rice", "soup", "curry", "dumplings", "fries")
_EN_DELAYS = ("an hour", "40 minutes", "50 minutes", "half an hour", "90 minutes")


def cold_food_complaints(count: int = 150, seed: int = 11) -> list[Text]:
    """``count`` complaints that the food came late and cold, half Chinese, half English."""
    rng = random.Random(seed)
    zh = [t.format(dish=d, delay=w) for t, d, w in product(_ZH, _ZH_DISHES, _ZH_DELAYS)]
    en = [t.format(dish=d, delay=w) for t, d, w in product(_EN, _EN_DISHES, _EN_DELAYS)]
    zh, en = sorted(set(zh)), sorted(set(en))
    picked = rng.sample(zh, count // 2) + rng.sample(en, count - count // 2)
    return [
        Text(t, "service_issue", True, "zh" if i < count // 2 else "en")
        for i, t in enumerate(picked)
    ]
