"""Tests for Markdown rendering, HTML sanitising and text extraction."""

import html
import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb.articles.rendering import EXTERNAL_LINK_REL, html_to_text, render_markdown

try:
    import frontmatter
except ImportError:  # pragma: no cover - python-frontmatter is a dependency
    frontmatter = None

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus" / "industry-reports"
CORPUS_FILES = sorted(
    [*CORPUS_DIR.glob("reports/*.md"), *CORPUS_DIR.glob("articles/*.md")]
)

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "svg", "math", "meta", "link", "base",
    "template", "section",
}  # fmt: skip
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
EVENT_HANDLER_IN_TAG_RE = re.compile(r"<[^>]*\son\w+\s*=", re.IGNORECASE)


class TagCollector(HTMLParser):
    """Parser that records every start tag with its decoded attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def collect_tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    return collector.tags


def url_scheme(url: str) -> str:
    """Return the scheme a browser would see in an attribute value already decoded.

    Browsers drop control characters, whitespace and case before reading it.
    """
    normalised = re.sub(r"[\x00-\x20\x7f-\xa0\s]+", "", url).lower()
    match = re.match(r"([a-z][a-z0-9+.-]*):", normalised)
    return match.group(1) if match else ""


def assert_safe(output: str) -> None:
    lowered = output.lower()
    assert "<script" not in lowered
    assert EVENT_HANDLER_IN_TAG_RE.search(output) is None
    assert "style=" not in lowered
    assert "javascript:" not in lowered
    for tag, attrs in collect_tags(output):
        assert tag not in FORBIDDEN_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in {"href", "src"}:
                assert url_scheme(value or "") in {"", "http", "https", "mailto"}, (
                    tag,
                    value,
                )


def links(output: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in collect_tags(output) if tag == "a"]


# Markdown features


def test_table_renders_with_align_attributes():
    output = render_markdown("| 行业 | 涨幅 |\n| :-- | --: |\n| 电子 | 3.2% |\n")

    assert "<table>" in output
    assert '<th align="left">行业</th>' in output
    assert '<th align="right">涨幅</th>' in output
    assert '<td align="right">3.2%</td>' in output
    assert "style=" not in output


def test_fenced_code_keeps_language_and_escapes():
    output = render_markdown("```python\nif a < b:\n    print('<b>')\n```\n")

    assert '<pre><code class="language-python">' in output
    assert "if a &lt; b:" in output
    assert "print('&lt;b&gt;')" in output
    assert "<br" not in output


def test_code_class_other_than_language_removed():
    output = render_markdown('<pre><code class="evil language-x">x</code></pre>')

    assert "class=" not in output


def test_chinese_heading_gets_unicode_anchor():
    output = render_markdown("## 一、行业核心数据\n\n正文")

    assert '<h2 id="一行业核心数据">一、行业核心数据</h2>' in output


def test_toc_links_match_heading_ids():
    source = "[TOC]\n\n# 银行业概况\n\n## 信贷投放\n\n## 信贷投放\n"
    output = render_markdown(source)
    heading_ids = [
        attrs["id"] for tag, attrs in collect_tags(output) if tag in {"h1", "h2"}
    ]
    toc_targets = [attrs["href"] for attrs in links(output)]

    assert heading_ids == ["银行业概况", "信贷投放", "信贷投放_1"]
    assert toc_targets == ["#" + heading_id for heading_id in heading_ids]


def test_heading_ids_not_shared_between_calls():
    first = render_markdown("## 风险提示")
    second = render_markdown("## 风险提示")

    assert 'id="风险提示"' in first
    assert 'id="风险提示"' in second


def test_single_newline_becomes_line_break():
    output = render_markdown("第一行\n第二行")

    assert re.fullmatch(r"<p>第一行<br>\s*第二行</p>", output.strip())


def test_sane_lists_split_ordered_and_bullet():
    output = render_markdown("1. 一\n2. 二\n\n* 甲\n")

    assert re.search(r"<ol>\s*<li>一</li>\s*<li>二</li>\s*</ol>", output)
    assert re.search(r"<ul>\s*<li>甲</li>\s*</ul>", output)


def test_ordered_list_keeps_start_number():
    output = render_markdown("3. 三\n4. 四\n")

    assert '<ol start="3">' in output


def test_basic_inline_markup_survives():
    output = render_markdown(
        "**粗** *斜* `代码` ~~x~~ <u>下</u> <s>删</s> <del>去</del> "
        "<sup>1</sup> <sub>2</sub>\n\n> 引用\n\n---\n\n"
        "<dl><dt>术语</dt><dd>解释</dd></dl>"
    )

    for fragment in (
        "<strong>粗</strong>",
        "<em>斜</em>",
        "<code>代码</code>",
        "<u>下</u>",
        "<s>删</s>",
        "<del>去</del>",
        "<sup>1</sup>",
        "<sub>2</sub>",
        "<blockquote>",
        "<hr>",
        "<dt>术语</dt>",
        "<dd>解释</dd>",
    ):
        assert fragment in output


def test_concurrent_rendering_matches_sequential():
    sources = [f"# 标题{i}\n\n[TOC]\n\n## 小节\n\n第{i}段\n第二行" for i in range(40)]
    expected = [render_markdown(source) for source in sources]

    with ThreadPoolExecutor(max_workers=8) as pool:
        actual = list(pool.map(render_markdown, sources))

    assert actual == expected


def test_empty_source_renders_empty():
    assert render_markdown("") == ""


# Links and images


def test_external_link_gets_rel():
    output = render_markdown("[央行](https://www.pbc.gov.cn/)")

    assert links(output) == [
        {"href": "https://www.pbc.gov.cn/", "rel": EXTERNAL_LINK_REL}
    ]


def test_protocol_relative_link_is_external():
    output = render_markdown('<a href="//evil.example/x">x</a>')

    assert links(output) == [{"href": "//evil.example/x", "rel": EXTERNAL_LINK_REL}]


def test_entity_encoded_external_link_gets_rel():
    output = render_markdown('<a href="&#104;ttps://evil.example/">x</a>')

    assert len(links(output)) == 1
    assert links(output)[0]["rel"] == EXTERNAL_LINK_REL


@pytest.mark.parametrize("href", ["/articles/12", "#一行业核心数据", "notes.html"])
def test_internal_link_has_no_rel(href):
    output = render_markdown(f'<a href="{href}" rel="opener" target="_blank">x</a>')

    assert links(output) == [{"href": href}]


def test_link_title_kept():
    output = render_markdown('[报告](https://example.com/r "年报")')

    assert links(output)[0]["title"] == "年报"


def test_image_keeps_allowed_attributes():
    output = render_markdown(
        '<img src="/article-assets/a/cover.jpg" alt="封面" title="t" width="640" '
        'height="360" data-ratio="0.5" loading="lazy" class="rich_pages" '
        'style="width: 100%">'
    )
    images = [attrs for tag, attrs in collect_tags(output) if tag == "img"]

    assert images == [
        {
            "src": "/article-assets/a/cover.jpg",
            "alt": "封面",
            "title": "t",
            "width": "640",
            "height": "360",
        }
    ]


def test_image_non_numeric_size_removed():
    output = render_markdown('<img src="a.png" width="100%" height="x">')

    assert "width" not in output
    assert "height" not in output


def test_mailto_link_kept():
    output = render_markdown("[联系我们](mailto:research@example.com)")

    assert links(output)[0]["href"] == "mailto:research@example.com"


def test_unsafe_link_keeps_its_text():
    output = render_markdown('<p><a href="javascript:alert(1)">点击查看</a></p>')

    assert output == "<p>点击查看</p>"


def test_markdown_data_image_loses_src():
    output = render_markdown("![图表](data:image/svg+xml;base64,PHN2Zz4=)")
    images = [attrs for tag, attrs in collect_tags(output) if tag == "img"]

    assert images == [{"alt": "图表"}]


# Sanitising

XSS_PAYLOADS = {
    "script tag": "<script>alert(1)</script>",
    "script upper case": "<SCRIPT SRC=//evil.example/x.js>alert(1)</SCRIPT>",
    "nested script": "<scr<script>ipt>alert(1)</script>",
    "script split": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "img onerror": "<img src=x onerror=alert(1)>",
    "img onerror quoted": '<img src="x" onerror="alert(1)" />',
    "svg onload": "<svg onload=alert(1)>",
    "svg script": "<svg><script>alert(1)</script></svg>",
    "svg animate": "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "body onload": "<body onload=alert(1)>",
    "details ontoggle": "<details open ontoggle=alert(1)>x</details>",
    "p onclick": '<p onclick="alert(1)">x</p>',
    "a onmouseover": '<a href="https://ok.example" onmouseover="alert(1)">x</a>',
    "javascript href": '<a href="javascript:alert(1)">x</a>',
    "mixed case scheme": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "leading spaces": '<a href="   javascript:alert(1)">x</a>',
    "tab entity": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "raw tab": '<a href="jav\tascript:alert(1)">x</a>',
    "raw newline": '<a href="java\nscript:alert(1)">x</a>',
    "control char": '<a href="\x01javascript:alert(1)">x</a>',
    "decimal entity": '<a href="&#106;avascript:alert(1)">x</a>',
    "padded entity": '<a href="&#0000106avascript:alert(1)">x</a>',
    "hex entities": (
        '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;'
        '&#x3A;alert(1)">x</a>'
    ),
    "colon entity": '<a href="javascript&colon;alert(1)">x</a>',
    "vbscript": '<a href="vbscript:alert(1)">x</a>',
    "data html": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "data upper case": '<a href="DaTa:text/html;base64,alert(1)">x</a>',
    "img javascript src": "<IMG SRC=JaVaScRiPt:alert(1)>",
    "img data src": '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "iframe": '<iframe src="https://evil.example" onload="alert(1)"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object": '<object data="javascript:alert(1)"></object>',
    "embed": '<embed src="javascript:alert(1)">',
    "form": '<form action="javascript:alert(1)"><input onfocus=alert(1)></form>',
    "button formaction": '<button formaction="javascript:alert(1)">x</button>',
    "math href": '<math href="javascript:alert(1)">x</math>',
    "math mglyph style": (
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"
    ),
    "math annotation": (
        '<math><annotation-xml encoding="text/html">'
        "<img src=x onerror=alert(1)></annotation-xml></math>"
    ),
    "style element": "<style>body{background:url(javascript:alert(1))}</style>",
    "style attribute": '<div style="background:url(javascript:alert(1))">x</div>',
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    "noscript breakout": (
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'
    ),
    "textarea breakout": "<textarea><script>alert(1)</script></textarea>",
    "template": "<template><script>alert(1)</script></template>",
    "html comment": "<!--<img src=x onerror=alert(1)>-->",
    "markdown link": "[x](javascript:alert(1))",
    "markdown link angle": "[x](<javascript:alert(1)>)",
    "markdown image": "![x](javascript:alert(1))",
    "markdown data image": "![x](data:text/html;base64,alert(1))",
    "markdown reference": "[x][r]\n\n[r]: javascript:alert(1)",
    "markdown autolink": "<javascript:alert(1)>",
    "markdown vbscript": "[x](VBScript:alert(1))",
}


@pytest.mark.parametrize("payload", XSS_PAYLOADS.values(), ids=XSS_PAYLOADS.keys())
def test_xss_payload_neutralised(payload):
    output = render_markdown(payload)

    assert_safe(output)
    # Every payload puts alert(1) where it would execute, so none may survive.
    assert "alert" not in output.lower()


@pytest.mark.parametrize(
    "payload",
    [
        '<p onclick="alert(1)">点击前文字</p>',
        '<a href="javascript:alert(1)">点击前文字</a>',
        "<details ontoggle=alert(1)>点击前文字</details>",
        "<font color=red>点击前文字</font>",
        "<center>点击前文字</center>",
        "<button>点击前文字</button>",
    ],
)
def test_stripped_tag_keeps_text(payload):
    output = render_markdown(payload)

    assert "点击前文字" in html_to_text(output)


def test_unknown_tag_stripped_not_escaped():
    output = render_markdown("<custom-tag>正文</custom-tag><o:p></o:p>")

    assert "&lt;" not in output
    assert "custom-tag" not in output
    assert "o:p" not in output
    assert "正文" in output


@pytest.mark.parametrize(
    "element",
    ["script", "style", "template", "iframe", "object", "noembed", "noframes"],
)
def test_dropped_element_content_removed(element):
    output = render_markdown(f"前<{element}>秘密内容</{element}>后")

    assert "秘密内容" not in output
    assert "前" in output
    assert "后" in output


def test_link_loses_event_handler_only():
    output = render_markdown(
        '<a href="https://ok.example/a" onclick="alert(1)" title="说明">链接</a>'
    )

    assert links(output) == [
        {"href": "https://ok.example/a", "title": "说明", "rel": EXTERNAL_LINK_REL}
    ]


def test_heading_id_with_quotes_removed():
    output = render_markdown('<h2 id="x&quot; onclick=&quot;y">标题</h2>')

    assert "<h2>标题</h2>" in output


# Bare URL linkifying


@pytest.mark.parametrize("punctuation", list("，。、；：！？）》」』】〕］｝”’…"))
def test_linkify_stops_before_chinese_punctuation(punctuation):
    output = render_markdown(f"详见https://example.com/a{punctuation}然后")
    found = links(output)

    assert len(found) == 1
    assert found[0]["href"] == "https://example.com/a"
    assert f"https://example.com/a</a>{punctuation}然后" in output


@pytest.mark.parametrize(
    ("opening", "closing"), [("（", "）"), ("《", "》"), ("「", "」")]
)
def test_linkify_inside_full_width_brackets(opening, closing):
    output = render_markdown(f"来源{opening}https://example.com/r?id=1{closing}")

    assert links(output)[0]["href"] == "https://example.com/r?id=1"
    assert f"{opening}<a " in output
    assert f"</a>{closing}" in output


def test_linkify_stops_before_han_characters():
    output = render_markdown("请访问https://www.pbc.gov.cn/zhengcehuobisi了解详情")

    assert links(output)[0]["href"] == "https://www.pbc.gov.cn/zhengcehuobisi"
    assert "</a>了解详情" in output


def test_linkify_www_gets_http_scheme():
    output = render_markdown("官网www.example.com。")

    assert links(output) == [
        {"href": "http://www.example.com", "rel": EXTERNAL_LINK_REL}
    ]


@pytest.mark.parametrize("ending", [".", ",", "!", "?", ";", ":"])
def test_linkify_drops_trailing_ascii_punctuation(ending):
    output = render_markdown(f"See https://example.com/path{ending} next")

    assert links(output)[0]["href"] == "https://example.com/path"


def test_linkify_keeps_balanced_parentheses():
    output = render_markdown("(see https://en.example.org/wiki/Bank_(finance))")

    assert links(output)[0]["href"] == "https://en.example.org/wiki/Bank_(finance)"
    assert output.endswith("</a>)</p>")


def test_linkify_keeps_query_and_fragment():
    output = render_markdown("见https://example.com/a?b=1&c=2#d，谢谢")

    assert links(output)[0]["href"] == "https://example.com/a?b=1&c=2#d"
    assert "</a>，谢谢" in output


def test_linkify_ignores_scheme_inside_word():
    output = render_markdown("xhttps://example.com and awww.example.com")

    assert links(output) == []


def test_no_linkify_inside_code():
    output = render_markdown(
        "`https://example.com/a`\n\n```\nhttps://example.com/b\n```"
    )

    assert links(output) == []


def test_no_linkify_inside_existing_link():
    output = render_markdown("[https://example.com/a](https://example.com/b)")

    assert [attrs["href"] for attrs in links(output)] == ["https://example.com/b"]


def test_linkify_ignores_other_schemes():
    output = render_markdown("javascript:alert(1) ftp://example.com/x")

    assert links(output) == []


# Raw HTML pasted from WeChat and Office

WECHAT_LIKE_HTML = """\
<div class="wechat-article" id="js_content" style="visibility: hidden;">
<style>.rich_media_content{color:#333}</style>
<section style="margin: 0px;" data-role="outer">
<p style="text-align: center;"><img class="rich_pages wxw-img" data-ratio="0.56"
 data-type="png" data-w="1080" loading="lazy" style="width: 100%;height: auto;"
 src="/article-assets/demo/image-001.png"/></p>
<p><strong><span style="font-size: 20px;font-family: 宋体;">本周信贷投放<span
 style="font-family: Calibri;">A</span>级企业占比提升。</span></strong><span
 style="font-size: 20px;"><o:p></o:p></span></p>
<p><span style="color: rgb(255, 0, 0);">存款利率&nbsp;下调&amp;净息差收窄</span>
<br/></p>
<mp-style-type data-value="3"></mp-style-type>
</section>
<script>var msg = "不应出现";</script>
</div>
"""


def test_wechat_html_keeps_text_and_structure():
    output = render_markdown(WECHAT_LIKE_HTML)
    text = html_to_text(output)
    tag_names = [tag for tag, _ in collect_tags(output)]

    assert_safe(output)
    assert "本周信贷投放A级企业占比提升。" in text
    assert "存款利率 下调&净息差收窄" in text
    assert tag_names.count("p") == 3
    assert "strong" in tag_names
    assert "不应出现" not in output
    assert "rich_media_content" not in output


def test_wechat_html_loses_attributes():
    output = render_markdown(WECHAT_LIKE_HTML)

    for tag, attrs in collect_tags(output):
        if tag == "img":
            assert attrs == {"src": "/article-assets/demo/image-001.png"}
        else:
            assert attrs == {}, tag
    assert "<section" not in output
    assert "mp-style-type" not in output
    assert "o:p" not in output


def test_office_conditional_comment_removed():
    output = render_markdown(
        "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings/></xml><![endif]-->"
        "<p class=MsoNormal>正文<o:p></o:p></p>"
    )

    assert output.strip() == "<p>正文</p>"


# html_to_text


def test_text_decodes_entities():
    text = html_to_text("<p>A&amp;B &lt;tag&gt; &#x4e2d;&#25991; &quot;q&quot;</p>")

    assert text == 'A&B <tag> 中文 "q"'


def test_text_separates_blocks_with_newlines():
    text = html_to_text("<h2>标题</h2><p>第一段</p><ul><li>甲</li><li>乙</li></ul>")

    assert text == "标题\n第一段\n甲\n乙"


def test_text_inline_tags_add_no_space():
    text = html_to_text("<p><strong>中</strong><span>国</span><em>银</em>行</p>")

    assert text == "中国银行"


def test_text_collapses_whitespace():
    text = html_to_text("<p>  利率 \n\t 下调  </p>\n\n\n<p>\u3000\u3000净息差</p>")

    assert text == "利率 下调\n净息差"


def test_text_line_break_starts_new_line():
    text = html_to_text("<p>第一行<br>第二行<br/>第三行</p>")

    assert text == "第一行\n第二行\n第三行"


def test_text_table_cells_separated():
    text = html_to_text(
        "<table><tr><th>行业</th><th>涨幅</th></tr>"
        "<tr><td>电子</td><td>3.2%</td></tr></table>"
    )

    assert text == "行业 涨幅\n电子 3.2%"


def test_text_skips_script_and_style():
    text = html_to_text(
        "<p>前</p><script>var a = '<p>x</p>';</script><style>p{}</style><p>后</p>"
    )

    assert text == "前\n后"


def test_text_keeps_code_line_breaks():
    text = html_to_text("<pre><code>a = 1\nb = 2\n</code></pre>")

    assert text == "a = 1\nb = 2"


def test_text_of_rendered_markdown():
    output = render_markdown(
        "# 一、概况\n\n**银行**业\n信贷&投放\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )

    assert html_to_text(output) == "一、概况\n银行业\n信贷&投放\na b\n1 2"


def test_text_of_empty_input():
    assert html_to_text("") == ""


# Corpus of published reports and WeChat articles


def read_body(path: Path) -> str:
    """Return the Markdown body of a file after its YAML front matter."""
    text = path.read_text(encoding="utf-8")
    if frontmatter is not None:
        return frontmatter.loads(text).content
    parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
    if text.startswith("---") and len(parts) == 3:
        return parts[2]
    return text


def source_han_text(body: str) -> str:
    """Return the Han characters of a source's text content, markup removed."""
    without_markup = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL)
    without_markup = re.sub(r"<[A-Za-z/!][^>]*>", "", without_markup)
    return "".join(HAN_RE.findall(html.unescape(without_markup)))


