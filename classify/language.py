"""Language detection for English and Simplified/Traditional Chinese, plus script-level guesses.

No model is needed: Chinese is told apart from other scripts by Unicode block, Simplified from
Traditional by characters that exist in only one of the two forms, and Latin-script languages by
their commonest function words. Anything unsure is ``"und"`` (undetermined, as in BCP 47).
"""

from __future__ import annotations

import re

# Traditional→Simplified pairs of common characters that differ between the two scripts.
_T2S_PAIRS = (
    "這这 個个 們们 來来 時时 說说 對对 會会 為为 與与 國国 學学 發发 問问 題题 還还 "
    "沒没 麼么 電电 話话 號号 買买 賣卖 錢钱 貨货 單单 訂订 購购 換换 費费 帳账 戶户 "
    "務务 質质 產产 機机 關关 開开 門门 間间 見见 現现 讓让 給给 經经 過过 進进 運运 "
    "達达 遠远 選选 邊边 導导 動动 辦办 應应 當当 點点 於于 後后 從从 氣气 車车 東东 "
    "長长 樣样 種种 稱称 總总 結结 紅红 級级 線线 網网 維维 統统 續续 細细 絕绝 約约 "
    "紙纸 無无 熱热 燈灯 營营 態态 愛爱 慶庆 憂忧 戰战 擇择 據据 擔担 損损 撥拨 掃扫 "
    "報报 場场 壞坏 聲声 處处 備备 復复 夠够 頭头 顏颜 願愿 類类 顧顾 額额 預预 領领 "
    "頁页 項项 順顺 須须 風风 飛飞 飯饭 館馆 馬马 驗验 魚鱼 鳥鸟 麵面 黃黄 齊齐 龍龙 "
    "議议 認认 識识 請请 讀读 謝谢 論论 證证 評评 試试 詢询 詳详 誤误 誰谁 調调 談谈 "
    "講讲 設设 記记 訊讯 計计 許许 訴诉 語语 護护 變变 讚赞 貴贵 貼贴 資资 賬账 賠赔 "
    "贈赠 趕赶 輕轻 輸输 農农 適适 遲迟 郵邮 醫医 鐘钟 銀银 鎖锁 鍵键 錯错 鏈链 闆板 "
    "陽阳 隊队 隨随 險险 雙双 雖虽 難难 雲云 靜静 韓韩 響响 頻频 餘余 體体 髮发 鬧闹 "
    "實实 寫写 寬宽 專专 將将 屬属 層层 歲岁 幣币 師师 幫帮 廣广 廠厂 張张 強强 彈弹 "
    "錄录 徑径 憑凭 懷怀 戲戏 擁拥 擴扩 攜携 斷断 晉晋 書书 條条 棄弃 榮荣 構构 標标 "
    "權权 歡欢 歷历 殘残 殺杀 湯汤 滿满 漢汉 澤泽 濕湿 災灾 煩烦 爭争 牆墙 獎奖 獲获 "
    "環环 畫画 異异 療疗 盤盘 眾众 礙碍 禮礼 禍祸 積积 穩稳 窮穷 競竞 筆笔 節节 範范 "
    "簡简 籃篮 糧粮 糾纠 紀纪 純纯 紛纷 組组 終终 綠绿 緊紧 編编 練练 縣县 織织 繼继 "
    "罰罚 義义 習习 聯联 聽听 肅肃 腦脑 膚肤 舊旧 艦舰 藝艺 蘭兰 蟲虫 補补 製制 複复 "
    "規规 親亲 覺觉 觀观 觸触 誠诚 誌志 諾诺 謊谎 財财 貿贸 贏赢 軟软 載载 較较 輛辆 "
    "轉转 辭辞 邏逻 鄉乡 釋释 鋼钢 鍋锅 鏡镜 閱阅 闡阐 陳陈 陸陆 際际 隱隐 雜杂 雞鸡 "
    "離离 靈灵 頂顶 頓顿 頸颈 顯显 餓饿 駕驾 騙骗 驚惊 鬥斗 麗丽 傷伤 傳传 價价 儲储 "
    "優优 僅仅 債债 傾倾 億亿 側侧 兒儿 內内 兩两 冊册 劃划 劑剂 勞劳 勢势 區区 協协 "
    "卻却 廳厅 參参 嚴严 員员 啟启 喚唤 嚇吓 團团 圍围 圖图 執执 堅坚 塊块 壓压 壯壮 "
    "夢梦 奪夺 奮奋 婦妇 媽妈 孫孙 寧宁 審审 寶宝 尋寻 屆届 岡冈 島岛 幾几 庫库 廢废 "
    "彙汇 徹彻 惡恶 惱恼 慣惯 慮虑 憶忆 懶懒 掛挂 撲扑 擊击 擠挤 敗败 數数 斃毙 曬晒 "
    "暫暂 樂乐 橋桥 檢检 櫃柜 歸归 殼壳 決决 淚泪 淺浅 測测 漲涨 潔洁 潛潜 濃浓 灣湾 "
    "烏乌 煙烟 燒烧 爛烂 爺爷 牽牵 猶犹 獨独 璽玺 畢毕 盜盗 監监 確确 碼码 礦矿 稅税 "
    "穀谷 築筑 簽签 緒绪 緩缓 縮缩 績绩 繳缴 罷罢 聖圣 職职 膽胆 臉脸 臨临 興兴 艙舱 "
    "莊庄 著着 蓋盖 蘇苏 虧亏 術术 衛卫 裝装 裡里 視视 訪访 診诊 詞词 該该 謂谓 謹谨 "
    "負负 貢贡 責责 貸贷 貧贫 賀贺 賓宾 賺赚 賽赛 贊赞 趨趋 蹤踪 軍军 遞递 遺遗 遷迁 "
    "鄰邻 醜丑 針针 鈔钞 鋪铺 閃闪 閉闭 闊阔 隻只 階阶 陰阴 頒颁 頗颇 顆颗 飾饰 養养 "
    "駛驶 驅驱 騰腾 髒脏 鬆松 麥麦 黨党 齡龄 擾扰 拋抛 搶抢 撐撑 攤摊 櫥橱 藥药 壽寿 "
    "舉举 撿捡 週周 遊游 鐵铁 閒闲 嗎吗 吳吴 喲哟 嘆叹 噴喷 嚮向 囉啰 蔥葱 蘋苹 蔔卜 "
    "貓猫 豬猪 鴨鸭 蝦虾 龜龟 齒齿 韌韧 顛颠 颱台 餵喂 鹹咸 黴霉 鑰钥 窩窝 衝冲 彆别 "
    "萬万 籤签 糰团 摺折 纔才 臺台 裏里 準准 幹干 乾干 鬱郁 係系 繫系 並并 盡尽 亂乱 "
    "倆俩 兇凶 劍剑 勵励 勸劝 匯汇 厲厉 吶呐 嘗尝 噸吨 壇坛 壺壶 夥伙 奧奥 姦奸 孿孪 "
    "寵宠 屜屉 嶺岭 巖岩 帥帅 彌弥 懇恳 懸悬 戀恋 撈捞 擬拟 攏拢 攔拦 敵敌 殭僵 氈毡 "
    "滅灭 滬沪 灑洒 爐炉 犧牺 瑣琐 瓊琼 癒愈 皚皑 盞盏 碩硕 稟禀 穌稣 竊窃 籌筹 緣缘 "
    "縫缝 罈坛 羅罗 翹翘 聳耸 膩腻 艱艰 芻刍 蕭萧 薦荐 蠟蜡 襪袜 訝讶 諧谐 謠谣 豐丰 "
    "賦赋 贓赃 趙赵 躍跃 轎轿 輻辐 迴回 邁迈 釀酿 鉤钩 錶表 鍊炼 鑑鉴 鑼锣 閣阁 闖闯 "
    "陣阵 隸隶 雛雏 霧雾 韻韵 頰颊 顫颤 颳刮 饑饥 馴驯 騷骚 鬍胡 鹽盐 齣出 "
)
T2S: dict[str, str] = {p[0]: p[1] for p in "".join(_T2S_PAIRS).split()}

