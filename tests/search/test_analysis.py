"""The analysis shared by indexing and querying."""

import pytest

from kb.search.analysis import (
    gram_tokens,
    index_words,
    normalize_text,
    query_grams,
    term_pattern,
)


def grams(text: str) -> list[tuple[str, int]]:
    return list(gram_tokens(normalize_text(text)))


def test_normalize_folds_width_case_and_controls():
    assert normalize_text("ＬＰＲ　２０２４") == "lpr 2024"
    assert normalize_text("HVDC\x00\u200b续贷") == "hvdc  续贷"


def test_han_runs_give_bigrams_and_a_closing_character():
    assert grams("续贷安排") == [
        ("续", 0),
        ("续贷", 0),
        ("贷安", 1),
        ("安排", 2),
        ("排", 3),
    ]


def test_latin_words_and_figures_are_whole_tokens():
    assert grams("800V平台，LPR下调5.2%") == [
        ("800", 0),
        ("v", 1),
        ("平", 2),
        ("平台", 2),
        ("台", 3),
        ("lpr", 4),
        ("下", 5),
        ("下调", 5),
        ("调", 6),
        ("5.2", 7),
    ]


def test_emoji_and_punctuation_give_no_tokens():
    assert grams("😀！？（）:*") == []


@pytest.mark.parametrize(
    ("query", "tokens", "prefix"),
    [
        ("续贷", ["续贷"], False),
        ("无还本续贷", ["无还", "还本", "本续", "续贷"], False),
        ("贷", ["贷"], True),
        ("2024年", ["2024", "年"], False),
        ("年2024", ["年", "2024"], False),
        ("续贷 2024", ["续贷", "贷", "2024"], False),
        ("ＨＶＤＣ", ["hvdc"], False),
    ],
)
def test_query_grams(query, tokens, prefix):
    result = query_grams(normalize_text(query))
    assert result.tokens == tokens
    assert result.prefix is prefix


def _phrase_in(query: str, text: str) -> bool:
    """Whether the query's grams occur at consecutive positions of the text."""
    wanted = query_grams(normalize_text(query))
    by_pos: dict[int, set[str]] = {}
    for token, pos in grams(text):
        by_pos.setdefault(pos, set()).add(token)
    for start in by_pos:
        ok = True
        for offset, token in enumerate(wanted.tokens):
            present = by_pos.get(start + offset, set())
            if wanted.prefix:
                present = {p[:1] for p in present}
            if token not in present:
                ok = False
                break
        if ok:
            return True
    return False


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
        ("增长，年度", "增长；年度目标"),
        ("5G基站", "新建5G基站3万个"),
    ],
)
def test_every_substring_is_a_phrase_of_grams(query, text):
    assert _phrase_in(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [("续贷", "续借贷款"), ("2024年", "2023年"), ("贷款", "贷 款")],
)
def test_absent_strings_do_not_match(query, text):
    assert not _phrase_in(query, text)


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
