"""Import the real industry reports and WeChat articles, render them and search them."""

import re
import unicodedata
from html.parser import HTMLParser

import pytest

from kb.articles.models import Article
from kb.extensions import db
from tests.conftest import CORPUS_DIR

pytestmark = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(),
    reason=f"the industry-report corpus is not at {CORPUS_DIR}",
)

# Chinese words found inside longer sentences, Latin abbreviations and figures
# with units; each must occur in the corpus (checked below).
TERMS = [
    "贷款",
    "降准",
    "特高压",
    "同比增长",
    "万亿元",
    "800V",
    "5G",
    "光伏",
    "储能",
    "算力",
    "出口",
    "LPR",
    "GDP",
    "PMI",
    "AI",
    "亿元",
    "2024年",
]

OWN_SCRIPT = '<script src="/static/js/kb.js" defer></script>'
BANNED = [
    re.compile(r"<script", re.IGNORECASE),
    re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE),
    re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
]


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def occurs(term: str, text: str) -> bool:
    """Scan for ``term``: Latin words and numbers as whole tokens, Chinese anywhere."""
    term = fold(term)
    if term.isascii() and term.isalnum():
        return (
            re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None
        )
    return term in text


@pytest.fixture
def imported(app, runner):
    result = runner.invoke(args=["import", "markdown", str(CORPUS_DIR)])
    assert result.exit_code == 0, result.output[-2000:]
    return result.output


def test_every_file_imported(app, imported):
    files = sorted(CORPUS_DIR.rglob("*.md"))
    reports = [path for path in files if path.read_text("utf-8").startswith("---")]
    # The corpus describes itself in a Markdown note without front matter.
    notes = len(files) - len(reports)
    assert len(reports) >= 144
    assert (
        f"{len(files)} files: {len(reports)} created, 0 updated, 0 unchanged, "
        f"{notes} skipped, 0 rejected." in imported
    )
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count(Article.id)))
    assert count == len(reports)


def test_rendered_pages_are_safe(app, imported, signed_in):
    with app.app_context():
        ids = db.session.scalars(db.select(Article.id)).all()
    for article_id in ids:
        page = signed_in.get(f"/briefs/{article_id}").get_data(as_text=True)
        # The whole page, without the one script the layout itself loads.
        body = page.replace(OWN_SCRIPT, "")
        for pattern in BANNED:
            assert not pattern.search(body), (
                f"brief {article_id} matches {pattern.pattern}"
            )


def test_search_matches_substring_scan(app, imported, signed_in):
    with app.app_context():
        articles = db.session.scalars(db.select(Article)).all()
        texts = {
            a.id: fold(
                " ".join(
                    [a.title, a.summary, plain_text(a.body_html)]
                    + [t.name for t in a.tags]
                    + [i.name for i in a.industries]
                )
            )
            for a in articles
        }
    for term in TERMS:
        expected = {i for i, text in texts.items() if occurs(term, text)}
        assert expected, f"{term} does not occur in the corpus"
        found = set()
        page = 1
        while True:
            data = signed_in.get(
                "/api/v1/search",
                query_string={"q": term, "per_page": 100, "page": page},
            ).get_json()
            found |= {hit["id"] for hit in data["results"]}
            if page * 100 >= data["total"]:
                break
            page += 1
        missing = expected - found
        assert not missing, (
            f"{term}: {len(missing)} documents not found, e.g. {sorted(missing)[:5]}"
        )