# Simplified forms that are also ordinary Traditional characters (后 "queen", 干 "shield",
# 里 "village", ...) prove nothing about the script, and Simplified writing keeps 著 in 著名.
_SHARED_SIMPLIFIED = set(
    "后干里台系只胡面卜板出表松谷制向于余周游范准才折郁云丑斗几伙凶岩回咸刮着万"
)
_SHARED_TRADITIONAL = set("著乾")
_TRADITIONAL_ONLY = frozenset(set(T2S) - _SHARED_TRADITIONAL)
_SIMPLIFIED_ONLY = frozenset(set(T2S.values()) - _SHARED_SIMPLIFIED)

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were i you my your it to of in for on with that this have has not "
        "be do does did can could would please thanks thank me we our at from an or but if".split()
    ),
    "es": frozenset(
        "el la los las es son y de que en por para con mi su una un no gracias hola".split()
    ),
    "fr": frozenset(
        "le la les est et de des du que en pour avec mon votre une un ne pas merci je".split()
    ),
    "de": frozenset(
        "der die das ist und nicht ich sie mit für von ein eine mein ihr danke bitte".split()
    ),
    "pt": frozenset("o a os as é e de que em para com meu sua uma um não obrigado você".split()),
    "it": frozenset("il lo la gli le è e di che in per con mio una un non grazie sono".split()),
    "nl": frozenset("de het een is en van dat in voor met mijn niet ik u bedankt".split()),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Unicode ranges per script; counting with one regex each is far faster than naming characters.
