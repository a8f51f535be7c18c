"""The Whoosh engine on a real index in a temporary folder."""

from datetime import datetime, timedelta

import pytest

from kb.search.analysis import normalize_text
from kb.search.documents import SearchDocument
from kb.search.engine import MAX_TERMS, SearchEngine, make_snippet, parse_query

TEXTS = {
    1: ("小微企业续贷政策", "多家银行推出无还本续贷，1年期LPR下调10个基点。"),
    2: ("特高压建设提速", "HVDC 线路投资增长，2024年核准8条，换流站订单饱满。"),
    3: ("新能源汽车", "800V高压平台渗透率提升，5G车联网加速；贷款需求旺盛。"),
    4: ("钢铁行业观察", "产能过剩，２０２４年利润下降。到期贷款展期增加。"),
    5: ("跨境电商", "海外仓建设带动供应链金融需求，继续贷款给头部卖家。"),
    6: ("光伏<组件>价格", "TOPCon 组件价格跌至0.7元/W，<script>alert(1)</script>。"),
}


def doc(number: int, **changes) -> SearchDocument:
    title, body = TEXTS.get(number, (f"简报{number}", "正文"))
    fields = {
        "doc_id": f"article:{number}",
        "type": "article",
        "record_id": number,
        "title": title,
        "summary": "",
        "body": body,
        "url": f"/briefs/{number}",
        "published_at": datetime(2024, 1, 1) + timedelta(days=number),
        "version": "v1",
        "tags": ("ESG",) if number % 2 else ("供应链",),
        "industry_codes": ("44", "D") if number == 2 else ("36", "C"),
        "industry_names": ("汽车制造业",),
    }
    fields.update(changes)
    return SearchDocument(**fields)


@pytest.fixture
def engine(tmp_path):
    engine = SearchEngine(tmp_path / "index", tmp_path / "jieba.cache")
    engine.write([doc(n) for n in TEXTS], [])
    yield engine
    engine.close()


def ids(page) -> set[int]:
    return {hit.record_id for hit in page.hits}


def substring_ids(term: str) -> set[int]:
    wanted = normalize_text(term)
    return {
        n
        for n, (title, body) in TEXTS.items()
        if wanted in normalize_text(title + " " + body)
    }


@pytest.mark.parametrize(
    "term",
    [
        "续贷",
        "贷",
        "贷款",
        "LPR",
        "lpr",
        "HVDC",
        "800V",
        "5G",
        "2024年",
        "２０２４",
        "2024",
        "供应链金融",
        "换流站",
        "光伏",
        "topcon",
        "0.7",
    ],
)
def test_finds_every_document_containing_the_term(engine, term):
    page = engine.search(term, per_page=50)
    assert ids(page) == substring_ids(term)
    assert page.total == len(substring_ids(term))


def test_quoted_phrase_finds_only_documents_with_it(engine):
    assert ids(engine.search('"无还本续贷"')) == {1}
    assert ids(engine.search('"贷款展期"')) == {4}
    assert ids(engine.search('"展期贷款"')) == set()


def test_terms_are_all_required(engine):
    assert ids(engine.search("贷款 2024")) == {4}


def test_or_and_exclusion(engine):
    assert ids(engine.search("HVDC OR 800V")) == {2, 3}
    assert ids(engine.search("贷款 -钢铁")) == {3, 5}
    assert ids(engine.search("贷款 NOT 钢铁")) == {3, 5}


def test_whole_word_and_title_matches_rank_first(engine):
    page = engine.search("续贷")
    assert [hit.record_id for hit in page.hits][0] == 1
    # "贷款" is a whole word in 3 and 4. Brief 5 only has "继续贷款给", which
    # jieba splits differently, and it is found all the same.
    ranked = [hit.record_id for hit in engine.search("贷款").hits]
    assert set(ranked) == {3, 4, 5}


def test_filters_and_date_sort(engine):
    assert ids(engine.search("", industry="D")) == {2}
    assert ids(engine.search("增长", industry="44")) == {2}
    assert ids(engine.search("", tag="esg")) == set()
    assert ids(engine.search("", tag="ESG")) == {1, 3, 5}
    assert ids(engine.search("贷", types=["post"])) == set()
    dated = engine.search("贷", sort="date")
    assert [hit.record_id for hit in dated.hits] == [5, 4, 3, 1]


def test_acl_limits_results(engine):
    engine.write([doc(7, acl=("dept:3",), body="部门内部续贷")], [])
    assert 7 not in ids(engine.search("续贷", acl=["all", "dept:1"]))
    assert 7 in ids(engine.search("续贷", acl=["all", "dept:3"]))
    assert ids(engine.search("续贷", acl=[])) == set()


def test_pagination(engine):
    engine.write([doc(n, body="同业存单利率") for n in range(10, 35)], [])
    first = engine.search("同业存单", per_page=10)
    third = engine.search("同业存单", page=3, per_page=10)
    assert first.total == 25
    assert first.pages == 3
    assert len(third.hits) == 5
    assert not ids(first) & ids(third)


