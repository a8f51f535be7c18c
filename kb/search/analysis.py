"""Text analysis shared by indexing and querying.

Two token streams come out of every text:

* **grams** guarantee recall: neighbouring Han character pairs (bigrams), Latin
  words and numbers whole and in parts, and joined tokens where the two kinds
  touch (``2024年``). A text that contains a query string contains every gram
  of that string, however jieba would segment the sentence around it, so
  requiring all of them never misses a document. Positions are not stored:
  a phrase query over positions is what made search slow in Whoosh.
* **words** rank. jieba's search-mode segmentation of the text, lowercase, used to
  put documents where the query is a whole word first.

Both work on :func:`normalize_text`: Unicode NFKC (full-width ``２０２４`` becomes
``2024``), lowercase, control and format characters turned into spaces.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import jieba

logger = logging.getLogger(__name__)

# Han ideographs (with extension A and compatibility ideographs), kana and hangul
# are analysed as characters; everything else that is a letter or digit forms words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<num>\d+(?:\.\d+)+|\d+)"
    rf"|(?P<word>[^\W\d_{_CJK}]+)"
)
_RUN_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?:\d+(?:\.\d+)*|[^\W\d_{_CJK}]+)+")
_PART_RE = re.compile(rf"\d+(?:\.\d+)*|[^\W\d_{_CJK}]+")
_CONTROL_CATEGORIES = {"Cc", "Cs", "Co", "Cn"}

# Words of the bank's trade that jieba's general dictionary splits or misses.
# Adding them only changes ranking: recall comes from the grams.
BANKING_WORDS = (
    "续贷",
    "无还本续贷",
    "供应链金融",
    "普惠金融",
    "绿色金融",
    "科技金融",
    "绿色信贷",
    "银团贷款",
    "并购贷款",
    "流动资金贷款",
    "固定资产贷款",
    "经营性物业贷款",
    "知识产权质押融资",
    "应收账款保理",
    "银行承兑汇票",
    "票据贴现",
    "国内信用证",
    "跨境结算",
    "现金管理",
    "不良率",
    "关注类贷款",
    "担保圈",
    "隐性债务",
    "专项债",
    "特高压",
    "新能源汽车",
    "动力电池",
    "储能",
    "光伏",
    "算力",
    "数据中心",
    "以旧换新",
    "设备更新",
    "存款准备金率",
    "降准",
)

_dictionary_lock = threading.Lock()


def load_dictionary(cache_file: str | Path | None = None) -> None:
    """Load jieba's dictionary once, keeping its cache in ``cache_file``.

    jieba's own console messages are routed to the ``jieba`` logger under the
    application's logging configuration instead of being printed to stderr.
    """
    with _dictionary_lock:
        jieba_logger = jieba.default_logger
        for handler in list(jieba_logger.handlers):
            jieba_logger.removeHandler(handler)
        jieba_logger.propagate = True
        jieba_logger.setLevel(logging.INFO)
        if jieba.dt.initialized:
            return
        if cache_file is not None:
            path = Path(cache_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            jieba.dt.cache_file = str(path)
        jieba.dt.initialize()
        for word in BANKING_WORDS:
            jieba.add_word(word)
        logger.info("Loaded the jieba dictionary")


def normalize_text(text: str) -> str:
    """Return ``text`` in NFKC and lowercase, without invisible characters.

    Format characters (zero-width space, soft hyphen, BOM), which pasted WeChat
    text often has inside words, are removed. Other control characters become
    spaces.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    if text.isprintable():
        return text
    return "".join(_visible_char(char) for char in text)


