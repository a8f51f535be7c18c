"""Sections and divisions of GB/T 4754-2017 《国民经济行业分类》.

The standard has four levels: section (门类, letters A–T), division (大类, two
digits 01–97), group (中类, three digits) and class (小类, four digits). This module
contains the first two levels only. Division codes are unique across the standard,
so a division code alone identifies its section.

The Chinese names are those of the 2017 edition, which renamed several divisions of
the 2011 edition (for example 05, 11, 25, 50, 58, 59 and 87) and added 79 土地管理业.
The English section names are the project's translations for the English UI, not
text from the standard.
"""

import unicodedata
from types import MappingProxyType

SECTIONS: tuple[tuple[str, str], ...] = (
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
)
"""Sections as (code, Chinese name), in the order of the standard."""

SECTION_NAMES_EN: MappingProxyType[str, str] = MappingProxyType(
    {
        "A": "Agriculture, Forestry, Animal Husbandry and Fishery",
        "B": "Mining",
        "C": "Manufacturing",
        "D": "Production and Supply of Electricity, Heat, Gas and Water",
        "E": "Construction",
        "F": "Wholesale and Retail Trade",
        "G": "Transport, Storage and Postal Services",
        "H": "Accommodation and Catering",
        "I": "Information Transmission, Software and Information Technology Services",
        "J": "Finance",
        "K": "Real Estate",
        "L": "Leasing and Business Services",
        "M": "Scientific Research and Technical Services",
        "N": "Water Conservancy, Environment and Public Facilities Management",
        "O": "Resident Services, Repair and Other Services",
        "P": "Education",
        "Q": "Health and Social Work",
        "R": "Culture, Sports and Entertainment",
        "S": "Public Administration, Social Security and Social Organizations",
        "T": "International Organizations",
    }
)
"""English name of each section, by section code."""

DIVISIONS: tuple[tuple[str, str, str], ...] = (
    # A 农、林、牧、渔业
    ("01", "农业", "A"),
    ("02", "林业", "A"),
    ("03", "畜牧业", "A"),
    ("04", "渔业", "A"),
    ("05", "农、林、牧、渔专业及辅助性活动", "A"),
    # B 采矿业
    ("06", "煤炭开采和洗选业", "B"),
    ("07", "石油和天然气开采业", "B"),
    ("08", "黑色金属矿采选业", "B"),
    ("09", "有色金属矿采选业", "B"),
    ("10", "非金属矿采选业", "B"),
    ("11", "开采专业及辅助性活动", "B"),
    ("12", "其他采矿业", "B"),
    # C 制造业
    ("13", "农副食品加工业", "C"),
    ("14", "食品制造业", "C"),
    ("15", "酒、饮料和精制茶制造业", "C"),
    ("16", "烟草制品业", "C"),
    ("17", "纺织业", "C"),
    ("18", "纺织服装、服饰业", "C"),
    ("19", "皮革、毛皮、羽毛及其制品和制鞋业", "C"),
    ("20", "木材加工和木、竹、藤、棕、草制品业", "C"),
    ("21", "家具制造业", "C"),
    ("22", "造纸和纸制品业", "C"),
    ("23", "印刷和记录媒介复制业", "C"),
    ("24", "文教、工美、体育和娱乐用品制造业", "C"),
    ("25", "石油、煤炭及其他燃料加工业", "C"),
    ("26", "化学原料和化学制品制造业", "C"),
    ("27", "医药制造业", "C"),
    ("28", "化学纤维制造业", "C"),
    ("29", "橡胶和塑料制品业", "C"),
    ("30", "非金属矿物制品业", "C"),
    ("31", "黑色金属冶炼和压延加工业", "C"),
    ("32", "有色金属冶炼和压延加工业", "C"),
    ("33", "金属制品业", "C"),
    ("34", "通用设备制造业", "C"),
    ("35", "专用设备制造业", "C"),
    ("36", "汽车制造业", "C"),
    ("37", "铁路、船舶、航空航天和其他运输设备制造业", "C"),
    ("38", "电气机械和器材制造业", "C"),
    ("39", "计算机、通信和其他电子设备制造业", "C"),
    ("40", "仪器仪表制造业", "C"),
    ("41", "其他制造业", "C"),
    ("42", "废弃资源综合利用业", "C"),
    ("43", "金属制品、机械和设备修理业", "C"),
    # D 电力、热力、燃气及水生产和供应业
    ("44", "电力、热力生产和供应业", "D"),
    ("45", "燃气生产和供应业", "D"),
    ("46", "水的生产和供应业", "D"),
    # E 建筑业
    ("47", "房屋建筑业", "E"),
    ("48", "土木工程建筑业", "E"),
    ("49", "建筑安装业", "E"),
    ("50", "建筑装饰、装修和其他建筑业", "E"),
    # F 批发和零售业
    ("51", "批发业", "F"),
    ("52", "零售业", "F"),
    # G 交通运输、仓储和邮政业
    ("53", "铁路运输业", "G"),
    ("54", "道路运输业", "G"),
    ("55", "水上运输业", "G"),
    ("56", "航空运输业", "G"),
    ("57", "管道运输业", "G"),
    ("58", "多式联运和运输代理业", "G"),
    ("59", "装卸搬运和仓储业", "G"),
    ("60", "邮政业", "G"),
    # H 住宿和餐饮业
    ("61", "住宿业", "H"),
    ("62", "餐饮业", "H"),
    # I 信息传输、软件和信息技术服务业
    ("63", "电信、广播电视和卫星传输服务", "I"),
    ("64", "互联网和相关服务", "I"),
    ("65", "软件和信息技术服务业", "I"),
    # J 金融业
    ("66", "货币金融服务", "J"),
    ("67", "资本市场服务", "J"),
    ("68", "保险业", "J"),
    ("69", "其他金融业", "J"),
    # K 房地产业
    ("70", "房地产业", "K"),
    # L 租赁和商务服务业
    ("71", "租赁业", "L"),
    ("72", "商务服务业", "L"),
    # M 科学研究和技术服务业
    ("73", "研究和试验发展", "M"),
    ("74", "专业技术服务业", "M"),
    ("75", "科技推广和应用服务业", "M"),
    # N 水利、环境和公共设施管理业
    ("76", "水利管理业", "N"),
    ("77", "生态保护和环境治理业", "N"),
    ("78", "公共设施管理业", "N"),
    ("79", "土地管理业", "N"),
    # O 居民服务、修理和其他服务业
    ("80", "居民服务业", "O"),
    ("81", "机动车、电子产品和日用产品修理业", "O"),
    ("82", "其他服务业", "O"),
    # P 教育
    ("83", "教育", "P"),
    # Q 卫生和社会工作
    ("84", "卫生", "Q"),
    ("85", "社会工作", "Q"),
    # R 文化、体育和娱乐业
    ("86", "新闻和出版业", "R"),
    ("87", "广播、电视、电影和录音制作业", "R"),
    ("88", "文化艺术业", "R"),
    ("89", "体育", "R"),
    ("90", "娱乐业", "R"),
    # S 公共管理、社会保障和社会组织
    ("91", "中国共产党机关", "S"),
    ("92", "国家机构", "S"),
    ("93", "人民政协、民主党派", "S"),
    ("94", "社会保障", "S"),
    ("95", "群众团体、社会团体和其他成员组织", "S"),
    ("96", "基层群众自治组织及其他组织", "S"),
    # T 国际组织
    ("97", "国际组织", "T"),
)
"""Divisions as (code, Chinese name, section code), in the order of the standard."""

