import unicodedata

import pytest

from kb.taxonomy.tags import MAX_TAG_LENGTH, normalize_tag, parse_tags, validate_tag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("制造业", "制造业"),
        ("制造业 ", "制造业"),
        ("制造业\u3000", "制造业"),
        ("\u3000制造业\u3000", "制造业"),
        ("\t制造业\n", "制造业"),
        ("ESG", "esg"),
        ("esg", "esg"),
        ("ＥＳＧ", "esg"),
        ("Esg", "esg"),
        ("ESG 投资", "esg 投资"),
        ("ESG\u3000投资", "esg 投资"),
        ("ESG\u00a0投资", "esg 投资"),
        ("ESG \t\u3000 投资", "esg 投资"),
        ("ESG\r\n投资", "esg 投资"),
        ("ESG\u2003投资", "esg 投资"),
        ("新能源  汽车", "新能源 汽车"),
        ("５Ｇ", "5g"),
        ("Straße", "strasse"),
        ("\u0390", "\u0390"),
        ("ﬁntech", "fintech"),
        ("", ""),
        ("   ", ""),
        ("\u3000\u3000", ""),
    ],
)
def test_normalize_tag(raw, expected):
    assert normalize_tag(raw) == expected


def test_normalize_tag_makes_variants_equal():
    assert normalize_tag("制造业") == normalize_tag("制造业 ")
    assert normalize_tag("制造业") == normalize_tag("制造业\u3000")
    assert normalize_tag("ESG") == normalize_tag("esg")
    assert normalize_tag("ESG") == normalize_tag("ＥＳＧ")


@pytest.mark.parametrize(
    "raw",
    ["制造业\u3000", "ＥＳＧ  投资", "Straße", "\u0390", "ΐ̈", "Ⅻ", "\u1e9e", "ǅ"],
)
def test_normalize_tag_is_idempotent_and_nfkc(raw):
    tag = normalize_tag(raw)

    assert normalize_tag(tag) == tag
    assert unicodedata.normalize("NFKC", tag) == tag


def test_normalize_tag_keeps_control_characters():
    tag = normalize_tag("bad\x00tag")

    assert tag == "bad\x00tag"
    assert validate_tag(tag) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("制造业,ESG", ["制造业", "esg"]),
        ("制造业，ESG", ["制造业", "esg"]),
        ("制造业、ESG", ["制造业", "esg"]),
        ("制造业；ESG", ["制造业", "esg"]),
        ("制造业;ESG", ["制造业", "esg"]),
        ("制造业\nESG", ["制造业", "esg"]),
        ("制造业\r\nESG", ["制造业", "esg"]),
        ("制造业\u2028ESG", ["制造业", "esg"]),
        ("制造业﹐ESG﹑绿色金融﹔普惠", ["制造业", "esg", "绿色金融", "普惠"]),
        (
            " 制造业 ，ESG、绿色金融;\n普惠金融\u3000, 新能源",
            ["制造业", "esg", "绿色金融", "普惠金融", "新能源"],
        ),
        ("ESG 投资, 新能源\t汽车", ["esg 投资", "新能源 汽车"]),
    ],
)
def test_parse_tags_splits_on_separators(text, expected):
    assert parse_tags(text) == expected


def test_parse_tags_drops_empty_items():
    assert parse_tags(",,制造业, ,\u3000，、;\n\nESG,") == ["制造业", "esg"]


@pytest.mark.parametrize("text", ["", "   ", ",，、；;\n", "\u3000"])
def test_parse_tags_blank_input_returns_empty(text):
    assert parse_tags(text) == []


def test_parse_tags_keeps_first_duplicate():
    text = "ESG, 制造业，esg、ＥＳＧ；制造业\u3000\n绿色金融, 制造业 "

    assert parse_tags(text) == ["esg", "制造业", "绿色金融"]


def test_parse_tags_does_not_validate():
    long_tag = "长" * (MAX_TAG_LENGTH + 1)

    assert parse_tags(f"{long_tag},ESG") == [long_tag, "esg"]


@pytest.mark.parametrize(
    "tag",
    ["制造业", "esg", "esg 投资", "a", "长" * MAX_TAG_LENGTH, "x" * MAX_TAG_LENGTH],
)
def test_validate_tag_accepts_valid(tag):
    assert validate_tag(tag) is None


def test_validate_tag_rejects_empty():
    assert validate_tag("") == "标签不能为空。"


def test_validate_tag_rejects_too_long():
    tag = "长" * (MAX_TAG_LENGTH + 1)

    message = validate_tag(tag)

    assert message is not None
    assert "过长" in message
    assert f"共 {MAX_TAG_LENGTH + 1} 个字符" in message
    assert f"最多允许 {MAX_TAG_LENGTH} 个字符" in message
    assert "长" * 20 + "…" in message
    assert tag not in message


def test_validate_tag_quotes_short_tag():
    message = validate_tag("坏\x07标签")

    assert message is not None
    assert "“坏U+0007标签”" in message


@pytest.mark.parametrize(
    ("tag", "code_point"),
    [
        ("bad\x00tag", "U+0000"),
        ("bad\x07tag", "U+0007"),
        ("bad\x1btag", "U+001B"),
        ("bad\x7ftag", "U+007F"),
        ("bad\x9ftag", "U+009F"),
        ("制造\u200b业", "U+200B"),
        ("制造\u202e业", "U+202E"),
        ("\ufeff制造业", "U+FEFF"),
    ],
)
def test_validate_tag_rejects_control_characters(tag, code_point):
    message = validate_tag(tag)

    assert message is not None
    assert "控制字符" in message
    assert code_point in message
    for char in tag:
        if unicodedata.category(char) in {"Cc", "Cf"}:
            assert char not in message


def test_max_tag_length_counts_code_points():
    assert MAX_TAG_LENGTH == 40
    assert validate_tag("€" * MAX_TAG_LENGTH) is None
    assert validate_tag("€" * (MAX_TAG_LENGTH + 1)) is not None
