"""Text analysis shared by indexing and querying.

Two token streams come out of every text:

* **grams** guarantee recall. Each Han character gets one position and the token
  at that position is the bigram it starts, or the character alone when it ends
  a run of Han characters; the first character of a longer run is also indexed
  alone at its position. Latin words and numbers are whole lowercase tokens
  (``lpr``, ``hvdc``; ``800v`` is ``800`` then ``v``), one position each.
  A phrase query over these tokens finds every text that contains the query
  string, however jieba would segment the sentence around it.
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
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}

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
    """Return ``text`` in NFKC, lowercase, with control characters as spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    if text.isprintable():
        return text
    return "".join(
        " " if unicodedata.category(char) in _CONTROL_CATEGORIES else char
        for char in text
    )


# -- grams ------------------------------------------------------------------


def gram_tokens(text: str) -> Iterator[tuple[str, int]]:
    """Yield ``(token, position)`` for indexing a normalised text."""
    pos = 0
    for match in _TOKEN_RE.finditer(text):
        run = match.group("cjk")
        if run is None:
            yield match.group(), pos
            pos += 1
            continue
        last = len(run) - 1
        if last > 0:
            yield run[0], pos
        for index in range(last):
            yield run[index : index + 2], pos + index
        yield run[last], pos + last
        pos += last + 1


class GramQuery:
    """The grams a query string needs, in phrase order.

    ``tokens`` must occur at consecutive positions. ``prefix`` is True when the
    query is a single Han character, which matches any gram it starts.
    """

    __slots__ = ("tokens", "prefix")

    def __init__(self, tokens: list[str], prefix: bool = False):
        self.tokens = tokens
        self.prefix = prefix

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def __repr__(self) -> str:
        return f"GramQuery({self.tokens!r}, prefix={self.prefix})"


def query_grams(text: str) -> GramQuery:
    """Turn a normalised query string into the grams a matching text contains.

    A run of Han characters inside the query is bounded on both sides in every
    matching text, so it contributes the same tokens as when indexed. A run at
    the end may continue in the text: its bigrams cover every character, and a
    single trailing character matches the alone-token that starts each run.
    """
    pieces = [(m.group(), m.group("cjk") is not None) for m in _TOKEN_RE.finditer(text)]
    tokens: list[str] = []
    for number, (piece, cjk) in enumerate(pieces):
        if not cjk:
            tokens.append(piece)
            continue
        at_end = number == len(pieces) - 1
        if len(piece) == 1:
            tokens.append(piece)
            continue
        tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        if not at_end:
            tokens.append(piece[-1])
    single_char = len(pieces) == 1 and pieces[0][1] and len(pieces[0][0]) == 1
    return GramQuery(tokens, prefix=single_char)


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
