"""Client import from CRM exports: files, the row report, CLI and upload page."""

import os
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kb.clients import creditcode, importer, services
from kb.clients.forms import IMPORT_MAX_MB, IMPORT_MAX_ROWS
from kb.clients.models import Client
from kb.extensions import db
from kb.search.models import SearchOutbox
from kb.search.service import get_indexer
from tests.conftest import csrf_token, login
from tests.risk.conftest import Browser, live_server  # noqa: F401  (fixture)

IMPORT_PAGE = "/admin/clients/import"


def code(serial: int) -> str:
    """A valid credit code with a 9-digit ``serial``."""
    first17 = f"91110000{serial:09d}"
    return first17 + creditcode.check_character(first17)


def wrong_check(valid: str) -> str:
    """``valid`` with a different, so invalid, check character."""
    return valid[:17] + ("0" if valid[17] != "0" else "1")


EMPTY_NAME = ("name", "客户名称不能为空。")


def bad_check_problem(serial: int) -> tuple[str, str]:
    return ("credit_code", str(creditcode.problem(wrong_check(code(serial)))))


def duplicate_problem(serial: int, first_row: int) -> tuple[str, str]:
    message = f"统一社会信用代码 {code(serial)} 与第 {first_row} 行重复，本行未导入。"
    return ("credit_code", message)


def unknown_division_problem(value: str) -> tuple[str, str]:
    message = f"未知的行业代码：{value}。GB/T 4754-2017 没有大类 {value}。"
    return ("industry", message)


def unknown_manager_problem(value: str) -> tuple[str, str]:
    return ("manager", f"未知的客户经理：{value}。请填系统中的用户名或姓名。")


def outcomes(report: importer.ImportReport) -> list[tuple]:
    """Each row as (row, outcome, [(column, message), ...])."""
    return [
        (r.row, r.outcome, [(p.column, p.message) for p in r.problems])
        for r in report.rows
    ]


def count_clients() -> int:
    return db.session.scalar(select(func.count(Client.id)))


def count_outbox() -> int:
    return db.session.scalar(select(func.count(SearchOutbox.seq)))


def run_import(path: Path, dry_run: bool = False) -> importer.ImportReport:
    """Import ``path``, then commit, or roll back a dry run. Call in an app context."""
    report = importer.import_clients(
        db.session, importer.read_rows(path), dry_run=dry_run
    )
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report


@pytest.fixture
def managers(make_user):
    """Accounts: 王芳 is unique, two share the name 李静, and 100234 is all digits."""
    return {
        "wangfang": make_user("wangfang", display_name="王芳"),
        "100234": make_user("100234", display_name="赵工号"),
        "lijing1": make_user("lijing1", display_name="李静"),
        "lijing2": make_user("lijing2", display_name="李静"),
        "boss": make_user("boss", role="admin", department="合规部"),
    }


# -- the three files -------------------------------------------------------------

GBK_HEADER = (
    "客户名称,统一社会信用代码,所属行业,客户经理,所属机构,"
    "客户分层,客户状态,持有产品,备注,内部编号"
)


def gbk_csv_text() -> str:
    """Chinese headers. Row 8 is blank and row 9 has a two-line quoted cell."""
    return "\r\n".join(
        [
            GBK_HEADER,
            f"华星精密制造有限公司,{code(1)},C36,王芳,北京分行,战略客户,正常,"
            "对公存款、流动资金贷款,重点维护,A001",
            f"远航物流股份有限公司,{wrong_check(code(2))},54,wangfang,,,,,,A002",
            f"蓝海渔业有限公司,{code(3)},星际采矿业,王芳,,,,,,A003",
            f"金穗农业科技有限公司,{code(4)},01,赵无名,,,,,,A004",
            f"华星精密（重复）,{code(1)},36,,,,,,,A005",
            f",{code(5)},36,,,,,,,A006",
            "",
            f"东方汽车零部件有限公司,{code(6)},汽车制造业,lijing1,广州分行,"
            '成长客户,有流失风险,网银/代发工资；票据,"年内到期,需续贷\r\n'
            '联系财务部",A007',
            f"南山建材有限公司,{code(7)},30,李静,,,,,,A008",
            f"北岭制造有限公司,{code(8)},C,,,,,,,A009",
        ]
    )


