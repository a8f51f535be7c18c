"""Normalise, split and validate the free tags that users attach to entries.

Two inputs are the same tag when their normalised forms are equal. So "制造业",
"制造业 " and "制造业" followed by U+3000 are one tag, and "ESG", "esg" and
full-width "ＥＳＧ" are one tag.
"""

import re
import unicodedata

from flask_babel import lazy_gettext as _l

MAX_TAG_LENGTH = 40
"""Maximum length of a normalised tag in characters (code points).

It equals the length of the ``Tag.name`` column in ``kb.taxonomy.models``.
"""

# Applied after NFKC, which has already turned "，" into "," and "；" into ";", and
# the small forms "﹐", "﹑" and "﹔" into ",", "、" and ";".
_SEPARATORS = re.compile(r"[,;、\r\n\v\f\x85\u2028\u2029]")

_REJECTED_CATEGORIES = frozenset({"Cc", "Cf"})
"""Unicode categories that a tag must not contain.

Cc contains the control characters. Cf contains invisible format characters, such
as zero-width spaces and bidirectional overrides, which would let two tags that look
the same differ. Cf also contains the zero-width joiner, so emoji sequences that
need it are rejected.
"""

_MAX_QUOTED_CHARS = 20
"""Maximum number of characters of a tag quoted in an error message."""


def normalize_tag(raw: str) -> str:
    """Return the canonical form of a tag.

    The steps are NFKC, case folding with ``str.casefold``, NFKC again, then trimming
    and collapsing every run of Unicode whitespace (including U+3000, NBSP, tabs and
    line breaks) into one ASCII space. Case folding can decompose a character, as it
    turns "ΐ" (U+0390) into three code points, so the second NFKC recomposes it.
    Case folding also maps "ß" to "ss". The result may be empty or invalid, so check
    it with ``validate_tag`` before storing it.
    """
    text = unicodedata.normalize("NFKC", raw)
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join(text.split())


def parse_tags(text: str) -> list[str]:
    """Split user input into normalised tags, without empties or duplicates.

    The separators are the ASCII and full-width comma and semicolon, the ideographic
    comma "、" and line breaks, so no tag can contain them. Tabs and spaces stay
    inside a tag. Duplicates are compared after normalisation, and the first
    occurrence keeps its place. The tags are not validated.
    """
    tags: list[str] = []
    seen: set[str] = set()
    for part in _SEPARATORS.split(unicodedata.normalize("NFKC", text)):
        tag = normalize_tag(part)
        if tag and tag not in seen:
            seen.add(tag)
            tags.append(tag)
    return tags


def validate_tag(tag: str) -> str | None:
    """Return a Chinese error message if the tag cannot be stored, or None if it can.

    Pass the output of ``normalize_tag``. A tag is rejected when it is empty, longer
    than MAX_TAG_LENGTH characters, or contains a control or format character.
    The message quotes the tag, with such characters written as U+XXXX.

    NOTE: the messages are Chinese only, and this module does not translate them
    for the English UI.
    """
    quoted_tag = _quote_tag(tag)

    if not tag:
        return _l("标签不能为空。")

    for char in tag:
        if unicodedata.category(char) in _REJECTED_CATEGORIES:
            return _l(
                "标签“%(tag)s”包含不可见的控制字符 U+%(code)s，请删除该字符后重试。",
                tag=quoted_tag,
                code=f"{ord(char):04X}",
            )

    if len(tag) > MAX_TAG_LENGTH:
        return _l(
            "标签“%(tag)s”过长：共 %(n)s 个字符，最多允许 %(max)s 个字符。",
            tag=quoted_tag,
            n=len(tag),
            max=MAX_TAG_LENGTH,
        )

    return None


def _quote_tag(tag: str) -> str:
    """Return the first characters of a tag for a message, escaping invisible ones."""
    pieces = []
    for char in tag[:_MAX_QUOTED_CHARS]:
        if unicodedata.category(char) in _REJECTED_CATEGORIES:
            pieces.append(f"U+{ord(char):04X}")
        else:
            pieces.append(char)
    if len(tag) > _MAX_QUOTED_CHARS:
        pieces.append("…")
    return "".join(pieces)
