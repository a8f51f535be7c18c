"""Markdown rendering, HTML sanitising and plain-text extraction for articles.

``render_markdown`` runs at write time and its output is stored and served as
is, so everything a browser could execute is removed here.
"""

import logging
import re
import secrets
from functools import partial
from html import escape, unescape
from html.parser import HTMLParser

import bleach
import markdown
from bleach.html5lib_shim import Filter
from bleach.linkifier import LinkifyFilter
from markdown.extensions.toc import slugify_unicode

logger = logging.getLogger(__name__)

_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

ALLOWED_TAGS = _HEADING_TAGS | {
    "p", "br", "hr", "strong", "b", "em", "i", "u", "s", "del", "blockquote",
    "code", "pre", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tr", "th", "td",
    "a", "img", "sup", "sub", "span", "div",
}  # fmt: skip

# Elements removed together with their content. The parser must receive them as
# allowed tags, because bleach's tokenizer deletes a tag outside that list and
# parses what follows as text, so the body of a <script> would show on the page.
_DROPPED_ELEMENTS = frozenset({
    "script", "style", "template", "iframe", "object", "embed", "applet",
    "noembed", "noframes", "svg", "math",
})  # fmt: skip

ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

_ANY_VALUE = re.compile(r".*", re.DOTALL)
_NUMBER = re.compile(r"\d{1,5}")
_ALIGNMENT = re.compile(r"left|center|right")
# Values produced by the ``toc`` extension with ``slugify_unicode``, which keeps
# Han characters, plus the ``_1`` suffixes it adds to repeated headings.
# NOTE: ids are not prefixed, so a heading can take an id such as "config" that
# page scripts might read as a global (DOM clobbering). Scripts must not rely
# on window globals named like headings.
_ANCHOR_ID = re.compile(r"[\w-]{1,200}")
_CODE_LANGUAGE_CLASS = re.compile(r"language-[\w+#.-]{1,40}")

# Allowed attributes per tag and the pattern their whole value must match.
# href and src must also have no scheme or one in ALLOWED_PROTOCOLS.
_ATTRIBUTE_PATTERNS: dict[str, dict[str, re.Pattern[str]]] = {
    "a": {"href": _ANY_VALUE, "title": _ANY_VALUE},
    "img": {
        "src": _ANY_VALUE,
        "alt": _ANY_VALUE,
        "title": _ANY_VALUE,
        "width": _NUMBER,
        "height": _NUMBER,
    },
    "ol": {"start": _NUMBER},
    "th": {"align": _ALIGNMENT, "colspan": _NUMBER, "rowspan": _NUMBER},
    "td": {"align": _ALIGNMENT, "colspan": _NUMBER, "rowspan": _NUMBER},
    "code": {"class": _CODE_LANGUAGE_CLASS},
    **{tag: {"id": _ANCHOR_ID} for tag in _HEADING_TAGS},
}

EXTERNAL_LINK_REL = "noopener noreferrer nofollow"

# Characters that end a bare URL. Besides the ASCII characters that RFC 3986
# does not allow unescaped, these are Chinese punctuation and Han characters,
# because Chinese authors write a URL straight into a sentence without spaces.
# In "详见https://example.com/a，然后" the link ends before "，".
_URL_STOP_CHARS = (
    r"\s<>\"'`{}|\\^"
    "\u2014\u2018-\u201f\u2026"  # em dash, curly quotes, ellipsis
    "\u3000-\u303f"  # CJK symbols and punctuation: 、。《》「」『』【】〔〕
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han characters
    "\uff00-\uffef"  # full-width forms: ，！？：；（）［］
)
# A bare URL starts with a scheme or "www." that is not glued to ASCII letters
# or digits. _ChineseTextLinkifyFilter trims trailing punctuation off a match.
# NOTE: a URL with a Chinese domain name such as "https://银行.中国" is not
# linkified, because the host must start with an ASCII letter or digit.
_BARE_URL_RE = re.compile(
    rf"(?<![A-Za-z0-9+.-])(?:https?://|www\.)[A-Za-z0-9][^{_URL_STOP_CHARS}]*",
    re.IGNORECASE,
)
_URL_TRAILING_PUNCTUATION = ".,;:!?"

