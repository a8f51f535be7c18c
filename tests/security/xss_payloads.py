"""Cross-site scripting payloads that every user-editable field must survive.

Each payload calls ``__xss('<id>')``, or ``alert('<id>')`` where the function
name is part of the trick, so a browser test that defines both as recorders can
tell which payload ran. ``MARKDOWN`` goes into Markdown bodies, joined by blank
lines. ``INLINE`` contains one-line payloads for titles, names and search queries,
and ``TAGS`` the short ones a tag field accepts.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Payload:
    id: str
    text: str


def _call(payload_id: str) -> str:
    return f"__xss('{payload_id}')"


def _markdown() -> list[Payload]:
    svg = "PHN2ZyBvbmxvYWQ9Il9feHNzKCdtZC1kYXRhLXN2ZycpIi8+"  # <svg onload=...>
    html = "PHNjcmlwdD5fX3hzcygnbWQtZGF0YS1odG1sJyk8L3NjcmlwdD4="  # <script>...
    cases = {
        # Markdown link and image schemes in every spelling a browser accepts.
        "md-js": "[lower](javascript:{js})",
        "md-js-case": "[mixed](JaVaScRiPt:{js})",
        "md-js-dec": "[decimal](&#106;avascript:{js})",
        "md-js-hex": "[hex](&#x6A;avascript:{js})",
        "md-js-nosemi": "[no semicolon](&#106avascript:{js})",
        "md-js-colon": "[named colon](javascript&colon;{js})",
        "md-js-tab": "[tab](java\tscript:{js})",
        "md-js-newline": "[newline](<java\nscript:{js}>)",
        "md-js-nul": "[nul](java&#0;script:{js})",
        "md-js-entity-tab": "[entity tab](java&#9;script:{js})",
        "md-js-lead": "[leading space](   javascript:{js})",
        "md-js-lead-entity": "[leading entity](&#32;javascript:{js})",
        "md-js-angle": "[angle](<javascript:{js}>)",
        "md-js-title": '[titled](javascript:{js} "title")',
        "md-vbs": "[vb](vbscript:msgbox({js}))",
        "md-data-html": f"[data html](data:text/html;base64,{html})",
        "md-data-svg": f"[data svg](data:image/svg+xml;base64,{svg})",
        "md-data-svg-plain": ('[svg plain](data:image/svg+xml,<svg onload="{js}"/>)'),
        "md-img-js": "![image](javascript:{js})",
        "md-img-onerror": '![x" onerror="{js}](x)',
        "md-img-data-svg": f"![svg](data:image/svg+xml;base64,{svg})",
        "md-ref": "[reference][xss-ref]\n\n[xss-ref]: javascript:{js}",
        "md-ref-img": "![reference image][xss-img]\n\n[xss-img]: javascript:{js}",
        "md-autolink": "<javascript:{js}>",
        "md-autolink-data": "<data:text/html,<script>{js}</script>>",
        "md-link-title-break": '[t](https://example.com "\\" onmouseover=\\"{js}")',
        "md-code-html": "`<img src=x onerror={js}>`",
        "md-fence-html": "```html\n<script>{js}</script>\n```",
        # Raw HTML tags and attributes.
        "html-script": "<script>{js}</script>",
        "html-script-src": '<script src="data:text/javascript,{js}"></script>',
        "html-img": "<img src=x onerror={js}>",
        "html-img-quoted": '<img src="x" onerror="{js}">',
        "html-svg-onload": "<svg onload={js}>",
        "html-svg-script": "<svg><script>{js}</script></svg>",
        "html-math": (
            '<math><mtext><table><mglyph><style><img src=x onerror="{js}">'
            "</style></mglyph></table></mtext></math>"
        ),
        "html-math-href": '<math href="javascript:{js}"><mi>x</mi></math>',
        "html-iframe": '<iframe srcdoc="<script>parent.{js}</script>"></iframe>',
        "html-iframe-src": '<iframe src="javascript:parent.{js}"></iframe>',
        "html-object": '<object data="javascript:{js}"></object>',
        "html-embed": '<embed src="javascript:{js}">',
        "html-form": (
            '<form action="javascript:{js}"><button id="xss-form">go</button></form>'
        ),
        "html-a": '<a href="javascript:{js}" id="xss-a">link</a>',
        "html-a-entity": '<a href="&#x6A;avascript&colon;{js}">entity link</a>',
        "html-details": "<details open ontoggle={js}><summary>s</summary></details>",
        "html-body": "<body onload={js}>",
        "html-style-import": "<style>@import 'javascript:{js}';</style>",
        "html-style-attr": (
            '<div style="background:url(javascript:{js})">styled</div>'
        ),
        "html-input-autofocus": "<input autofocus onfocus={js}>",
        "html-video": "<video><source onerror={js}></video>",
        "html-marquee": "<marquee onstart={js}>m</marquee>",
        "html-meta": '<meta http-equiv="refresh" content="0;url=javascript:{js}">',
        "html-base": '<base href="javascript:{js}//">',
        "html-link": '<link rel="import" href="data:text/html,<script>{js}</script>">',
        "html-span-event": '<span onmouseover="{js}" id="xss-span">hover</span>',
        "html-div-clobber": '<div id="__xss">clobber</div>',
        # Mutation XSS: markup that means one thing to the sanitiser and
        # another once the browser parses the sanitised output again.
        "mx-noscript": (
            '<noscript><p title="</noscript><img src=x onerror={js}>"></noscript>'
        ),
        "mx-svg-style": (
            '<svg></p><style><a id="</style><img src=1 onerror={js}>"></style></svg>'
        ),
        "mx-comment": '<!--<img src="--><img src=x onerror={js}>">',
        "mx-comment-bang": "<!--!><img src=x onerror={js}>-->",
        "mx-template": "<template><img src=x onerror={js}></template>",
        "mx-cdata": "<svg><![CDATA[><img src=x onerror={js}>]]></svg>",
        "mx-cdata-bare": "<![CDATA[<img src=x onerror={js}>]]>",
        "mx-textarea": "<textarea></textarea><img src=x onerror={js}></textarea>",
        "mx-title": "<title><img src=x onerror={js}></title>",
        "mx-xmp": "<xmp><img src=x onerror={js}></xmp>",
        "mx-select": "<select><template><img src=x onerror={js}></template></select>",
        "mx-table": "<table><a href=x><img src=x onerror={js}></a></table>",
        # Breaking out of an attribute or a script string.
        "attr-dq": '"><img src=x onerror={js}>',
        "attr-sq": "'><svg onload={js}>",
        "attr-unquoted": "x onmouseover={js} ",
        "script-close": "</script><script>{js}</script>",
        "js-string": "';{js};'",
        "js-string-dq": '";{js};"',
        # Template injection: must stay literal text.
        "tpl-jinja": "{{{{7*7}}}} {{{{ config }}}} {{% raw %}}",
        "tpl-js": "${{{js}}} `${{{js}}}`",
    }
    return [Payload(key, value.format(js=_call(key))) for key, value in cases.items()]


MARKDOWN = _markdown()

# One-line payloads that fit a 200-character title and show as literal text.
INLINE = [
    payload
    for payload in MARKDOWN
    if "\n" not in payload.text
    and "\x00" not in payload.text
    and "\t" not in payload.text
    and len(payload.text) <= 120
]

# Tags are at most 40 characters and split at ",", ";" and "、".
TAGS = [
    Payload(key, text)
    for key, text in (
        ("tag-img", "<img src=x onerror=__xss('tag-img')>"),
        ("tag-svg", "<svg onload=__xss('tag-svg')>"),
        ("tag-dq", "\"><img src=x onerror=__xss('tag-dq')>"),
        ("tag-sq", "'><svg onload=__xss('tag-sq')>"),
        ("tag-script", "<script>__xss('tag-script')</script>"),
        ("tag-tpl", "{{7*7}}${__xss('tag-tpl')}"),
    )
]

START_MARKER = "XSS 语料开始"
END_MARKER = "XSS 语料结束"
BODY_PAYLOADS = 10


def markdown_bodies() -> list[str]:
    """Split ``MARKDOWN`` into bodies of ``BODY_PAYLOADS`` payloads each.

    Each body starts with ``START_MARKER`` and ends with ``END_MARKER``, both
    numbered, so a page that shows both rendered the whole body. The corpus
    is split because in one body Python-Markdown's raw HTML handling mixes
    the payloads and leaves an unclosed ``<script>``, and the sanitiser then
    drops everything after it, so later payloads would never reach the page.
    """
    bodies = []
    for start in range(0, len(MARKDOWN), BODY_PAYLOADS):
        number = len(bodies) + 1
        texts = [payload.text for payload in MARKDOWN[start : start + BODY_PAYLOADS]]
        parts = [f"{START_MARKER} {number}", *texts, f"{END_MARKER} {number}"]
        bodies.append("\n\n".join(parts))
    return bodies


def body_markers(body: str) -> list[str]:
    """Return the first and last line of a body from ``markdown_bodies``."""
    lines = body.splitlines()
    return [lines[0], lines[-1]]
