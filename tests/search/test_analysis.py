"""The analysis shared by indexing and querying."""

import pytest

from kb.search.analysis import (
    gram_tokens,
    index_words,
    normalize_text,
    query_grams,
    term_pattern,
)


def grams(text: str) -> list[str]:
    return list(gram_tokens(normalize_text(text)))


def test_normalize_folds_width_case_and_controls():
    assert normalize_text("ＬＰＲ　２０２４") == "lpr 2024"
    assert normalize_text("HVDC\x00\u200b续贷") == "hvdc 续贷"
    assert normalize_text("特\u00ad高\ufeff压") == "特高压"


def test_han_runs_give_pairs_and_last_character():
    assert grams("续贷安排") == ["续贷", "贷安", "安排", "排"]


def test_latin_runs_whole_in_parts_and_joined():
    assert grams("800V平台，LPR下调5.2%") == [
        "800v",
        "800",
        "v",
        "800v平",
        "v平",
        "平台",
        "台",
        "lpr",
        "lpr下",
        "下调",
        "调",
        "5.2",
        "5",
        "2",
        "调5.2",
        "调5",
    ]


def test_dotted_numbers_give_each_number():
    assert grams("2024.3.19日") == [
        "2024.3.19",
        "2024",
        "3",
        "19",
        "2024.3.19日",
        "19日",
        "日",
    ]


def test_emoji_and_punctuation_give_no_tokens():
    assert grams("😀！？（）:*") == []


@pytest.mark.parametrize(
    ("query", "tokens", "prefixes"),
    [
        ("续贷", ["续贷"], []),
        ("无还本续贷", ["无还", "还本", "本续", "续贷"], []),
        ("贷", [], ["贷"]),
        ("2024年", ["2024", "2024年"], []),
        ("年2024", ["2024", "年2024"], []),
        ("增长，年", ["增长"], ["年"]),
        ("ＨＶＤＣ", ["hvdc"], []),
        ("800V", ["800v"], []),
    ],
)
def test_query_grams(query, tokens, prefixes):
    result = query_grams(normalize_text(query))
    assert result.tokens == tokens
    assert result.prefixes == prefixes


def _matches(query: str, text: str) -> bool:
    """Whether the text has every gram the query needs."""
    wanted = query_grams(normalize_text(query))
    present = set(grams(text))
    if not all(token in present for token in wanted.tokens):
        return False
    return all(any(t.startswith(p) for t in present) for p in wanted.prefixes)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("续贷", "小微企业无还本续贷政策"),
        ("本续", "无还本续贷"),
        ("贷", "续贷。"),
        ("贷", "贷款余额"),
        ("2024年", "2024年营收增长"),
        ("２０２４年", "截至2024年末"),
        ("800V", "800V高压平台"),
        ("800", "800V高压平台"),
        ("V平台", "800V平台"),
        ("增长，年度", "增长；年度目标"),
        ("5G基站", "新建5G基站3万个"),
        ("第3季度", "第3季度末"),
        ("2024", "（2024.3.19）"),
        ("2.0版", "v2.0版本"),
        ("下调5", "下调5.2%"),
    ],
)
def test_every_substring_has_its_grams(query, text):
    assert _matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("续贷", "续借贷款"),
        ("2024年", "2023年，2024"),
        ("贷款", "贷 款"),
        ("展期贷款", "贷款展期"),
        ("LPR", "LPRS"),
    ],
)
def test_absent_strings_do_not_match(query, text):
    assert not _matches(query, text)


def test_index_words_drop_punctuation_and_keep_trade_terms():
    from kb.search.analysis import load_dictionary

    load_dictionary()
    words = index_words(normalize_text("办理无还本续贷，LPR下调。"))
    assert "无还本续贷" in words
    assert "续贷" in words
    assert "lpr" in words
    assert "，" not in words


def test_term_pattern_matches_whole_latin_words_only():
    import re

    pattern = re.compile(term_pattern("lpr"))
    assert pattern.search("1年期lpr下调")
    assert not pattern.search("lprs")
    assert re.search(term_pattern("2024 年"), "截至2024年末")