_URL_IGNORED_CHARS_RE = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_URL_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.-]*):")
_URL_ATTRIBUTES = frozenset({"href", "src"})

_MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "toc", "nl2br", "sane_lists"]
_MARKDOWN_EXTENSION_CONFIGS = {
    "tables": {"use_align_attribute": True},
    "toc": {"slugify": slugify_unicode},
}


def render_markdown(source: str) -> str:
    """Render Markdown with embedded raw HTML to sanitised HTML.

    Only the tags in ``ALLOWED_TAGS`` and the attributes in
    ``_ATTRIBUTE_PATTERNS`` survive. Other tags are stripped and their text
    kept, except ``_DROPPED_ELEMENTS``, which go with their content. Links get
    ``rel="noopener noreferrer nofollow"`` when they leave the site, and bare
    URLs in text become links.
    """
    # Markdown and bleach's Cleaner keep parser state, so each call builds its
    # own instances and concurrent requests never share one.
    html, plain = _convert(source)
    html = _build_cleaner().clean(_escape_unclosed_raw_text(html))
    # Blocks kept as plain text are escaped already; inserting them after the
    # sanitiser spares it from parsing up to 300,000 characters of entities.
    for key, block in plain.items():
        text = _plain(block)
        html = html.replace(f"<p>{key}</p>", f"<p>{text}</p>").replace(key, text)
    return html


# Elements whose content an HTML parser reads as text up to their end tag. One
# left open would take the rest of the body with it when it is dropped.
_RAW_TEXT_ELEMENTS = (
    "script", "style", "iframe", "noembed", "noframes", "noscript", "xmp",
    "textarea", "title", "plaintext",
)  # fmt: skip
_RAW_TEXT_NAMES = "|".join(_RAW_TEXT_ELEMENTS)
_RAW_TEXT_START = re.compile(rf"<({_RAW_TEXT_NAMES})(?=[\s/>])", re.IGNORECASE)
_RAW_TEXT_END = re.compile(rf"</({_RAW_TEXT_NAMES})\s*>", re.IGNORECASE)


def _escape_unclosed_raw_text(html: str) -> str:
    """Escape the start tag of a raw-text element that is never closed.

    The tag then shows as text, and the text after it stays in the page.
    """
    last_end = {}
    for match in _RAW_TEXT_END.finditer(html):
        last_end[match.group(1).lower()] = match.start()
    pieces, position = [], 0
    for match in _RAW_TEXT_START.finditer(html):
        if last_end.get(match.group(1).lower(), -1) > match.start():
            continue
        pieces.append(html[position : match.start()])
        pieces.append("&lt;")
        position = match.start() + 1
    pieces.append(html[position:])
    return "".join(pieces)


# Python-Markdown's inline processing is quadratic in some inputs. It looks for
# the end of a link from every unclosed "[" or "](" to the end of the block. It
# also stashes every entity and escape of a block in a list it searches again.
# 3,000 "[" took 1.8 s, and 300,000 would take hours. Its block parser splits
# a block at each heading line and parses the rest again, and it recurses once
# per level of list or quote nesting (about 540 nested list levels exceed
# Python's recursion limit). Unclosed raw HTML tags make the sanitiser's
# parser quadratic too (20,000 "<div>" took 19 s). A block beyond any of these
# limits is shown as escaped plain text, without Markdown. Ordinary briefs stay
# far below them (150 links in a 10,000-character paragraph is 1.5 million).
MAX_BRACKET_WORK = 2_000_000
MAX_INLINE_MARKS = 20_000
MAX_HEADING_LINES = 300
MAX_INDENT_COLUMNS = 80
MAX_QUOTE_DEPTH = 40
MAX_UNCLOSED_TAGS = 400
_INLINE_MARKS = "&<`*_\\!["
_HEADING_LINE = re.compile(r"^[ ]{0,3}#", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)
_QUOTE_PREFIX = re.compile(r"^[ \t>]*", re.MULTILINE)
_OPEN_TAG = re.compile(r"<[A-Za-z]")
_CLOSE_TAG = re.compile(r"</[A-Za-z]|/>")


