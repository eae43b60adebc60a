"""Phrases that raise a ticket's priority, read in context.

A word alone never decides. Each cue is a pattern that names the situation, not just a word
("caught fire", not "fire"; "my lawyer", not "attorney"), and a hit is dropped when

* it is negated in its own clause ("I will not sue", "不是要去打12315", "no smoke"),
* it is a known idiom or praise ("hurt my credit score", "this blender is a killer", "杀疯了",
  "上火"), listed in ``_IDIOMS``, or
* it concerns someone else ("the address of their attorneys", "regulatory reporting").

Chinese has no spaces, so its cues are plain substrings (with their own idiom list); English
cues are regexes on ASCII word boundaries over the text ``classify.features.normalize`` gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classify.features import normalize

# fmt: off
_URGENT: dict[str, tuple[str, ...]] = {
    "safety": (
        r"caught (?:on )?fire", r"(?:is|was|went|go) up in flames", r"burst into flames", r"flames",
        r"(?:start(?:ed|s)?|began|begun) (?:to )?(?:smoke|smoking|burn\w*)",
        r"smok(?:e|ed|ing) (?:came|coming|started|poured|pouring)", r"(?:smoke|smoking) from",
        r"(?:was|is|were|are|it's|kept|keeps) smoking",
        r"smell(?:s|ed)? (?:of )?(?:burning|smoke|gas)",
        r"(?:on|set|started a|caused a|causing a|a) fire\b"
        r"(?! (?:alarm|brigade|door|exit|sale|drill))",
        r"explod(?:e|ed|es|ing)", r"explosion", r"blew up", r"spark(?:s|ed|ing)",
        r"electric(?:al)? shock", r"got (?:a|an) (?:electric )?shock", r"electrocut\w*",
        r"gave (?:me|him|her|my \w+) (?:a|an) (?:electric )?shock", r"live wire",
        r"injur(?:y|ies|ed)", r"(?:hurt|cut|burn(?:ed|t)?|scald(?:ed)?) (?:my|his|her|their|our) "
        r"(?:hand|arm|leg|foot|face|finger|back|head|eye|skin|mouth|neck)\w*",
        r"scald(?:ed|ing)?", r"blisters?", r"bleeding", r"(?:went|go|gone|taken|rushed) to "
        r"(?:the )?(?:hospital|a&e|er|emergency room)", r"in (?:the )?hospital", r"hospitali[sz]ed",
        r"food poisoning", r"poison(?:ed|ing|ous)?", r"vomit\w*", r"throwing up", r"threw up",
        r"diarrh\w*", r"allergic reaction", r"anaphyla\w*", r"chok(?:e|ed|ing)",
        r"gas leak", r"(?:raw|undercooked|uncooked) (?:chicken|pork|meat|beef|in the middle)",
        r"(?:glass|metal|plastic|hair|insect|bug|worm|cockroach|roach|maggot|stone|screw|nail)"
        r"(?:s)? (?:in|inside) (?:the |my |our |a )?(?:food|meal|salad|soup|bread|burger|pizza|"
        r"sandwich|drink|yoghurt|yogurt|rice|cereal|box|dish|order)",
        r"(?:dead )?(?:cockroach|roach|maggots?) (?:in|inside)", r"brake(?:s)? failed",
        r"collapsed", r"danger(?:ous)? (?:to|for) (?:my |our |a )?(?:child|children|kid|baby)",
        r"(?:child|son|daughter|baby|kid|toddler|he|she) (?:has |had )?swallowed",
    ),
    "legal": (
        r"my (?:lawyer|attorney|solicitor)s?", r"our (?:lawyer|attorney|solicitor|legal team)s?",
        r"(?:hired|retained|instructed|contacted|consulted|engaged|speaking to|spoken to|talk to|"
        r"talking to|get|getting) (?:a |an |my )?(?:lawyer|attorney|solicitor)s?",
        r"(?:will|going to|gonna|am going to|shall|intend to|plan to) sue",
        r"sue (?:you|your|them)",
        r"suing", r"lawsuit", r"legal (?:action|proceedings)", r"proceedings against",
        r"take (?:you|this|your company|them) to court", r"small claims", r"court claim",
        r"class action", r"file (?:a )?(?:claim|suit) in court",
    ),
    "regulator": (
        r"cfpb", r"consumer financial protection bureau", r"attorney general", r"ftc",
        r"federal trade commission", r"ombudsman", r"trading standards", r"better business bureau",
        r"bbb", r"(?:report(?:ed|ing)?|complain(?:ed|ing)?) (?:you |this |it )?to (?:the )?"
        r"(?:regulator|authorities|fca|occ|fdic|fcc|state)", r"police report",
        r"(?:called|contacted|"
        r"told|reported (?:it |this |them )?to) the police", r"filed (?:a )?(?:report|complaint) "
        r"with the (?:police|state|regulator)",
    ),
    "media": (
        r"journalists?", r"reporters?", r"newspapers?", r"(?:to|tell|told|contact(?:ed)?) the "
        r"(?:press|media|news)", r"tv station", r"news channel",
        r"(?:post|posting|share|sharing|put|putting|expose|tell)\w* (?:\w+ ){0,4}(?:on|to) "
        r"(?:social media|twitter|facebook|instagram|tiktok|reddit|youtube)", r"go(?:ing)? public",
        r"go viral",
    ),
    "fraud": (
        r"(?:payment|transaction|charge|purchase|withdrawal|transfer)s? (?:\S+ ){0,4}?"
        r"(?:that |which )?(?:i|we) "
        r"(?:did not|didn't|never) (?:make|made|authori[sz]e|approve)",
        r"(?:did not|didn't|never) (?:make|authori[sz]e|approve) (?:this|these|that|those|the|a|"
        r"any)? ?(?:payment|transaction|charge|purchase|withdrawal|transfer)s?",
        r"unauthori[sz]ed "
        r"(?:charge|payment|transaction|withdrawal|purchase|transfer|access|login)s?",
        r"someone (?:else )?(?:is |has been |might be |may be )?(?:using|logging|logged|"
        r"accessing|accessed|stealing|stole|took|taking)",
        r"(?:account|card|phone|email) (?:was |has been |got |is )?"
        r"(?:hacked|taken over|compromised)",
        r"i (?:was|got|have been) scammed", r"(?:paid|sent|transferred) (?:\S+ ){0,4}(?:to )?"
        r"(?:a |the )?scam\w*", r"pretending to be", r"stolen (?:card|phone)",
        r"(?:card|phone|wallet) (?:was |has been |got )?stolen",
        r"threat(?:en(?:ed|ing|s)?)? (?:me |us )?(?:with |of )?(?:arrest|jail|prison|police)",
    ),
    "stop payment": (
        r"(?:sent|transferred|paid) (?:\S+ ){0,4}to the wrong",
        r"wrong (?:account|recipient|person)",
        r"(?:stop|cancel|recall|reverse) (?:the|this|my|that) (?:transfer|payment)",
    ),
}
_URGENT_ZH: dict[str, tuple[str, ...]] = {
    "safety": (
        "着火", "起火", "失火", "火灾", "冒烟", "冒火", "火花", "爆炸", "炸了", "自燃", "漏电",
        "触电",
        "被电", "电到", "电了一下", "受伤", "烫伤", "烧伤", "割伤", "划伤", "流血", "骨折", "中毒",
        "拉肚子", "腹泻", "上吐下泻", "呕吐", "住院", "送医", "医院", "急诊", "过敏", "漏气",
        "煤气味", "燃气泄漏", "异物", "蟑螂", "虫子", "苍蝇", "是生的", "半生", "没熟", "没煮熟",
        "噎",
        "误吞", "吞下", "刹车失灵", "塌了",
    ),
    "legal": ("律师", "起诉", "法院", "诉讼", "法律途径", "法律手段", "打官司", "告你们", "告到"),
    "regulator": (
        "12315", "12345", "消协", "消费者协会", "工商局", "市场监管", "监管部门", "银保监", "报警",
        "派出所", "投诉到", "举报",
    ),
    "media": ("媒体", "曝光", "记者", "电视台", "发微博", "上热搜", "发抖音", "发到网上",
    "网上曝光"),
    "fraud": (
        "盗刷", "账户被盗", "账号被盗", "卡被盗", "被盗刷", "盗号", "非本人", "不是我本人",
        "不是本人",
        "不是我操作", "诈骗", "冒充", "威胁我",
    ),
    "stop payment": ("转错", "撤回", "拦截", "打错账户", "汇错"),
}
# Food words that make 头发 / 石头 / 玻璃 / 铁丝 a foreign object in food.
_FOOD_ZH = re.compile("[吃饭菜面汤粥肉饼包奶饮料外卖食品零食蛋糕米]")
_FOOD_OBJECTS_ZH = ("头发", "石头", "石子", "沙子", "玻璃", "铁丝", "钢丝", "塑料")
_HIGH: dict[str, tuple[str, ...]] = {
    "repeat contact": (
        r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th) time", r"(?:called|emailed|written|wrote|"
        r"contacted|asked|chased|phoned|rang|messaged|complained|disputed|tried|requested) "
        r"(?:\S+ ){0,3}(?:\d+|two|three|four|five|six|several|many|multiple|numerous|countless) "
        r"times", r"(?:\d+|two|three|four|five|six|several|many|multiple|numerous|countless) "
        r"(?:phone calls|calls|emails|letters|messages|complaints|disputes)",
        r"(?:called|emailed|written|wrote|contacted|asked|chased) (?:you |them )?"
        r"(?:again|repeatedly|"
        r"over and over)",
        r"(?:no one|nobody|no-one) (?:has )?(?:answered|replied|responded|called "
        r"(?:me )?back|got back)", r"still (?:no|not|haven't|hasn't|have not|has not) (?:\w+ )?"
        r"(?:answer|reply|response|heard|received|arrived|resolved|fixed)",
        r"(?:disputed|raised) (?:this|it) (?:before|already|twice|again)",
    ),
    "long wait": (
        r"(?:waited|waiting|wait) (?:for )?(?:over |more than |almost |nearly )?(?:\d+|two|three|"
        r"four|five|six|ten|several|many) (?:days|weeks|months)", r"(?:\d+|two|three|four|five|"
        r"six|ten|several|many) (?:weeks|months) (?:late|overdue|ago and (?:still|nothing|no))",
        r"due (?:\d+|two|three|four|several) weeks ago", r"(?:weeks|months) (?:later|on),? "
        r"(?:and )?(?:still|nothing)", r"(?:\d+|two|three|four|five) (?:hours?|hrs) (?:late|delay"
        r"\w*)", r"delayed (?:by |for )?(?:\d+|two|three|four|five|several) hours",
        r"(?:an|one|over an) hour late", r"cancel(?:l)?ed (?:flight|at the gate)",
        r"flight (?:was |got )?cancel\w*",
    ),
    "money taken": (
        r"charged (?:me )?twice", r"double[- ]charged", r"charged two times", r"duplicate "
        r"(?:charge|payment|transaction)", r"overcharg\w*", r"charged (?:me )?(?:way )?more",
        r"(?:didn't|did not|never) (?:get|receive|give me) (?:the |my )?(?:cash|money)",
    ),
    "blocked": (
        r"(?:card|payment)s? (?:\w+ )?(?:keeps? )?(?:getting |being |was |is )?declined",
        r"(?:froze|frozen|freezing|locked|blocked|closed) (?:my )?(?:account|card)s?",
        r"account (?:is |was |has been )?(?:frozen|locked|blocked|closed)",
        r"(?:kept|swallowed|ate|retained) my card",
        r"refus\w* (?:to )?(?:repair|fix|accept|honou?r)",
    ),
    "identity theft": (r"identity theft", r"identity (?:was )?stolen", r"victim of identity"),
}
_HIGH_ZH: dict[str, tuple[str, ...]] = {
    "repeat contact": (
        "第二次联系", "第三次", "第四次", "第五次",
        "(?:打|联系|找|催|问|反映|投诉|打电话)了?(?:好几|很多|"
        "多|两|三|四|五|六|七|八|无数)次", "一直没人", "没人理", "没人回", "没人处理", "没人管",
        "没人接",
        "催了", "又一次",
    ),
    "long wait": (
        "等了.{0,3}(?:天|周|星期|月)",
        "(?:两个?星期|两周|半个月|一个多?月|几个月|十几天|十多天)(?:了)?"
        "(?:还|都|也|仍)", "(?:一个多|两个|三个|几个|好几个|五个)小时", "航班取消", "取消了航班",
    ),
    "money taken": ("扣了两次", "重复扣款", "多扣", "扣错", "乱扣", "多收", "乱收费", "钱没吐出来"),
    "blocked": ("冻结", "刷不了", "被吞", "吞了", "锁定", "拒绝保修", "不给修", "不给退", "拒绝退"),
    "identity theft": ("身份被盗", "冒用我的身份"),
}
# fmt: on

# Figurative uses to remove before matching: harm to a score or feelings, praise, and names.
_IDIOMS = re.compile(
    r"hurt (?:my|our|his|her|their) (?:credit|score|rating|feelings|chances|business|reputation)"
    r"|(?:credit|score|rating) (?:\w+ ){0,3}(?:hurt|killed|destroyed|damaged)|killer|killing it"
    r"|on fire today|(?:is|was|are) (?:straight |pure |absolute )?fire\b|fired up|burning question"
    r"|burn(?:ed|t)? out|smoking deal|smoked (?:salmon|ham|cheese|meat|fish)|no smoking|non-smoking"
    r"|explosion of (?:flavou?r|taste|colou?r)|exploded? with (?:flavou?r|taste)"
    r"|(?:their|the collector's|the company's|its|his|her) (?:lawyer|attorney|solicitor)s?"
    r"|(?:address|name|letter|office|firm|law firm)s? of (?:the |their |its )?(?:lawyer|attorney)s?"
    r"|regulatory (?:reporting|requirements|team)|social media (?:class|team|manager|course)"
    r"|press (?:the|a|any|this|that) (?:button|key)|press release|press(?:ed)? (?:1|2|one|two)"
    r"|shocked (?:to|that|by|at)|i was shocked|fraud (?:team|department|alert|protection)"
)
_IDIOMS_ZH = (
    "杀疯了",
    "炸裂",
    "火爆",
    "太火了",
    "很火",
    "火了",
    "火锅",
    "上火",
    "发火",
    "恼火",
    "火车",
    "火速",
    "红火",
    "火腿",
    "炸鸡",
    "油炸",
    "炸酱",
    "医院附近",
    "离医院",
    "电到我",
    "被电影",
    "投诉到底",
    "曝光度",
    "曝光补偿",
    "曝光时间",
    "过曝",
    "欠曝",
    "曝光不",
    "自动曝光",
    "生的孩子",
)

_NEGATORS = re.compile(
    r"\b(?:not|n't|never|no|without|nothing|neither|nor|none|hardly)\b|n't\b|no intention|no plans?"
)
# Multi-character negators reach a few characters ahead ("不是要去打12315"); single ones only
# the next character or two ("没着火"), since 不 and 没 also sit in many unrelated words.
_NEGATORS_ZH = ("不是", "不会", "不想", "不要", "不用", "没有", "并非", "无意", "并没", "不打算")
_NEGATORS_ZH_SHORT = ("别", "没", "不", "无", "未")
_CLAUSE = re.compile(r"[.!?;,:\n。！？；，：]")
_NEGATION_WINDOW = 6  # English words before a cue, same clause
_SUBJECTS = frozenset("i we i'll we'll i'm we're i've we've they he she".split())
_NEGATION_WINDOW_ZH = 8  # characters


@dataclass(frozen=True)
class Signal:
    level: str  # "urgent" or "high"
    kind: str  # e.g. "safety", "legal", "repeat contact"
    phrase: str  # the words that fired

    def reason(self) -> str:
        return f"{self.kind}: '{self.phrase}'"


def _compile(groups: dict[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    return {
        kind: re.compile(r"(?<![a-z0-9])(?:" + "|".join(terms) + r")(?![a-z0-9])")
        for kind, terms in groups.items()
    }


_URGENT_RE = _compile(_URGENT)
_HIGH_RE = _compile(_HIGH)
# Chinese cues are regexes too (plain strings are valid ones); no word boundaries in Chinese.
_URGENT_ZH_RE = {kind: re.compile("|".join(terms)) for kind, terms in _URGENT_ZH.items()}
_HIGH_ZH_RE = {kind: re.compile("|".join(terms)) for kind, terms in _HIGH_ZH.items()}


def find_signals(text: str) -> list[Signal]:
    """Every kind of urgent or high cue that survives negation and idiom checks, first per kind."""
    folded = _IDIOMS.sub(" ~ ", normalize(text))
    for idiom in _IDIOMS_ZH:
        folded = folded.replace(idiom, " ~ ")
    found: list[Signal] = []
    for level, english, chinese in (
        ("urgent", _URGENT_RE, _URGENT_ZH_RE),
        ("high", _HIGH_RE, _HIGH_ZH_RE),
    ):
        for kind in english.keys() | chinese.keys():
            phrase = _first_english(folded, english.get(kind)) or _first_chinese(
                folded, chinese.get(kind)
            )
            if phrase is None and level == "urgent" and kind == "safety":
                phrase = _food_object(folded)
            if phrase is not None:
                found.append(Signal(level, kind, phrase))
    order = list(_URGENT) + list(_HIGH)
    return sorted(found, key=lambda s: (s.level != "urgent", order.index(s.kind)))


def _first_english(folded: str, pattern: re.Pattern[str] | None) -> str | None:
    if pattern is None:
        return None
    for match in pattern.finditer(folded):
        if not _negated_english(folded, match.start()):
            return match.group().strip()
    return None


def _first_chinese(folded: str, pattern: re.Pattern[str] | None) -> str | None:
    if pattern is None:
        return None
    for match in pattern.finditer(folded):
        if not _negated_chinese(folded, match.start()):
            return match.group()
    return None


def _food_object(folded: str) -> str | None:
    for term in _FOOD_OBJECTS_ZH:
        start = folded.find(term)
        if start >= 0:
            clause = _clause_around(folded, start)
            if _FOOD_ZH.search(clause) and not _negated_chinese(folded, start):
                return term
    return None


def _clause_around(folded: str, index: int) -> str:
    starts = [m.end() for m in _CLAUSE.finditer(folded, 0, index)]
    end = _CLAUSE.search(folded, index)
    return folded[starts[-1] if starts else 0 : end.start() if end else len(folded)]


def _negated_english(folded: str, start: int) -> bool:
    before = folded[:start]
    cut = max((m.end() for m in _CLAUSE.finditer(before)), default=0)
    words = before[cut:].split()[-_NEGATION_WINDOW:]
    # A new subject starts a new scope: in "if this is not fixed I will sue" the "not" belongs
    # to "fixed", not to "sue".
    subjects = [i for i, w in enumerate(words) if w in _SUBJECTS]
    if subjects:
        words = words[subjects[-1] :]
    return bool(_NEGATORS.search(" ".join(words)))


def _negated_chinese(folded: str, start: int) -> bool:
    before = folded[max(0, start - _NEGATION_WINDOW_ZH) : start]
    cut = max((m.end() for m in _CLAUSE.finditer(before)), default=0)
    window = before[cut:]
    return any(neg in window for neg in _NEGATORS_ZH) or any(
        neg in window[-2:] for neg in _NEGATORS_ZH_SHORT
    )


_NOT_A_COMPLAINT = re.compile(
    r"(?:this|it)(?: is|'s) not (?:a|meant as a) complaint|not (?:a|meant as a) complaint,? "
    r"(?:just|only)|不是投诉|不是要投诉|并非投诉|不算投诉|不是抱怨"
)


def says_not_a_complaint(text: str) -> str | None:
    """The customer's own framing ("this isn't a complaint", "不是投诉"), if present."""
    match = _NOT_A_COMPLAINT.search(normalize(text).replace("isn't", "is not"))
    return match.group() if match else None