def write_gbk_csv(folder: Path) -> Path:
    path = folder / "crm-export.csv"
    path.write_bytes(gbk_csv_text().encode("gbk"))
    return path


def gbk_expected() -> list[tuple]:
    unknown_industry = (
        "industry",
        "未知的行业：星际采矿业。请填 GB/T 4754-2017 的大类代码或名称，"
        "例如 36 或 汽车制造业。",
    )
    ambiguous = (
        "manager",
        "客户经理 李静 对应多个账户：李静（lijing1）、李静（lijing2）。请改填用户名。",
    )
    section = (
        "industry",
        "行业 C 是门类（C 制造业），客户的行业需要具体到大类，例如 13 农副食品加工业。",
    )
    return [
        (2, "created", []),
        (3, "rejected", [bad_check_problem(2)]),
        (4, "rejected", [unknown_industry]),
        (5, "rejected", [unknown_manager_problem("赵无名")]),
        (6, "rejected", [duplicate_problem(1, 2)]),
        (7, "rejected", [EMPTY_NAME]),
        (9, "created", []),
        (10, "rejected", [ambiguous]),
        (11, "rejected", [section]),
    ]


def write_bom_csv(folder: Path) -> Path:
    """English headers in mixed case, semicolons, UTF-8 with BOM."""
    lines = [
        "Name;USCC;Industry_Code;RM;Branch;Segment;Status;Products;Remark;Owner Email",
        f"Acme Trading Co;{code(11)};36;wangfang;Shenzhen;key;at risk;"
        "deposits, loans;call in June;a@bank.example",
        f'鼎盛化工有限公司;{code(12)};" 26 ";WANGFANG;;;LOST;;;',
        f"Bad Check Ltd;{wrong_check(code(13))};36;;;;;;;",
        f"Unknown Industry Ltd;{code(14)};99;;;;;;;",
        f"Unknown RM Ltd;{code(15)};36;nobody;;;;;;",
        f"Duplicate Ltd;{code(11)};36;;;;;;;",
        f";{code(16)};36;;;;;;;",
        f"Dormant Ltd;{code(17)};36;;;;dormant;;;",
    ]
    path = folder / "export.csv"
    path.write_bytes("\n".join(lines).encode("utf-8-sig"))
    return path


