import unicodedata

import pytest

from kb.taxonomy.gbt4754 import (
    DIVISIONS,
    SECTION_NAMES_EN,
    SECTIONS,
    lookup,
    section_of,
)

# First and last division code of each section in GB/T 4754-2017.
SECTION_RANGES = {
    "A": (1, 5),
    "B": (6, 12),
    "C": (13, 43),
    "D": (44, 46),
    "E": (47, 50),
    "F": (51, 52),
    "G": (53, 60),
    "H": (61, 62),
    "I": (63, 65),
    "J": (66, 69),
    "K": (70, 70),
    "L": (71, 72),
    "M": (73, 75),
    "N": (76, 79),
    "O": (80, 82),
    "P": (83, 83),
    "Q": (84, 85),
    "R": (86, 90),
    "S": (91, 96),
    "T": (97, 97),
}


def test_sections_count_and_codes():
    codes = [code for code, _ in SECTIONS]

    assert len(SECTIONS) == 20
    assert codes == list("ABCDEFGHIJKLMNOPQRST")


def test_division_codes_are_01_to_97():
    codes = [code for code, _, _ in DIVISIONS]

    assert len(DIVISIONS) == 97
    assert codes == [f"{number:02d}" for number in range(1, 98)]


def test_division_sections_match_standard_ranges():
    for code, name, section in DIVISIONS:
        first, last = SECTION_RANGES[section]
        assert first <= int(code) <= last, f"{code} {name} is not in section {section}"


def test_every_division_section_exists():
    section_codes = {code for code, _ in SECTIONS}

    for code, name, section in DIVISIONS:
        assert section in section_codes, f"{code} {name} has unknown section {section}"


def test_every_section_has_division():
    used_sections = {section for _, _, section in DIVISIONS}

    for code, name in SECTIONS:
        assert code in used_sections, f"section {code} {name} has no division"


def test_names_are_unique_within_each_level():
    section_names = [name for _, name in SECTIONS]
    division_names = [name for _, name, _ in DIVISIONS]

    assert len(set(section_names)) == len(section_names)
    assert len(set(division_names)) == len(division_names)


def test_names_are_trimmed_nfkc_text():
    names = [name for _, name in SECTIONS] + [name for _, name, _ in DIVISIONS]

    for name in names:
        assert name
        assert name == name.strip()
        assert name == unicodedata.normalize("NFKC", name)
        assert " " not in name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("A", "农、林、牧、渔业"),
        ("B", "采矿业"),
        ("C", "制造业"),
        ("D", "电力、热力、燃气及水生产和供应业"),
        ("E", "建筑业"),
        ("F", "批发和零售业"),
        ("G", "交通运输、仓储和邮政业"),
        ("H", "住宿和餐饮业"),
        ("I", "信息传输、软件和信息技术服务业"),
        ("J", "金融业"),
        ("K", "房地产业"),
        ("L", "租赁和商务服务业"),
        ("M", "科学研究和技术服务业"),
        ("N", "水利、环境和公共设施管理业"),
        ("O", "居民服务、修理和其他服务业"),
        ("P", "教育"),
        ("Q", "卫生和社会工作"),
        ("R", "文化、体育和娱乐业"),
        ("S", "公共管理、社会保障和社会组织"),
        ("T", "国际组织"),
    ],
)
def test_section_names(code, name):
    assert dict(SECTIONS)[code] == name


@pytest.mark.parametrize(
    ("code", "name", "section"),
    [
        ("01", "农业", "A"),
        ("04", "渔业", "A"),
        ("05", "农、林、牧、渔专业及辅助性活动", "A"),
        ("06", "煤炭开采和洗选业", "B"),
        ("11", "开采专业及辅助性活动", "B"),
        ("12", "其他采矿业", "B"),
        ("13", "农副食品加工业", "C"),
        ("25", "石油、煤炭及其他燃料加工业", "C"),
        ("36", "汽车制造业", "C"),
        ("37", "铁路、船舶、航空航天和其他运输设备制造业", "C"),
        ("38", "电气机械和器材制造业", "C"),
        ("39", "计算机、通信和其他电子设备制造业", "C"),
        ("43", "金属制品、机械和设备修理业", "C"),
        ("44", "电力、热力生产和供应业", "D"),
        ("50", "建筑装饰、装修和其他建筑业", "E"),
        ("58", "多式联运和运输代理业", "G"),
        ("59", "装卸搬运和仓储业", "G"),
        ("60", "邮政业", "G"),
        ("63", "电信、广播电视和卫星传输服务", "I"),
        ("65", "软件和信息技术服务业", "I"),
        ("66", "货币金融服务", "J"),
        ("67", "资本市场服务", "J"),
        ("68", "保险业", "J"),
        ("69", "其他金融业", "J"),
        ("70", "房地产业", "K"),
        ("72", "商务服务业", "L"),
        ("75", "科技推广和应用服务业", "M"),
        ("76", "水利管理业", "N"),
        ("77", "生态保护和环境治理业", "N"),
        ("78", "公共设施管理业", "N"),
        ("79", "土地管理业", "N"),
        ("83", "教育", "P"),
        ("87", "广播、电视、电影和录音制作业", "R"),
        ("96", "基层群众自治组织及其他组织", "S"),
        ("97", "国际组织", "T"),
    ],
)
def test_division_names(code, name, section):
    divisions = {row[0]: row for row in DIVISIONS}

    assert divisions[code] == (code, name, section)