def corpus_id(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


@pytest.mark.skipif(
    not CORPUS_FILES, reason=f"industry report corpus not found in {CORPUS_DIR}"
)
@pytest.mark.parametrize("path", CORPUS_FILES, ids=corpus_id)
def test_corpus_file_renders_safely(path):
    body = read_body(path)
    output = render_markdown(body)

    assert_safe(output)
    # Han characters appear in the same order and number as in the source, so
    # no visible text was lost or leaked in from markup.
    assert "".join(HAN_RE.findall(html_to_text(output))) == source_han_text(body)


@pytest.mark.skipif(
    not CORPUS_FILES, reason=f"industry report corpus not found in {CORPUS_DIR}"
)
@pytest.mark.parametrize(
    "path", [p for p in CORPUS_FILES if p.parent.name == "articles"], ids=corpus_id
)
def test_corpus_article_keeps_images(path):
    body = read_body(path)
    output = render_markdown(body)
    source_images = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', body)
    output_images = [
        attrs.get("src") for tag, attrs in collect_tags(output) if tag == "img"
    ]

    assert output_images == source_images


def test_many_open_brackets_render_as_plain_text():
    # Python-Markdown would search to the end of the block from every "[".
    html = render_markdown("前言\n\n" + "[" * 300_000 + "\n\n## 结论")
    assert "<p>前言</p>" in html
    assert "[" * 1000 in html
    assert "<h2" in html


def test_many_links_in_one_paragraph_stay_links():
    body = "".join(f"[来源{n}](https://example.com/{n})，" for n in range(150))
    html = render_markdown(body)
    assert html.count("<a ") == 150


def test_plain_block_text_is_escaped():
    html = render_markdown("<script>x</script>" + "[" * 100_000)
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_heading_flood_in_one_block_is_plain_text():
    html = render_markdown("# h\n" * 70_000)
    assert "<h1" not in html
    assert html.count("# h<br>") > 60_000


def test_deep_list_nesting_does_not_fail():
    source = "".join("  " * depth + "- a\n" for depth in range(540))
    html = render_markdown(source)
    assert "<li>" not in html
    assert html.count("- a") == 540


def test_unclosed_tag_flood_is_escaped():
    html = render_markdown("<div>" * 50_000)
    assert "<div>" not in html
    assert html.count("&lt;div&gt;") == 50_000


def test_deep_quote_is_escaped():
    html = render_markdown(">" * 100_000 + " a")
    assert "<blockquote>" not in html
    assert html.count("&gt;") == 100_000


def test_many_headings_in_separate_blocks_still_render():
    source = "intro\n\n" + "".join(f"## 第 {n} 节\n\n正文 {n}\n\n" for n in range(400))
    html = render_markdown(source)
    assert html.count("<h2") == 400


@pytest.mark.parametrize(
    "opening",
    ["<script>", "<SCRIPT src=x>", "<style>", "<iframe srcdoc='x'>", "<textarea>"],
)
def test_unclosed_raw_text_tag_keeps_the_rest(opening):
    rendered = render_markdown(f"授信结论\n\n{opening}alert(1)\n\n后续段落照常显示")
    assert "后续段落照常显示" in rendered
    assert html.escape(opening.split()[0].rstrip(">"), quote=False) in rendered
    assert "<script" not in rendered.lower()
    assert "<style" not in rendered.lower()
    assert "<iframe" not in rendered.lower()


def test_closed_script_still_dropped_with_content():
    rendered = render_markdown("<script>alert(1)</script>\n\n正文 <script>b")
    assert "alert(1)" not in rendered
    assert "正文" in rendered
    assert "&lt;script&gt;b" in rendered