def _markdown_work(block: str) -> tuple[int, int]:
    """Estimate the link search work and the inline marks of one block."""
    if "[" not in block:
        return 0, sum(block.count(mark) for mark in _INLINE_MARKS)
    depth = deepest = 0
    for char in block:
        if char == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "]" and depth:
            depth -= 1
    open_parens = max(0, block.count("](") - block.count(")"))
    marks = sum(block.count(mark) for mark in _INLINE_MARKS)
    return (depth + deepest + open_parens) * len(block), marks


def _too_costly(block: str) -> bool:
    """Tell whether rendering ``block`` as Markdown would be slow or would fail."""
    work, marks = _markdown_work(block)
    if work > MAX_BRACKET_WORK or marks > MAX_INLINE_MARKS:
        return True
    if len(_HEADING_LINE.findall(block)) > MAX_HEADING_LINES:
        return True
    indents = (len(m.expandtabs(4)) for m in _INDENT.findall(block))
    if max(indents, default=0) > MAX_INDENT_COLUMNS:
        return True
    quotes = (m.count(">") for m in _QUOTE_PREFIX.findall(block))
    if max(quotes, default=0) > MAX_QUOTE_DEPTH:
        return True
    unclosed = len(_OPEN_TAG.findall(block)) - len(_CLOSE_TAG.findall(block))
    return unclosed > MAX_UNCLOSED_TAGS


def _plain(text: str) -> str:
    return escape(text).replace("\n", "<br>\n")


def _convert(source: str) -> tuple[str, dict[str, str]]:
    """Render ``source``; return the HTML and the blocks left as plain text.

    Each plain block is replaced in the HTML by a random alphanumeric key.
    """
    converter = markdown.Markdown(
        extensions=_MARKDOWN_EXTENSIONS,
        extension_configs=_MARKDOWN_EXTENSION_CONFIGS,
        output_format="html",
    )
    try:
        if len(source) < 2000:
            return converter.convert(source), {}
        return _convert_guarded(converter, source)
    except RecursionError:
        # Nesting the guard did not foresee: show the text rather than fail.
        logger.warning("Markdown nesting too deep; rendered as plain text")
        key = f"kbplain{secrets.token_hex(8)}all"
        return f"<p>{key}</p>", {key: source}


def _convert_guarded(
    converter: markdown.Markdown, source: str
) -> tuple[str, dict[str, str]]:
    blocks = re.split(r"(\n[ \t]*\n)", source)
    plain: dict[str, str] = {}
    token = secrets.token_hex(8)
    for index, block in enumerate(blocks):
        if _too_costly(block):
            key = f"kbplain{token}n{len(plain)}x"
            plain[key] = block
            blocks[index] = key
    return converter.convert("".join(blocks)), plain


