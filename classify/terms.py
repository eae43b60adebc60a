"""The terms and phrases of a customer's text, for root-cause analysis (English and Chinese).

A text gives each of its content words once (a document count, so one long mail does not
outweigh many short ones) and the pairs of neighbouring content words as phrases ("cold food",
"外卖送到"). Chinese runs are segmented with jieba; Traditional characters are read as Simplified
and Latin letters case-folded first, so 冷/冷 and Cold/cold count together.
"""

from __future__ import annotations

import re

import jieba

from classify.features import normalize
from classify.language import is_han

MAX_TERMS = 80  # per text: enough for a long complaint, bounded for the tables
MAX_TERM_LENGTH = 80
_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z][a-z'’]*[a-z]|[.,;:!?。，；：！？\n]"
)
_STOP_EN = frozenset(
    "a an the and or but if of to in on at for from with by as is are was were be been being am "
    "it its it's this that these those i i'm i've me my mine we our us you your yours he she they "
    "them their his her do does did doing done have has had having not no nor so very just can "
    "could would will should shall may might must please hi hello dear thanks thank regards there "
    "here what when where how why which who whom whose all any some about into out up down over "
    "under than then too again still also only own same such each other more most few both off "
    "once ever even yet because while until since after before through during against between "
    "get got getting go going went ok okay yes im ive dont didnt doesnt cant wont isnt wasnt "
    "don't didn't doesn't can't won't isn't wasn't aren't haven't hasn't i'd i'll you're we're "
    "they're that's there's let sent send would've etc via per re fw fwd one two".split()
)
_STOP_ZH = frozenset(
    "了 的 是 也 都 很 就 我 你 他 她 它 们 我们 "
    "你们 他们 在 有 和 还 又 吗 呢 吧 啊 呀 哦 嗯 "
    "太 没 不 这 那 个 一 把 被 给 让 对 到 从 向 "
    "与 及 或 而 但 但是 所以 因为 如果 就是 还是 "
    "可以 已经 什么 怎么 这个 那个 这样 那样 一个 一下 "
    "一直 没有 不是 还有 真的 非常 比较 自己 大家 您 "
    "请 谢谢 你好 您好 得 地 着 过 么 之 其 于 为 "
    "以 等 上 下 里 后 前 再 才 只 能 会 要 想 说 "
    "去 来 看 做 用 啦 嘛 哈".split()
)


def _is_break(token: str) -> bool:
    return len(token) == 1 and not token.isalnum()


def _words(text: str) -> list[str | None]:
    """Content words in order; None marks a stop word or punctuation (no phrase across it)."""
    words: list[str | None] = []
    for match in _TOKEN.finditer(normalize(text)):
        token = match.group()
        if _is_break(token):
            words.append(None)
        elif is_han(token[0]):
            for word in jieba.lcut(token, HMM=False):
                words.append(None if word in _STOP_ZH or not word.strip() else word)
        else:
            token = token.replace("’", "'")
            words.append(None if token in _STOP_EN or len(token) < 3 else token)
    return words


def _phrase(first: str, second: str) -> str | None:
    if is_han(first[0]) and is_han(second[0]):
        return first + second
    if not is_han(first[0]) and not is_han(second[0]):
        return f"{first} {second}"
    return None  # a pair across scripts is no phrase


def extract_terms(text: str) -> list[str]:
    """Distinct words and two-word phrases of ``text``, in order of first appearance."""
    words = _words(text)
    seen: dict[str, None] = {}
    for index, word in enumerate(words):
        if word is None:
            continue
        seen.setdefault(word[:MAX_TERM_LENGTH])
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and (phrase := _phrase(word, following)):
            seen.setdefault(phrase[:MAX_TERM_LENGTH])
        if len(seen) >= MAX_TERMS:
            break
    return list(seen)[:MAX_TERMS]