def _visible_char(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    return " " if category in _CONTROL_CATEGORIES else char


# -- grams ------------------------------------------------------------------


def _pieces(text: str) -> list[tuple[str, bool, int, int]]:
    """Split into ``(piece, is_cjk, start, end)``: Han runs and Latin/digit runs."""
    return [
        (m.group(), m.group("cjk") is not None, m.start(), m.end())
        for m in _RUN_RE.finditer(text)
    ]


def _parts(run: str) -> list[str]:
    """Parts of a run other than the run itself: letters apart from digits
    (``800v``: ``800``, ``v``) and the numbers of a dotted number
    (``2024.3.19``: ``2024``, ``3``, ``19``)."""
    parts = []
    for part in _PART_RE.findall(run):
        if part != run:
            parts.append(part)
        if "." in part:
            parts.extend(part.split("."))
    return parts


def _leading_parts(run: str) -> list[str]:
    """Parts a text may start with inside ``run``: ``v2.0``, ``2024.3``: ``2024``."""
    first = _PART_RE.match(run).group()
    return [p for p in dict.fromkeys((first, first.split(".")[0])) if p != run]


def _trailing_parts(run: str) -> list[str]:
    """Parts ``run`` may end with: ``v2.0`` gives ``2.0`` and ``0``."""
    last = _PART_RE.findall(run)[-1]
    return [p for p in dict.fromkeys((last, last.rsplit(".", 1)[-1])) if p != run]


def gram_tokens(text: str) -> Iterator[str]:
    """Yield the recall tokens of a normalised text, for indexing.

    * every pair of neighbouring Han characters (``续贷`` from ``续贷安排``) and
      the last character of each Han run alone;
    * every Latin/digit run whole (``800v``) and, when it mixes letters and
      digits, each part (``800``, ``v``);
    * where a Latin/digit run touches a Han character, the run or its touching
      part joined to that character (``2024年``, ``v平``).
    """
    pieces = _pieces(text)
    for index, (piece, cjk, start, end) in enumerate(pieces):
        if cjk:
            for i in range(len(piece) - 1):
                yield piece[i : i + 2]
            yield piece[-1]
            continue
        yield piece
        parts = _parts(piece)
        yield from parts
        if index > 0:
            before, before_cjk, _start, before_end = pieces[index - 1]
            if before_cjk and before_end == start:
                yield before[-1] + piece
                for part in _leading_parts(piece):
                    yield before[-1] + part
        if index + 1 < len(pieces):
            after, after_cjk, after_start, _end = pieces[index + 1]
            if after_cjk and after_start == end:
                yield piece + after[0]
                for part in _trailing_parts(piece):
                    yield part + after[0]


class GramQuery:
    """The recall tokens a query string needs: every one must be in a document.

    ``prefixes`` are single Han characters standing alone in the query: each
    matches any token that starts with it.
    """

    __slots__ = ("tokens", "prefixes")

    def __init__(self, tokens: list[str], prefixes: list[str]):
        self.tokens = tokens
        self.prefixes = prefixes

    def __bool__(self) -> bool:
        return bool(self.tokens or self.prefixes)

    def __repr__(self) -> str:
        return f"GramQuery({self.tokens!r}, prefixes={self.prefixes!r})"


def query_grams(text: str) -> GramQuery:
    """Turn a normalised query string into the tokens a matching text contains.

    Every text that contains the query string contains these tokens, because a
    Han run of the query may continue in the text on either side: only its
    character pairs are required, never its last character alone. A single Han
    character next to a Latin/digit run is covered by their joined token.
    """
    pieces = _pieces(text)
    tokens: list[str] = []
    prefixes: list[str] = []
    for index, (piece, cjk, start, end) in enumerate(pieces):
        if not cjk:
            continue
        if len(piece) > 1:
            tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
            continue
        touches_run = (index > 0 and pieces[index - 1][3] == start) or (
            index + 1 < len(pieces) and pieces[index + 1][2] == end
        )
        if not touches_run:
            prefixes.append(piece)
    for index, (piece, cjk, start, end) in enumerate(pieces):
        if cjk:
            continue
        tokens.append(piece)
        if index > 0:
            before, before_cjk, _start, before_end = pieces[index - 1]
            if before_cjk and before_end == start:
                tokens.append(before[-1] + piece)
        if index + 1 < len(pieces):
            after, after_cjk, after_start, _end = pieces[index + 1]
            if after_cjk and after_start == end:
                tokens.append(piece + after[0])
    return GramQuery(list(dict.fromkeys(tokens)), list(dict.fromkeys(prefixes)))


# -- words ------------------------------------------------------------------


def _keep_word(word: str) -> bool:
    return bool(_TOKEN_RE.search(word))


def index_words(text: str) -> list[str]:
    """jieba search-mode words of a normalised text, for ranking."""
    return [w for w in jieba.cut_for_search(text, HMM=False) if _keep_word(w)]


def query_words(text: str) -> list[str]:
    """jieba accurate-mode words of a normalised query string."""
    return [w for w in jieba.cut(text, HMM=False) if _keep_word(w)]


# -- highlighting -----------------------------------------------------------


def term_pattern(text: str) -> str | None:
    """A regular expression matching ``text`` inside a normalised document.

    Punctuation and spaces between the query's pieces may differ in the text,
    as they do for the grams, and a Latin word or number only matches whole.
    """
    pieces = [(m.group(), m.lastgroup) for m in _TOKEN_RE.finditer(text)]
    if not pieces:
        return None
    parts = [re.escape(piece) for piece, _kind in pieces]
    pattern = r"[\W_]*".join(parts)
    first, last = pieces[0], pieces[-1]
    if first[1] == "word":
        pattern = rf"(?<![^\W\d_{_CJK}])" + pattern
    elif first[1] == "num":
        pattern = r"(?<![\d.])" + pattern
    if last[1] == "word":
        pattern += rf"(?![^\W\d_{_CJK}])"
    elif last[1] == "num":
        pattern += r"(?!\.?\d)"
    return pattern