_SECTION_NAMES: dict[str, str] = dict(SECTIONS)
_DIVISION_NAMES: dict[str, str] = {code: name for code, name, _ in DIVISIONS}
_SECTION_OF_DIVISION: dict[str, str] = {code: section for code, _, section in DIVISIONS}

# Three divisions share their section's name: 70 房地产业 (K), 83 教育 (P) and
# 97 国际组织 (T). Divisions are added last so that those names map to the division,
# which is the more specific code. section_of() returns its section.
_CODE_BY_NAME: dict[str, str] = {name: code for code, name in SECTIONS}
_CODE_BY_NAME.update({name: code for code, name, _ in DIVISIONS})


def _normalize_query(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def section_of(division_code: str) -> str:
    """Return the section code of a division code such as "36" (returns "C").

    The code is NFKC-normalised and trimmed first, so " ３６ " works too.
    Raises ValueError if the code is not one of the 97 division codes.
    """
    code = _normalize_query(division_code)
    try:
        return _SECTION_OF_DIVISION[code]
    except KeyError:
        raise ValueError(
            f"unknown GB/T 4754-2017 division code {division_code!r}: "
            "expected two digits from 01 to 97"
        ) from None


def lookup(code_or_name: str) -> tuple[str, str] | None:
    """Find a section or division by code or Chinese name.

    Returns (code, Chinese name), or None when nothing matches. The input is
    NFKC-normalised and trimmed, so full-width "３６" and " 36 " find division 36.
    Section letters match in either case ("c" finds C). A name must match the
    official name exactly after normalisation. For 房地产业, 教育 and 国际组织,
    which name both a section and its only division, the division is returned.
    """
    query = _normalize_query(code_or_name)

    if len(query) == 1 and query.isascii() and query.isalpha():
        code = query.upper()
        if code in _SECTION_NAMES:
            return code, _SECTION_NAMES[code]
        return None

    if query in _DIVISION_NAMES:
        return query, _DIVISION_NAMES[query]

    code = _CODE_BY_NAME.get(query)
    if code is None:
        return None
    if code in _DIVISION_NAMES:
        return code, _DIVISION_NAMES[code]
    return code, _SECTION_NAMES[code]