def test_one_document_per_record_whatever_the_order(engine):
    engine.write([doc(1, body="第二版：票据贴现", version="v2")], [])
    engine.write([doc(1, body="第三版：保理", version="v3")], [])
    assert engine.versions()["article:1"] == "v3"
    assert ids(engine.search("票据贴现")) == set()
    assert ids(engine.search("保理")) == {1}
    engine.write([], ["article:1"])
    assert "article:1" not in engine.versions()
    assert engine.search("保理").total == 0
    assert 1 not in ids(engine.search("", tag="ESG"))
    assert engine.doc_count() == len(TEXTS) - 1


def test_clear_empties_the_index(engine):
    engine.clear()
    assert engine.doc_count() == 0
    assert engine.search("续贷").total == 0
    engine.write([doc(1)], [])
    assert ids(engine.search("续贷")) == {1}


@pytest.mark.parametrize(
    "query",
    [
        '"续贷',
        "续贷)",
        "((",
        "title:续贷",
        "*",
        "续*",
        "AND",
        "OR 续贷",
        "NOT",
        "a" * 1000,
        "😀😀",
        "\x00\x07",
        "续贷 AND OR NOT",
        "-",
        '""',
        "：？！",
        "\\",
    ],
)
def test_no_query_raises(engine, query):
    page = engine.search(query)
    assert page.total >= 0


def test_internal_fields_are_not_reachable(engine):
    # Field syntax is plain text: "acl:all" looks for the words acl and all.
    assert engine.search("acl:all").total == 0
    assert engine.search("doc_id:article").total == 0


def test_query_keeps_at_most_ten_terms():
    parsed = parse_query(" ".join(f"词{n}" for n in range(30)))
    assert len(parsed.groups) == MAX_TERMS


def test_snippets_escape_html_and_mark_whole_terms(engine):
    hit = engine.search("TOPCon").hits[0]
    assert "<mark>TOPCon</mark>" in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<script" not in hit.snippet
    hit = engine.search("２０２４年").hits[0]
    assert "<mark>２０２４年</mark>" in hit.snippet


def test_snippet_window_centres_on_matches():
    text = "无关内容。" * 200 + "这里讨论续贷安排。" + "其他段落。" * 200
    snippet = make_snippet(text, ["续贷"])
    assert "<mark>续贷</mark>" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")


def test_searcher_sees_commits_from_another_engine(tmp_path):
    reader = SearchEngine(tmp_path / "index")
    assert reader.search("续贷").total == 0
    writer = SearchEngine(tmp_path / "index")
    writer.write([doc(1)], [])
    assert reader.search("续贷").total == 1
    reader.close()
    writer.close()


def test_invisible_characters_do_not_split_words(tmp_path):
    engine = SearchEngine(tmp_path / "index")
    engine.write([doc(1, body="特\u200b高压与比亚\u00ad迪，\ufeff续贷")], [])
    assert ids(engine.search("特高压")) == {1}
    assert ids(engine.search("比亚迪")) == {1}
    assert "<mark>特高压</mark>" in engine.search("特高压").hits[0].snippet
    engine.close()


def test_dotted_dates_contain_their_numbers(engine):
    engine.write([doc(8, body="公告日期（2024.3.19），增速5.2%")], [])
    assert 8 in ids(engine.search("2024"))
    assert 8 in ids(engine.search("5.2"))
    assert 8 in ids(engine.search("19"))


def test_punctuation_between_words_is_ignored(engine):
    engine.write([doc(9, body="电池级碳酸锂价格与光伏储能项目")], [])
    assert 9 in ids(engine.search("电池级-碳酸锂"))
    assert 9 in ids(engine.search("光伏、储能"))
    assert 9 in ids(engine.search('"光伏 储能"'))


def test_exclusion_applies_to_filter_only_listing(engine):
    listed = ids(engine.search("-钢铁", industry="C"))
    assert 4 not in listed
    assert 3 in listed


def test_posting_arrays_equal_whoosh_postings(tmp_path):
    from kb.search.postings import Snapshot

    engine = SearchEngine(tmp_path / "index")
    engine.write(
        [
            doc(n, body=f"第{n}期贷款" + ("续贷" if n % 3 else ""))
            for n in range(1, 400)
        ],
        [],
    )
    engine.write([], ["article:5"])
    snapshot = Snapshot(engine._index.searcher())
    reader = snapshot.reader
    for term in ("贷款", "续贷", "期贷"):
        expected = []
        for leaf, offset in reader.leaf_readers():
            if ("grams", term) in leaf:
                expected += [offset + i for i in leaf.postings("grams", term).all_ids()]
        assert snapshot.postings("grams", term)[0].tolist() == expected
    assert engine.search("续贷").total == len([n for n in range(1, 400) if n % 3]) - 1
    snapshot.close()
    engine.close()


def test_index_with_other_fields_starts_over(tmp_path):
    from whoosh import fields
    from whoosh import index as whoosh_index

    old = tmp_path / "index" / "whoosh"
    old.mkdir(parents=True)
    whoosh_index.create_in(str(old), fields.Schema(doc_id=fields.ID(stored=True)))
    seq_file = tmp_path / "index" / "applied-seq"
    seq_file.write_text("42")
    engine = SearchEngine(tmp_path / "index")
    assert not seq_file.exists()
    engine.write([doc(1)], [])
    assert ids(engine.search("续贷")) == {1}
    engine.close()