_SCRIPT_CHARS: dict[str, re.Pattern[str]] = {
    lang: re.compile(f"[{ranges}]")
    for lang, ranges in {
        "ja": "\u3040-\u30ff\u31f0-\u31ff",  # hiragana, katakana
        "ko": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
        "ru": "\u0400-\u04ff",  # Cyrillic
        "ar": "\u0600-\u06ff",
        "el": "\u0370-\u03ff",
        "he": "\u0590-\u05ff",
        "th": "\u0e00-\u0e7f",
        "hi": "\u0900-\u097f",  # Devanagari
    }.items()
}
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")


def is_han(char: str) -> bool:
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def to_simplified(text: str) -> str:
    """Map common Traditional characters to Simplified so one model serves both scripts."""
    return text.translate(_T2S_TABLE)


_T2S_TABLE = str.maketrans(T2S)


def chinese_script(text: str) -> str:
    """``zh-Hant`` when Traditional-only characters outnumber Simplified-only ones."""
    traditional = sum(1 for c in text if c in _TRADITIONAL_ONLY)
    simplified = sum(1 for c in text if c in _SIMPLIFIED_ONLY)
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def detect_language(text: str) -> str:
    """Return ``"en"``, ``"zh-Hans"``, ``"zh-Hant"``, another ISO 639-1 code, or ``"und"``."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    scripts = {lang: len(pattern.findall(text)) for lang, pattern in _SCRIPT_CHARS.items()}
    # Japanese mixes kanji with kana, so any real amount of kana outranks the kanji count.
    kana = scripts.get("ja", 0)
    if kana >= 2 and kana * 5 >= han:
        return "ja"
    # One Chinese character carries roughly a word, a Latin letter a fifth of one: weigh them so
    # an English mail quoting a Chinese product name stays English, and vice versa.
    other_best = max(
        ((lang, n) for lang, n in scripts.items() if lang != "ja"),
        key=lambda kv: kv[1],
    )
    if han and han * 3 >= latin and han >= other_best[1]:
        return chinese_script(text)
    if other_best[1] > latin:
        return other_best[0]
    if latin == 0:
        return "und"
    return _latin_language(text)


def _latin_language(text: str) -> str:
    words = [w.casefold() for w in _WORD.findall(text)]
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0:
        # Short ASCII messages such as "Refund please" carry no function words; the gateway's
        # mail is mostly English, so plain ASCII defaults to it.
        ascii_only = all(ord(c) < 128 for c in text)
        return "en" if ascii_only else "und"
    if best != "en" and scores[best] <= scores["en"]:
        return "en"
    return best