def write_xlsx(folder: Path) -> Path:
    """Chinese aliases, numbers typed as numbers, dates, a blank row 5."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "客户"
    rows = {
        1: [
            "企业名称",
            "社会信用代码",
            "行业代码",
            "客户经理工号",
            "部门",
            "客户类型",
            "状态",
            "产品",
            "备注",
        ],
        2: [
            "青禾农业有限公司",
            code(21),
            1,
            "wangfang",
            "成都分行",
            3.0,
            "活跃",
            "贷款",
            datetime(2024, 6, 30),
        ],  # fmt: skip
        3: ["错误校验位公司", wrong_check(code(22)), 36],
        4: ["未知行业公司", code(23), 98],
        6: ["未知经理公司", code(24), 36.0, "陈不在"],
        7: ["重复公司", code(21), 36],
        8: [None, code(25), 36],
        9: [
            "日期公司",
            code(26),
            "C36",
            "lijing2",
            None,
            None,
            None,
            None,
            datetime(2024, 6, 30, 14, 5),
        ],  # fmt: skip
        10: ["工号公司", code(27), 36, 100234],
    }
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    workbook.create_sheet("说明").append(["第二个工作表不导入"])
    path = folder / "crm.xlsx"
    workbook.save(path)
    return path


# -- reading files ----------------------------------------------------------------


def test_csv_rows_numbered_like_spreadsheet(tmp_path):
    sheet = importer.read_rows(write_gbk_csv(tmp_path))
    assert sheet.filename == "crm-export.csv"
    assert sheet.header == GBK_HEADER.split(",")
    assert [number for number, _cells in sheet.rows] == [2, 3, 4, 5, 6, 7, 9, 10, 11]
    notes = dict(sheet.rows)[9][8]
    assert notes == "年内到期,需续贷\n联系财务部"


def test_bytes_and_filename_read_like_a_path(tmp_path):
    path = write_bom_csv(tmp_path)
    from_path = importer.read_rows(path)
    from_bytes = importer.read_rows(path.read_bytes(), "C:\\Users\\li\\export.csv")
    assert from_bytes == from_path
    assert from_bytes.header[0] == "Name"


def test_delimiter_sniffed_from_header(tmp_path):
    for delimiter in (",", ";", "\t"):
        text = delimiter.join(["name", "credit_code", "notes"]) + "\n"
        text += delimiter.join(["甲公司", code(1), '"a, b; c"']) + "\n"
        sheet = importer.read_rows(text.encode(), "t.csv")
        assert sheet.header == ["name", "credit_code", "notes"], delimiter
        assert sheet.rows == [(2, ["甲公司", code(1), "a, b; c"])], delimiter


def test_utf16_export_is_read():
    text = f"客户名称\t信用代码\n甲公司\t{code(1)}\n"
    sheet = importer.read_rows(text.encode("utf-16"), "unicode.txt")
    assert sheet.rows == [(2, ["甲公司", code(1)])]


def test_xlsx_cells_become_text(tmp_path):
    sheet = importer.read_rows(write_xlsx(tmp_path))
    rows = dict(sheet.rows)
    assert sorted(rows) == [2, 3, 4, 6, 7, 8, 9, 10]
    assert rows[2][2] == "1"
    assert rows[2][5] == "3"
    assert rows[2][8] == "2024-06-30"
    assert rows[6][2] == "36"
    assert rows[8][0] == ""
    assert rows[9][8] == "2024-06-30 14:05:00"
    assert rows[10][3] == "100234"


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("report.pdf", b"%PDF-1.7", "文件 report.pdf 的类型不受支持"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "文件 old.xls 是旧版 Excel 格式"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "文件 broken.xlsx 不是有效的"),
        ("plain.xlsx", b"name,credit_code\n", "文件 plain.xlsx 不是有效的"),
        ("binary.csv", b"name\x00\x01\x02", "文件 binary.csv 不是文本文件"),
        ("book.csv", b"PK\x03\x04\x14\x00", "文件 book.csv 是压缩文件或 Excel"),
        ("empty.csv", b"", "文件 empty.csv 是空的"),
        ("blank.csv", b"\r\n ,, \r\n", "文件 blank.csv 没有表头行"),
        ("latin.csv", b"name\x81\xff\xfe", "文件 latin.csv 的编码无法识别"),
    ],
)
def test_unreadable_files_are_named(filename, data, expected):
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_rows(data, filename)
    assert caught.value.message.startswith(expected), caught.value.message
    assert caught.value.field == "file"


def test_row_limit_stops_reading(tmp_path):
    lines = ["name,credit_code"] + [f"公司{i},{code(i)}" for i in range(4)]
    data = "\n".join(lines).encode()
    assert len(importer.read_rows(data, "a.csv", max_rows=4).rows) == 4
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_rows(data, "a.csv", max_rows=3)
    assert "超过 3 行的上限" in caught.value.message
    workbook = Workbook()
    for line in lines:
        workbook.active.append(line.split(","))
    path = tmp_path / "many.xlsx"
    workbook.save(path)
    with pytest.raises(importer.ImportFileError):
        importer.read_rows(path, max_rows=3)


# -- header and value mapping -------------------------------------------------------


def test_missing_required_columns_reject_the_file(app):
    sheet = importer.Sheet(
        "clients.csv", ["企业", "行业", "备注"], [(2, ["甲", "36", ""])]
    )
    with app.app_context(), pytest.raises(importer.ImportFileError) as caught:
        importer.import_clients(db.session, sheet)
    assert caught.value.message == (
        "文件 clients.csv 缺少必需的列：客户名称 (name) / 统一社会信用代码"
        " (credit_code)。文件的表头为：企业 | 行业 | 备注。"
    )


def test_headers_ignore_case_space_and_width(app):
    header = [" ＣＬＩＥＮＴ ＮＡＭＥ ", "Credit-Code", "ＩＮＤＵＳＴＲＹ", "Extra", ""]
    sheet = importer.Sheet("w.csv", header, [(2, ["甲公司", code(1), "36", "x", "y"])])
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
        client = services.get_by_code(db.session, code(1))
        assert client.industry_code == "36"
    assert outcomes(report) == [(2, "created", [])]
    assert report.ignored_columns == ["Extra"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("36", "36"),
        ("C36", "36"),
        ("c36", "36"),
        (" 36 ", "36"),
        ("３６", "36"),
        ("C3612", "36"),
        ("1", "01"),
        ("汽车制造业", "36"),
        (" 汽车制造业 ", "36"),
        ("房地产业", "70"),
        ("", None),
    ],
)
def test_industry_maps_to_division(app, value, expected):
    sheet = importer.Sheet("i.csv", ["name", "credit_code", "industry"], [
        (2, ["甲公司", code(1), value])
    ])  # fmt: skip
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
        assert outcomes(report) == [(2, "created", [])]
        assert services.get_by_code(db.session, code(1)).industry_code == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("A36", "行业代码 A36 有误：大类 36 汽车制造业属于门类 C，而不是 A。"),
        ("98", "未知的行业代码：98。GB/T 4754-2017 没有大类 98。"),
        ("制造业", "行业 制造业 是门类（C 制造业），客户的行业需要具体到大类，"),
        ("k", "行业 k 是门类（K 房地产业），客户的行业需要具体到大类，"),
        ("汽车", "未知的行业：汽车。"),
    ],
)
def test_section_or_unknown_industry_rejected(app, value, message):
    sheet = importer.Sheet("i.csv", ["name", "credit_code", "industry"], [
        (2, ["甲公司", code(1), value])
    ])  # fmt: skip
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
        assert count_clients() == 0
    [result] = report.rows
    assert result.outcome == "rejected"
    assert [p.column for p in result.problems] == ["industry"]
    assert result.problems[0].header == "industry"
    assert result.problems[0].message.startswith(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("正常", "active"),
        ("活跃", "active"),
        ("Active", "active"),
        ("", "active"),
        ("有流失风险", "at_risk"),
        ("风险", "at_risk"),
        ("at risk", "at_risk"),
        ("AT_RISK", "at_risk"),
        ("已流失", "lost"),
        ("流失", "lost"),
        ("lost", "lost"),
    ],
)
def test_status_labels_map_to_codes(app, value, expected):
    sheet = importer.Sheet("s.csv", ["name", "credit_code", "status"], [
        (2, ["甲公司", code(1), value])
    ])  # fmt: skip
    with app.app_context():
        importer.import_clients(db.session, sheet)
        assert services.get_by_code(db.session, code(1)).status == expected


def test_products_split_on_each_separator(app):
    raw = "存款、贷款,票据;网银/代发\n理财，保函；信用证／存款"
    sheet = importer.Sheet("p.csv", ["name", "credit_code", "products"], [
        (2, ["甲公司", code(1), raw])
    ])  # fmt: skip
    with app.app_context():
        importer.import_clients(db.session, sheet)
        client = services.get_by_code(db.session, code(1))
        assert client.product_list == [
            "存款", "贷款", "票据", "网银", "代发", "理财", "保函", "信用证",
        ]  # fmt: skip


def test_manager_by_username_or_name(app, managers):
    rows = [(2, ["甲公司", code(1), "WangFang"]), (3, ["乙公司", code(2), "王芳"])]
    sheet = importer.Sheet("m.csv", ["name", "credit_code", "rm"], rows)
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
        assert outcomes(report) == [(2, "created", []), (3, "created", [])]
        for serial in (1, 2):
            client = services.get_by_code(db.session, code(serial))
            assert client.manager_id == managers["wangfang"]


def test_every_problem_of_a_row_is_listed(app):
    rows = [(2, ["", wrong_check(code(1)), "汽车", "nobody", "dormant"])]
    header = ["name", "credit_code", "industry", "manager", "status"]
    with app.app_context():
        report = importer.import_clients(
            db.session, importer.Sheet("x.csv", header, rows)
        )
    [result] = report.rows
    assert [p.column for p in result.problems] == [
        "name",
        "credit_code",
        "industry",
        "manager",
        "status",
    ]


# -- the report, re-import and dry run -------------------------------------------


def test_gbk_csv_report_is_exact(app, managers, tmp_path):
    path = write_gbk_csv(tmp_path)
    with app.app_context():
        report = run_import(path)
        assert outcomes(report) == gbk_expected()
        assert report.counts == {
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 7,
        }
        assert report.ignored_columns == ["内部编号"]
        assert report.rows[1].problems[0].header == "统一社会信用代码"
        assert count_clients() == 2
        first = services.get_by_code(db.session, code(1))
        assert first.name == "华星精密制造有限公司"
        assert first.industry_code == "36"
        assert first.manager_id == managers["wangfang"]
        assert first.branch == "北京分行"
        assert first.segment == "战略客户"
        assert first.status == "active"
        assert first.product_list == ["对公存款", "流动资金贷款"]
        assert first.notes == "重点维护"
        second = services.get_by_code(db.session, code(6))
        assert second.industry_code == "36"
        assert second.manager_id == managers["lijing1"]
        assert second.status == "at_risk"
        assert second.product_list == ["网银", "代发工资", "票据"]
        assert second.notes == "年内到期,需续贷\n联系财务部"


def test_bom_csv_report_is_exact(app, managers, tmp_path):
    path = write_bom_csv(tmp_path)
    with app.app_context():
        report = run_import(path)
        acme = services.get_by_code(db.session, code(11))
        chemical = services.get_by_code(db.session, code(12))
        assert (acme.status, acme.manager_id) == ("at_risk", managers["wangfang"])
        assert acme.product_list == ["deposits", "loans"]
        assert acme.notes == "call in June"
        assert (chemical.industry_code, chemical.status) == ("26", "lost")
        assert chemical.manager_id == managers["wangfang"]
    dormant = ("status", "客户状态 'dormant' 无效，可选：正常、有流失风险、已流失。")
    assert outcomes(report) == [
        (2, "created", []),
        (3, "created", []),
        (4, "rejected", [bad_check_problem(13)]),
        (5, "rejected", [unknown_division_problem("99")]),
        (6, "rejected", [unknown_manager_problem("nobody")]),
        (7, "rejected", [duplicate_problem(11, 2)]),
        (8, "rejected", [EMPTY_NAME]),
        (9, "rejected", [dormant]),
    ]
    assert report.ignored_columns == ["Owner Email"]
    assert report.rows[2].problems[0].header == "USCC"


def test_xlsx_report_is_exact(app, managers, tmp_path):
    path = write_xlsx(tmp_path)
    with app.app_context():
        report = run_import(path)
        farm = services.get_by_code(db.session, code(21))
        assert farm.industry_code == "01"
        assert farm.segment == "3"
        assert farm.status == "active"
        assert farm.notes == "2024-06-30"
        dated = services.get_by_code(db.session, code(26))
        assert dated.manager_id == managers["lijing2"]
        assert dated.notes == "2024-06-30 14:05:00"
        numbered = services.get_by_code(db.session, code(27))
        assert numbered.manager_id == managers["100234"]
    assert outcomes(report) == [
        (2, "created", []),
        (3, "rejected", [bad_check_problem(22)]),
        (4, "rejected", [unknown_division_problem("98")]),
        (6, "rejected", [unknown_manager_problem("陈不在")]),
        (7, "rejected", [duplicate_problem(21, 2)]),
        (8, "rejected", [EMPTY_NAME]),
        (9, "created", []),
        (10, "created", []),
    ]


def test_reimport_updates_instead_of_duplicating(app, managers, tmp_path):
    path = write_gbk_csv(tmp_path)
    with app.app_context():
        run_import(path)
        again = run_import(path)
        assert again.counts == {
            "created": 0,
            "updated": 0,
            "unchanged": 2,
            "rejected": 7,
        }
        changed = gbk_csv_text().replace("北京分行", "北京分行营业部")
        path.write_bytes(changed.encode("gbk"))
        third = run_import(path)
        assert [r.outcome for r in third.rows if r.outcome != "rejected"] == [
            "updated",
            "unchanged",
        ]
        assert count_clients() == 2
        assert services.get_by_code(db.session, code(1)).branch == "北京分行营业部"


def test_absent_columns_keep_stored_values(app, managers, tmp_path):
    with app.app_context():
        run_import(write_gbk_csv(tmp_path))
        short = tmp_path / "names.csv"
        short.write_text(f"客户名称,信用代码\n华星精密制造股份有限公司,{code(1)}\n")
        report = run_import(short)
        assert outcomes(report) == [(2, "updated", [])]
        client = services.get_by_code(db.session, code(1))
        assert client.name == "华星精密制造股份有限公司"
        assert client.manager_id == managers["wangfang"]
        assert client.industry_code == "36"
        assert client.product_list == ["对公存款", "流动资金贷款"]


def test_empty_cells_clear_the_field(app, managers, tmp_path):
    with app.app_context():
        run_import(write_gbk_csv(tmp_path))
        cleared = tmp_path / "cleared.csv"
        cleared.write_text(
            f"{GBK_HEADER}\n华星精密制造有限公司,{code(1)},,,,,,,,\n", encoding="utf-8"
        )
        run_import(cleared)
        client = services.get_by_code(db.session, code(1))
        assert client.industry_code is None
        assert client.manager_id is None
        assert client.branch == ""
        assert client.products == ""
        assert client.status == "active"


def test_dry_run_saves_nothing(app, managers, tmp_path):
    path = write_gbk_csv(tmp_path)
    with app.app_context():
        outbox_before = count_outbox()
        preview = run_import(path, dry_run=True)
        assert preview.dry_run
        assert outcomes(preview) == gbk_expected()
        assert count_clients() == 0
        assert count_outbox() == outbox_before
        real = run_import(path)
        assert outcomes(real) == outcomes(preview)
        assert count_clients() == 2


def test_caller_can_roll_back_an_import(app, managers, tmp_path):
    """Rows go into savepoints; nothing is committed before the caller commits."""
    with app.app_context():
        report = importer.import_clients(
            db.session, importer.read_rows(write_gbk_csv(tmp_path))
        )
        assert report.counts["created"] == 2
        db.session.rollback()
        assert count_clients() == 0


def test_dry_run_keeps_stored_values(app, managers, tmp_path):
    path = write_gbk_csv(tmp_path)
    with app.app_context():
        run_import(path)
        path.write_bytes(gbk_csv_text().replace("战略客户", "普通客户").encode("gbk"))
        preview = run_import(path, dry_run=True)
        assert preview.counts["updated"] == 1
        db.session.expire_all()
        assert services.get_by_code(db.session, code(1)).segment == "战略客户"


def test_imported_clients_are_found_and_indexed(app, managers, tmp_path):
    with app.app_context():
        run_import(write_gbk_csv(tmp_path))
        for text in ("精密制造", "hxjm", code(1)[:17], code(1)):
            found = services.find_clients(db.session, text)
            assert [c.credit_code for c in found] == [code(1)], text
        assert get_indexer().check().clean


# -- command line ------------------------------------------------------------------


def test_cli_lists_rejected_rows_and_exits_1(runner, app, managers, tmp_path):
    result = runner.invoke(args=["import", "clients", str(write_gbk_csv(tmp_path))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"row 3, credit_code: {creditcode.problem(wrong_check(code(2)))}" in lines
    assert (
        f"row 6, credit_code: 统一社会信用代码 {code(1)} 与第 2 行重复，本行未导入。"
        in lines
    )
    assert "row 7, name: 客户名称不能为空。" in lines
    assert "Ignored columns: 内部编号" in lines
    assert lines[-1] == "2 created, 0 updated, 0 unchanged, 7 rejected."
    with app.app_context():
        assert count_clients() == 2
        assert get_indexer().check().clean


def test_cli_dry_run_saves_nothing(runner, app, managers, tmp_path):
    path = write_gbk_csv(tmp_path)
    result = runner.invoke(args=["import", "clients", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "2 created, 0 updated, 0 unchanged, 7 rejected.",
        "Dry run: nothing was saved.",
    ]
    with app.app_context():
        assert count_clients() == 0


def test_cli_exits_0_without_rejects(runner, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(f"name,credit_code\n甲公司,{code(1)}\n乙公司,{code(2)}\n")
    result = runner.invoke(args=["import", "clients", str(path), "--verbose"])
    assert result.exit_code == 0, result.output
    assert f"row 2, created: {code(1)} 甲公司" in result.output
    assert result.output.splitlines()[-1] == (
        "2 created, 0 updated, 0 unchanged, 0 rejected."
    )
    again = runner.invoke(args=["import", "clients", str(path)])
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == (
        "0 created, 0 updated, 2 unchanged, 0 rejected."
    )


def test_cli_rejected_file_exits_1(runner, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("备注\n你好\n")
    result = runner.invoke(args=["import", "clients", str(path)])
    assert result.exit_code == 1
    assert "文件 notes.csv 缺少必需的列" in result.output
    assert "Traceback" not in result.output


# -- upload page -------------------------------------------------------------------


BOUNDARY = "kb-import-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], filename: str, data: bytes) -> bytes:
    """A multipart/form-data body with ``fields`` and the file last.

    Built by hand because the test client spools large bodies to temporary
    files that it never closes, which fails the run with a ResourceWarning.
    """
    body = b""
    for name, value in fields.items():
        body += (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n"
        ).encode()
    body += (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return body + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload(client, data: bytes, filename: str, dry_run: bool = False):
    fields = {"csrf_token": csrf_token(client, IMPORT_PAGE)}
    if dry_run:
        fields["dry_run"] = "y"
    body = multipart(fields, filename, data)
    return client.post(IMPORT_PAGE, data=body, content_type=MULTIPART)


def test_page_is_for_admins_only(client, managers):
    assert client.get(IMPORT_PAGE).status_code == 302
    login(client, "wangfang")
    assert client.get(IMPORT_PAGE).status_code == 403
    response = upload_without_token(client)
    assert response.status_code == 403


def upload_without_token(client):
    body = multipart({}, "a.csv", f"name,credit_code\n甲,{code(1)}\n".encode())
    return client.post(IMPORT_PAGE, data=body, content_type=MULTIPART)


def test_upload_shows_the_report(app, client, managers, tmp_path):
    login(client, "boss")
    page = client.get(IMPORT_PAGE).get_data(as_text=True)
    assert "统一社会信用代码 / 信用代码 / 社会信用代码" in page
    data = write_gbk_csv(tmp_path).read_bytes()
    response = upload(client, data, "crm-export.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "已导入：crm-export.csv" in page
    assert "已新建 <strong>2</strong>" in page
    assert "拒绝 <strong>7</strong>" in page
    assert "未导入的列：内部编号" in page
    assert "客户经理 李静 对应多个账户" in page
    assert "与第 2 行重复" in page
    assert '<tr class="outcome-rejected">\n      <td>11</td>' in page
    with app.app_context():
        assert count_clients() == 2
        assert get_indexer().check().clean


def test_preview_then_import_the_same_file(app, client, managers, tmp_path):
    login(client, "boss")
    data = write_gbk_csv(tmp_path).read_bytes()
    response = upload(client, data, "crm-export.csv", dry_run=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "预览：crm-export.csv（未保存）" in page
    assert "将新建 <strong>2</strong>" in page
    with app.app_context():
        assert count_clients() == 0
    folder = Path(app.instance_path) / "client-imports"
    [stored] = list(folder.iterdir())
    assert f'name="pending" value="{stored.name}"' in page
    confirm = {
        "csrf_token": csrf_token(client, IMPORT_PAGE),
        "pending": stored.name,
        "pending_name": "crm-export.csv",
    }
    response = client.post(IMPORT_PAGE, data=confirm)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "已导入：crm-export.csv" in page
    assert "已新建 <strong>2</strong>" in page
    assert not stored.exists()
    with app.app_context():
        assert count_clients() == 2
    response = client.post(IMPORT_PAGE, data=confirm)
    assert response.status_code == 400
    assert "预览过的文件已导入或已过期" in response.get_data(as_text=True)


def test_old_previews_are_deleted(app, client, managers, tmp_path):
    folder = Path(app.instance_path) / "client-imports"
    folder.mkdir()
    old = folder / ("a" * 32 + ".csv")
    old.write_text("name,credit_code\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    recent = folder / ("b" * 32 + ".csv")
    recent.write_text("name,credit_code\n")
    login(client, "boss")
    upload(client, write_gbk_csv(tmp_path).read_bytes(), "crm.csv", dry_run=True)
    assert not old.exists()
    assert recent.exists()
    assert len(list(folder.iterdir())) == 2


def test_pending_name_must_be_a_stored_name(client, managers):
    login(client, "boss")
    for name in ("../kb.sqlite3", "0" * 32 + ".sqlite3", "x.csv"):
        data = {"csrf_token": csrf_token(client, IMPORT_PAGE), "pending": name}
        response = client.post(IMPORT_PAGE, data=data)
        assert response.status_code == 400, name
        assert "预览过的文件已导入或已过期" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "文件 empty.csv 是空的。"),
        (b"%PDF-1.7 ...", "scan.pdf", "文件 scan.pdf 的类型不受支持"),
        (b"PK\x03\x04broken", "broken.xlsx", "文件 broken.xlsx 不是有效的 Excel"),
        ("备注\n你好\n".encode(), "notes.csv", "文件 notes.csv 缺少必需的列"),
    ],
)
def test_bad_file_is_named_with_400(app, client, managers, data, filename, message):
    login(client, "boss")
    response = upload(client, data, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_missing_file_and_token_are_reported(app, client, managers):
    login(client, "boss")
    token = csrf_token(client, IMPORT_PAGE)
    response = client.post(IMPORT_PAGE, data={"csrf_token": token})
    assert response.status_code == 400
    assert "请选择要导入的文件。" in response.get_data(as_text=True)
    response = upload_without_token(client)
    assert response.status_code == 400
    assert "表单已过期或缺少安全令牌" in response.get_data(as_text=True)


def test_oversized_upload_gets_a_message(app, client, managers):
    login(client, "boss")
    data = b"x" * (IMPORT_MAX_MB * 1024 * 1024 + 1)
    response = upload(client, data, "huge.csv")
    assert response.status_code == 413
    assert f"文件超过 {IMPORT_MAX_MB} MB 的上限" in response.get_data(as_text=True)


def test_upload_above_app_limit_accepted(app, client, managers):
    """Files between MAX_CONTENT_LENGTH and the page's own limit are read."""
    login(client, "boss")
    filler = "x" * 4500
    lines = ["name,credit_code,notes"] + [
        f"公司{i},{code(i)},{filler}" for i in range(1, 1001)
    ]
    data = "\n".join(lines).encode()
    assert app.config["MAX_CONTENT_LENGTH"] < len(data) < IMPORT_MAX_MB * 1024 * 1024
    response = upload(client, data, "big.csv", dry_run=True)
    assert response.status_code == 200
    assert "将新建 <strong>1000</strong>" in response.get_data(as_text=True)