def html_to_text(html: str) -> str:
    """Extract the visible text of HTML for the search index and summaries.

    Entities are decoded, script and style content is skipped, each block
    element starts a new line and other whitespace collapses to single spaces
    inside a line. Inline elements add no space, so "<b>中</b>文" gives "中文".
    Empty lines are removed.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return extractor.text()


def _build_cleaner() -> bleach.Cleaner:
    linkify = partial(
        _ChineseTextLinkifyFilter,
        callbacks=[_set_link_rel],
        skip_tags={"pre", "code"},
        parse_email=False,
        url_re=_BARE_URL_RE,
    )
    return bleach.Cleaner(
        tags=ALLOWED_TAGS | _DROPPED_ELEMENTS,
        attributes=_is_allowed_attribute,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[_DropElementsFilter, linkify],
    )


def _is_allowed_attribute(tag: str, name: str, value: str) -> bool:
    pattern = _ATTRIBUTE_PATTERNS.get(tag, {}).get(name)
    if pattern is None or pattern.fullmatch(value) is None:
        return False
    if name in _URL_ATTRIBUTES:
        # bleach checks the scheme too, but it does not decode every entity a
        # browser decodes, such as "&colon;" or "&#106" without its semicolon.
        scheme = _url_scheme(value)
        return not scheme or scheme in ALLOWED_PROTOCOLS
    return True


class _DropElementsFilter(Filter):
    """Token filter that removes ``_DROPPED_ELEMENTS`` with everything inside them.

    It runs after bleach's sanitiser, which passes these elements through
    because they are in the parser's tag list.
    """

    def __iter__(self):
        depth = 0
        for token in super().__iter__():
            token_type = token["type"]
            if depth:
                if token_type == "StartTag":
                    depth += 1
                elif token_type == "EndTag":
                    depth -= 1
                continue
            if token.get("name") in _DROPPED_ELEMENTS:
                if token_type == "StartTag":
                    depth = 1
                    logger.debug("Removed <%s> element with its content", token["name"])
                continue
            yield token


def _set_link_rel(attrs: dict, is_new: bool) -> dict | None:
    """Set ``rel`` on links that leave the site and unwrap links without ``href``.

    The sanitiser has already removed any ``href`` with a forbidden scheme, so a
    link without one is reduced to its text.
    """
    href = attrs.get((None, "href"))
    if not href:
        return None
    if _is_external_url(href):
        attrs[(None, "rel")] = EXTERNAL_LINK_REL
    else:
        attrs.pop((None, "rel"), None)
    return attrs


def _is_external_url(url: str) -> bool:
    if _normalise_url(url).startswith(("//", "/\\", "\\")):
        return True
    return bool(_url_scheme(url))


def _url_scheme(url: str) -> str:
    match = _URL_SCHEME_RE.match(_normalise_url(url))
    return match.group(1) if match else ""


def _normalise_url(url: str) -> str:
    """Return a URL as a browser reads it, so nothing can hide its scheme or host.

    Entities are decoded, also those missing their semicolon, then control
    characters and whitespace are removed and letters lowercased.
    """
    return _URL_IGNORED_CHARS_RE.sub("", unescape(url)).lower()


class _ChineseTextLinkifyFilter(LinkifyFilter):
    """LinkifyFilter that trims punctuation and unbalanced ")" off bare URLs."""

    def strip_non_url_bits(self, fragment: str) -> tuple[str, str, str]:
        suffix = ""
        while fragment:
            last = fragment[-1]
            unbalanced = last == ")" and fragment.count(")") > fragment.count("(")
            if not unbalanced and last not in _URL_TRAILING_PUNCTUATION:
                break
            fragment = fragment[:-1]
            suffix = last + suffix
        return fragment, "", suffix


_TEXT_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd",
    "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot",
    "thead", "tr", "ul",
})  # fmt: skip
_TEXT_CELL_TAGS = frozenset({"td", "th"})
_TEXT_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "title"})
_WHITESPACE_RE = re.compile(r"\s+")
_INLINE_WHITESPACE_RE = re.compile(r"[^\S\n]+")


class _TextExtractor(HTMLParser):
    """HTML parser that collects visible text with a newline per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _TEXT_HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        self._separate(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _TEXT_HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        self._separate(tag)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._pre_depth:
            # Code keeps its line breaks, everywhere else a newline is a space.
            self._parts.append(data.replace("\r\n", "\n"))
        else:
            self._parts.append(_WHITESPACE_RE.sub(" ", data))

    def _separate(self, tag: str) -> None:
        if tag in _TEXT_BLOCK_TAGS:
            self._parts.append("\n")
        elif tag in _TEXT_CELL_TAGS:
            self._parts.append(" ")

    def text(self) -> str:
        lines = "".join(self._parts).split("\n")
        stripped = (_INLINE_WHITESPACE_RE.sub(" ", line).strip() for line in lines)
        return "\n".join(line for line in stripped if line)