def test_section_names_en_cover_every_section():
    assert list(SECTION_NAMES_EN) == [code for code, _ in SECTIONS]

    for code, english in SECTION_NAMES_EN.items():
        assert english, f"section {code} has an empty English name"
        assert english.isascii(), f"section {code}: {english!r}"
        assert english == english.strip()


def test_section_names_en_spot_checks():
    assert SECTION_NAMES_EN["C"] == "Manufacturing"
    assert SECTION_NAMES_EN["J"] == "Finance"
    assert SECTION_NAMES_EN["T"] == "International Organizations"


def test_section_names_en_is_read_only():
    with pytest.raises(TypeError):
        SECTION_NAMES_EN["C"] = "Industry"  # type: ignore[index]


@pytest.mark.parametrize(
    ("division_code", "section"),
    [
        ("01", "A"),
        ("05", "A"),
        ("06", "B"),
        ("36", "C"),
        ("43", "C"),
        ("46", "D"),
        ("60", "G"),
        ("65", "I"),
        ("69", "J"),
        ("79", "N"),
        ("96", "S"),
        ("97", "T"),
        (" 36 ", "C"),
        ("３６", "C"),
    ],
)
def test_section_of(division_code, section):
    assert section_of(division_code) == section


@pytest.mark.parametrize(
    "division_code", ["00", "98", "1", "C", "036", "", "汽车制造业"]
)
def test_section_of_rejects_unknown_code(division_code):
    with pytest.raises(ValueError, match="unknown GB/T 4754-2017 division code"):
        section_of(division_code)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("C", ("C", "制造业")),
        ("c", ("C", "制造业")),
        (" J ", ("J", "金融业")),
        ("Ｃ", ("C", "制造业")),
        ("36", ("36", "汽车制造业")),
        (" 36 ", ("36", "汽车制造业")),
        ("３６", ("36", "汽车制造业")),
        ("\u300036\t", ("36", "汽车制造业")),
        ("05", ("05", "农、林、牧、渔专业及辅助性活动")),
        ("97", ("97", "国际组织")),
        ("制造业", ("C", "制造业")),
        (" 金融业\u3000", ("J", "金融业")),
        ("电力、热力、燃气及水生产和供应业", ("D", "电力、热力、燃气及水生产和供应业")),
        ("汽车制造业", ("36", "汽车制造业")),
        ("货币金融服务", ("66", "货币金融服务")),
        ("土地管理业", ("79", "土地管理业")),
    ],
)
def test_lookup_finds_code_or_name(query, expected):
    assert lookup(query) == expected


@pytest.mark.parametrize(
    ("name", "division_code"),
    [("房地产业", "70"), ("教育", "83"), ("国际组织", "97")],
)
def test_lookup_prefers_division_for_shared_name(name, division_code):
    assert lookup(name) == (division_code, name)


def test_lookup_finds_every_code_and_name():
    for code, name in SECTIONS:
        assert lookup(code) == (code, name)
    for code, name, _ in DIVISIONS:
        assert lookup(code) == (code, name)
        assert lookup(name) == (code, name)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "U",
        "Z",
        "00",
        "98",
        "1",
        "036",
        "C36",
        "汽车",
        "汽车制造",
        "信息技术服务业",
        "软件和信息技术服务",
        "manufacturing",
    ],
)
def test_lookup_returns_none_for_unknown(query):
    assert lookup(query) is None