def test_too_many_rows_are_rejected(client, managers):
    login(client, "boss")
    lines = ["name,credit_code"] + [f"公司{i},x" for i in range(IMPORT_MAX_ROWS + 1)]
    response = upload(client, "\n".join(lines).encode(), "long.csv")
    assert response.status_code == 400
    assert f"超过 {IMPORT_MAX_ROWS} 行的上限" in response.get_data(as_text=True)


def test_oversized_upload_over_real_socket(live_server, managers):  # noqa: F811
    """The server reads the rest of the body, so the browser gets the page."""
    browser = Browser(live_server)
    browser.login("boss")
    fields = {"csrf_token": browser.csrf(IMPORT_PAGE)}
    body = multipart(fields, "huge.csv", b"x" * (IMPORT_MAX_MB * 1024 * 1024))
    request = urllib.request.Request(
        live_server + IMPORT_PAGE, data=body, headers={"Content-Type": MULTIPART}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        browser.opener.open(request, timeout=60)
    with caught.value as error:
        assert error.code == 413
        assert f"文件超过 {IMPORT_MAX_MB} MB 的上限" in error.read().decode()


def test_unclosed_quote_rejects_file(app):
    text = f'客户名称,统一社会信用代码\n"未闭合公司,{code(901)}\n乙公司,{code(902)}\n'
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_rows(text.encode(), "quote.csv")
    assert "引号未闭合" in caught.value.message


def test_duplicate_after_a_rejected_row_is_imported(app):
    duplicate = code(903)
    sheet = importer.Sheet(
        "dup.csv",
        ["客户名称", "统一社会信用代码", "行业"],
        [(2, ["甲", duplicate, "99"]), (3, ["甲", duplicate, "36"])],
    )
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
        outcomes = [(r.row, r.outcome) for r in report.rows]
    assert outcomes == [(2, "rejected"), (3, "created")]


def test_excel_marks_and_combined_industries_are_read(app):
    sheet = importer.Sheet(
        "marks.csv",
        ["客户名称", "统一社会信用代码", "行业"],
        [
            (2, ["甲", f"'{code(904)}", "C36 汽车制造业"]),
            (3, ["乙", f'="{code(905)}"', "汽车制造业(36)"]),
            (4, ["丙", "9.13100E+17", "36"]),
            (5, ["丁", code(906), "36 纺织业"]),
        ],
    )
    with app.app_context():
        report = importer.import_clients(db.session, sheet)
    outcomes = {r.row: r.outcome for r in report.rows}
    assert outcomes == {2: "created", 3: "created", 4: "rejected", 5: "rejected"}
    problems = {r.row: " ".join(p.message for p in r.problems) for r in report.rows}
    assert "15 位有效数字" in problems[4]
    assert "不一致" in problems[5]
