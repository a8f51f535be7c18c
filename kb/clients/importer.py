"""Import clients from CRM exports: CSV or XLSX files with one client per row.

``read_rows`` reads a file into its header and numbered rows. ``import_clients``
maps the header to client fields, checks every row and creates or updates the
valid ones by credit code. Rows are numbered as a spreadsheet shows them: the
header is usually row 1 and the first data row row 2.
"""

import codecs
import csv
import io
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePosixPath

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.auth.models import User
from kb.clients import creditcode, services
from kb.clients.models import Client
from kb.errors import ValidationError
from kb.taxonomy.models import Industry

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t")
OUTCOMES = ("created", "updated", "unchanged", "rejected")

# Header names per client field, compared after _normalize_header. The first
# name of each field is the one messages show.
HEADER_ALIASES = {
    "name": ("客户名称", "客户名", "企业名称", "name", "client_name"),
    "credit_code": (
        "统一社会信用代码",
        "信用代码",
        "社会信用代码",
        "credit_code",
        "uscc",
    ),
    "industry": (
        "所属行业",
        "行业",
        "行业代码",
        "行业名称",
        "industry",
        "industry_code",
    ),
    "manager": (
        "客户经理",
        "客户经理工号",
        "manager",
        "relationship_manager",
        "rm",
    ),
    "branch": ("所属机构", "分支机构", "经营机构", "部门", "branch", "department"),
    "segment": ("客户分层", "客户类型", "segment"),
    "status": ("客户状态", "状态", "status"),
    "products": ("持有产品", "产品", "products"),
    "notes": ("备注", "notes", "remark"),
}
FIELDS = tuple(HEADER_ALIASES)
REQUIRED_FIELDS = ("name", "credit_code")

STATUS_VALUES = {
    "正常": "active",
    "活跃": "active",
    "active": "active",
    "有流失风险": "at_risk",
    "风险": "at_risk",
    "at risk": "at_risk",
    "at_risk": "at_risk",
    "已流失": "lost",
    "流失": "lost",
    "lost": "lost",
}

# Applied after NFKC, which turns the full-width ，；／ into , ; /.
PRODUCT_SEPARATORS = re.compile(r"[、,;/\r\n]+")

# A division code, optionally after its section letter: "36", "C36", "c 36".
# Three or four digits are a group or class code such as C3612, whose first two
# digits are its division in GB/T 4754-2017.
INDUSTRY_CODE = re.compile(r"([A-Za-z]?)\s*(\d{1,4})")
# A code and its name in one cell, as CRM systems print them:
# "C36 汽车制造业", "36-汽车制造业", "汽车制造业(C36)".
INDUSTRY_CODE_AND_NAME = re.compile(
    r"(?P<code>[A-Za-z]?\s*\d{1,4})\s*[-－—:：]?\s*(?P<name>\D+)"
    r"|(?P<name2>\D+?)\s*[(（]\s*(?P<code2>[A-Za-z]?\s*\d{1,4})\s*[)）]"
)
# A number that Excel wrote in scientific notation, such as 9.13100E+17.
SCIENTIFIC_NUMBER = re.compile(r"\d(\.\d+)?E\+\d+", re.IGNORECASE)


class ImportFileError(ValidationError):
    """Raised when a whole file cannot be imported; the message names the file."""

    def __init__(self, message: str):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class Sheet:
    """A file's header and its non-blank data rows, each with its row number."""

    filename: str
    header: list[str]
    rows: list[tuple[int, list[str]]]


@dataclass(frozen=True)
class RowProblem:
    """Why a row was rejected: the client field, its header in the file, a message."""

    column: str
    header: str
    message: str


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row: created, updated, unchanged or rejected."""

    row: int
    outcome: str
    name: str
    credit_code: str
    problems: tuple[RowProblem, ...] = ()
    client_id: int | None = None


@dataclass
class ImportReport:
    """Every row's outcome and the columns that were not imported."""

    filename: str
    dry_run: bool
    ignored_columns: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.rows:
            counts[result.outcome] += 1
        return counts

    @property
    def rejected(self) -> int:
        return self.counts["rejected"]


# -- reading files -------------------------------------------------------------


def read_rows(
    source: str | Path | bytes,
    filename: str | None = None,
    max_rows: int | None = None,
) -> Sheet:
    """Read a CSV or XLSX file into its header and non-blank rows.

    ``source`` is a path, or the file's bytes with its ``filename``, whose
    extension selects the format. Cells are returned as text. Raises
    ImportFileError, naming the file, for an unsupported extension, an empty or
    unreadable file, a file without a header row, or more than ``max_rows``
    data rows.
    """
    if isinstance(source, bytes):
        data = source
        name = display_filename(filename or "")
    else:
        path = Path(source)
        name = path.name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ImportFileError(
                str(
                    _l(
                        "无法读取文件 %(file)s：%(error)s",
                        file=name,
                        error=error.strerror or error,
                    )
                )
            ) from None
    suffix = PurePosixPath(name).suffix.lower()
    if not data:
        raise ImportFileError(str(_l("文件 %(file)s 是空的。", file=name)))
    if suffix in CSV_SUFFIXES:
        records = _read_csv(data, name)
    elif suffix in XLSX_SUFFIXES:
        records = _read_xlsx(data, name, max_rows)
    elif suffix == ".xls":
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 是旧版 Excel 格式（.xls），无法读取。"
                    "请在 Excel 中另存为 .xlsx 或 CSV 后再导入。",
                    file=name,
                )
            )
        )
    else:
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 的类型不受支持，请上传 CSV（.csv）"
                    "或 Excel 工作簿（.xlsx）。",
                    file=name,
                )
            )
        )
    return _sheet(name, records, max_rows)


def display_filename(filename: str) -> str:
    """Return the last part of an uploaded file's name, for messages."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or "upload"


def _sheet(name: str, records, max_rows: int | None) -> Sheet:
    """Split numbered records into the header (first non-blank) and data rows."""
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = cells
        else:
            rows.append((number, cells))
            _check_row_count(len(rows), max_rows, name)
    if header is None:
        raise ImportFileError(
            str(_l("文件 %(file)s 没有表头行，也没有数据。", file=name))
        )
    return Sheet(filename=name, header=header, rows=rows)


def _check_row_count(count: int, max_rows: int | None, name: str) -> None:
    if max_rows is not None and count > max_rows:
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 的数据超过 %(max)s 行的上限，请拆分后分批导入。",
                    file=name,
                    max=max_rows,
                )
            )
        )


# The csv module refuses cells over 128 KiB by default; the length checks of
# the client fields reject long cells row by row instead.
csv.field_size_limit(16 * 1024 * 1024)


def _read_csv(data: bytes, name: str) -> list[tuple[int, list[str]]]:
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 是压缩文件或 Excel 工作簿，不是 CSV。"
                    "如果是 Excel 文件，请把扩展名改为 .xlsx。",
                    file=name,
                )
            )
        )
    # Cells keep their line breaks as "\n", whichever ending the file uses.
    text = _decode(data, name).replace("\r\n", "\n").replace("\r", "\n")
    delimiter = _sniff_delimiter(text)
    # strict: a quote that is never closed is an error at the end of the file
    # instead of a cell that silently swallows every later row.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    # A quoted cell may span several lines; a spreadsheet still counts it as
    # one row, so rows are numbered by record and not by line.
    try:
        return [(number, cells) for number, cells in enumerate(reader, start=1)]
    except csv.Error as error:
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 在第 %(line)s 行附近不是有效的 CSV"
                    "（引号未闭合或引号后有多余字符）：%(error)s",
                    file=name,
                    line=reader.line_num,
                    error=error,
                )
            )
        ) from None


def _decode(data: bytes, name: str) -> str:
    """Decode CSV bytes as UTF-8 (with or without BOM), UTF-16 with BOM or GB18030.

    GB18030 includes GBK and GB2312, the encodings of Chinese Excel's CSV.
    """
    if data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        encodings = ("utf-16",)
    elif b"\x00" in data:
        raise ImportFileError(
            str(_l("文件 %(file)s 不是文本文件，无法按 CSV 读取。", file=name))
        )
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        str(
            _l(
                "文件 %(file)s 的编码无法识别：它既不是 UTF-8，也不是 GBK/GB18030。"
                "请在 Excel 中另存为“CSV UTF-8”后再导入。",
                file=name,
            )
        )
    )


def _sniff_delimiter(text: str) -> str:
    """Return the one of , ; and tab that splits the header into the most cells.

    Ties go to the earlier one in DELIMITERS. The header names are plain words,
    so this is steadier than guessing from data rows that contain free text.
    """
    best, best_count = DELIMITERS[0], 0
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            # A line of spaces and delimiters is blank whatever the delimiter.
            header = next(
                (cells for cells in reader if "".join(cells).strip(" \t,;")), []
            )
        except csv.Error:
            continue
        if len(header) > best_count:
            best, best_count = delimiter, len(header)
    return best


def _read_xlsx(
    data: bytes, name: str, max_rows: int | None
) -> list[tuple[int, list[str]]]:
    """Read the first worksheet's cells as text, numbered by worksheet row.

    Reading stops with ImportFileError once more than ``max_rows`` non-blank
    rows follow the header.
    """
    from openpyxl import load_workbook

    unreadable = _l(
        "文件 %(file)s 不是有效的 Excel 工作簿（.xlsx），可能已损坏。"
        "请在 Excel 中打开并另存为 .xlsx 或 CSV 后再导入。",
        file=name,
    )
    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError(str(unreadable))
    records: list[tuple[int, list[str]]] = []
    # NOTE: openpyxl reads the workbook's shared strings into memory at once, so
    # a small but crafted workbook can still take much memory.
    try:
        # openpyxl warns about workbook parts that it drops, such as data
        # validation extensions. The import reads cell values only.
        # NOTE: catch_warnings changes process-wide state, so a warning raised
        # by another thread in the meantime is ignored as well.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not workbook.worksheets:
                    raise ImportFileError(
                        str(_l("文件 %(file)s 中没有工作表。", file=name))
                    )
                worksheet = workbook.worksheets[0]
                # Some exporters write a wrong used range. Without it, read-only
                # mode reads every row that is in the file.
                worksheet.reset_dimensions()
                position = filled = 0
                for cells in worksheet.iter_rows():
                    position += 1
                    # Empty cells carry no row number; the others correct the
                    # count when the file leaves rows out.
                    position = next(
                        (c.row for c in cells if getattr(c, "row", None)), position
                    )
                    texts = [_cell_text(c.value) for c in cells]
                    records.append((position, texts))
                    if any(text.strip() for text in texts):
                        filled += 1
                        _check_row_count(filled - 1, max_rows, name)
            finally:
                workbook.close()
    except ImportFileError:
        raise
    except Exception as error:
        # openpyxl raises many kinds of error for damaged zip or XML parts.
        logger.warning("Could not read workbook %s: %r", name, error)
        raise ImportFileError(str(unreadable)) from None
    return records


def _cell_text(value) -> str:
    """Return a cell value as the text a person typed into it.

    Whole numbers lose the ".0" that Excel's number storage adds, and dates
    become ISO 8601 (time of day only when it is not midnight).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if abs(value) >= 1e15:
            # Beyond 15 digits Excel has already rounded the number; show it
            # as Excel does so the row is rejected with the right advice.
            return f"{value:.5E}"
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# -- header mapping ------------------------------------------------------------


def _normalize_header(text: str) -> str:
    """NFKC, trimmed, lower case, with inner spaces and dashes read as "_"."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


_FIELD_BY_HEADER = {
    _normalize_header(alias): name
    for name, aliases in HEADER_ALIASES.items()
    for alias in aliases
}


@dataclass(frozen=True)
class _ImportColumns:
    """Column positions of each client field, their header texts, ignored columns."""

    positions: dict[str, list[int]]
    headers: dict[str, str]
    ignored: list[str]

    def values(self, cells: list[str]) -> dict[str, str]:
        """Return each field's text: the first non-empty cell of its columns."""
        values = {}
        for name in FIELDS:
            texts = (
                cells[i].strip() if i < len(cells) else ""
                for i in self.positions.get(name, ())
            )
            values[name] = next((text for text in texts if text), "")
        return values

    def header(self, name: str) -> str:
        """Return the file's header of a field, or the field name if it has none."""
        return self.headers.get(name, name)


def _map_header(sheet: Sheet) -> _ImportColumns:
    """Match header cells to fields.

    Raises ImportFileError when the name or credit code column is missing. A
    field named by several columns (for example 行业代码 and 行业名称) takes
    the first non-empty cell from left to right.
    """
    positions: dict[str, list[int]] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for index, raw in enumerate(sheet.header):
        text = raw.strip()
        if not text:
            continue
        name = _FIELD_BY_HEADER.get(_normalize_header(text))
        if name is None:
            ignored.append(text)
            continue
        positions.setdefault(name, []).append(index)
        headers.setdefault(name, text)
    missing = [name for name in REQUIRED_FIELDS if name not in positions]
    if missing:
        found = [cell.strip() for cell in sheet.header if cell.strip()]
        none = _l("（无）")
        raise ImportFileError(
            str(
                _l(
                    "文件 %(file)s 缺少必需的列：%(missing)s。"
                    "文件的表头为：%(found)s。",
                    file=sheet.filename,
                    missing=" / ".join(
                        f"{HEADER_ALIASES[name][0]} ({name})" for name in missing
                    ),
                    found=" | ".join(found)[:500] or str(none),
                )
            )
        )
    return _ImportColumns(positions=positions, headers=headers, ignored=ignored)


# -- value mapping -------------------------------------------------------------


@dataclass(frozen=True)
class _ImportAccount:
    id: int
    username: str
    display_name: str


@dataclass
class _ImportLookups:
    """Industries and accounts, loaded once per import."""

    divisions: dict[str, Industry]
    division_by_name: dict[str, str]
    sections: dict[str, Industry]
    section_by_name: dict[str, str]
    accounts_by_username: dict[str, _ImportAccount]
    accounts_by_display_name: dict[str, list[_ImportAccount]]

    @classmethod
    def load(cls, session: Session) -> "_ImportLookups":
        industries = session.scalars(select(Industry).order_by(Industry.code)).all()
        divisions = {i.code: i for i in industries if i.level == "division"}
        sections = {i.code: i for i in industries if i.level == "section"}
        by_username: dict[str, _ImportAccount] = {}
        by_display_name: dict[str, list[_ImportAccount]] = {}
        rows = session.execute(
            select(User.id, User.username, User.display_name).order_by(User.username)
        )
        for user_id, username, display_name in rows:
            account = _ImportAccount(user_id, username, display_name)
            by_username[username.lower()] = account
            key = _normalize_value(display_name)
            by_display_name.setdefault(key, []).append(account)
        return cls(
            divisions=divisions,
            division_by_name={
                _normalize_value(i.name): c for c, i in divisions.items()
            },
            sections=sections,
            section_by_name={_normalize_value(i.name): c for c, i in sections.items()},
            accounts_by_username=by_username,
            accounts_by_display_name=by_display_name,
        )

    def industry(self, raw: str) -> tuple[str | None, str | None]:
        """Return the division code for a code or name, or a message why not.

        A division name wins over an equal section name (房地产业, 教育 and
        国际组织 name both), but a section alone is rejected: a client
        belongs to a division.
        """
        text = _normalize_value(raw)
        if not text:
            return None, None
        match = INDUSTRY_CODE.fullmatch(text)
        if match:
            return self._industry_by_code(text, match[1].upper(), match[2])
        both = INDUSTRY_CODE_AND_NAME.fullmatch(text)
        if both:
            code_text = (both["code"] or both["code2"]).replace(" ", "")
            name = (both["name"] or both["name2"]).strip()
            code, problem = self.industry(code_text)
            if code is not None and self.division_by_name.get(name) != code:
                return None, str(
                    _l(
                        "行业 %(value)s 的代码和名称不一致："
                        "大类 %(code)s 不是“%(name)s”。",
                        value=text[:40],
                        code=code,
                        name=name[:20],
                    )
                )
            return code, problem
        if text in self.division_by_name:
            return self.division_by_name[text], None
        section_code = self.section_by_name.get(text)
        if section_code is None and text.upper() in self.sections:
            section_code = text.upper()
        if section_code is not None:
            return None, self._section_message(text, section_code)
        return None, str(
            _l(
                "未知的行业：%(value)s。请填 GB/T 4754-2017 的大类代码或名称，"
                "例如 36 或 汽车制造业。",
                value=text[:40],
            )
        )

    def _industry_by_code(self, text: str, letter: str, digits: str):
        # One digit is a code whose leading zero a spreadsheet dropped: 1 is 01.
        code = digits.zfill(2)[:2]
        division = self.divisions.get(code)
        if division is None:
            return None, str(
                _l(
                    "未知的行业代码：%(value)s。GB/T 4754-2017 没有大类 %(code)s。",
                    value=text[:40],
                    code=code,
                )
            )
        if letter and letter != division.section_code:
            return None, str(
                _l(
                    "行业代码 %(value)s 有误：大类 %(code)s %(name)s属于门类 "
                    "%(section)s，而不是 %(letter)s。",
                    value=text[:40],
                    code=code,
                    name=division.name,
                    section=division.section_code,
                    letter=letter,
                )
            )
        return code, None

    def _section_message(self, text: str, section_code: str) -> str:
        section = self.sections[section_code]
        example = next(
            (d for d in self.divisions.values() if d.section_code == section_code),
            None,
        )
        return str(
            _l(
                "行业 %(value)s 是门类（%(section)s %(name)s），客户的行业需要具体到"
                "大类，例如 %(example)s。",
                value=text[:40],
                section=section.code,
                name=section.name,
                example=example.label if example is not None else "",
            )
        )

    def manager(self, raw: str) -> tuple[int | None, str | None]:
        """Return the account id for a username or display name, or a message."""
        text = _normalize_value(raw)
        if not text:
            return None, None
        account = self.accounts_by_username.get(text.lower())
        if account is not None:
            return account.id, None
        candidates = self.accounts_by_display_name.get(text, [])
        if len(candidates) == 1:
            return candidates[0].id, None
        if candidates:
            return None, str(
                _l(
                    "客户经理 %(value)s 对应多个账户：%(candidates)s。请改填用户名。",
                    value=text[:40],
                    candidates="、".join(
                        f"{a.display_name}（{a.username}）" for a in candidates
                    ),
                )
            )
        return None, str(
            _l(
                "未知的客户经理：%(value)s。请填系统中的用户名或姓名。",
                value=text[:40],
            )
        )


def _normalize_value(text: str) -> str:
    """NFKC with runs of whitespace as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _status(raw: str) -> str:
    """Map a status label to active, at_risk or lost, where empty means active.

    An unknown label is returned as it is, so validation names it.
    """
    text = _normalize_value(raw)
    if not text:
        return "active"
    key = re.sub(r"[\s_\-]+", " ", text.lower())
    return STATUS_VALUES.get(key, text)


def _products(raw: str) -> list[str]:
    parts = PRODUCT_SEPARATORS.split(unicodedata.normalize("NFKC", raw))
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


# -- importing -----------------------------------------------------------------


def import_clients(
    session: Session, sheet: Sheet, dry_run: bool = False
) -> ImportReport:
    """Create or update a client for every valid row of ``sheet``.

    Rows are matched on the credit code, so importing a file again updates the
    same clients. Each row is saved in its own SAVEPOINT, so a row that fails
    leaves the others in place. A field whose column the file lacks keeps its
    stored value. With ``dry_run`` the report is the same, but everything is
    rolled back before returning. The caller commits or rolls back the
    session. Raises ImportFileError when a required column is missing.
    """
    columns = _map_header(sheet)
    lookups = _ImportLookups.load(session)
    report = ImportReport(
        filename=sheet.filename, dry_run=dry_run, ignored_columns=columns.ignored
    )
    first_rows: dict[str, int] = {}
    whole_file = session.begin_nested()
    try:
        for number, cells in sheet.rows:
            values = columns.values(cells)
            result = _import_row(session, lookups, columns, number, values, first_rows)
            report.rows.append(result)
    except BaseException:
        whole_file.rollback()
        raise
    if dry_run:
        whole_file.rollback()
    else:
        whole_file.commit()
    counts = report.counts
    logger.info(
        "%s clients from %s: %s created, %s updated, %s unchanged, %s rejected",
        "Checked" if dry_run else "Imported",
        sheet.filename,
        counts["created"],
        counts["updated"],
        counts["unchanged"],
        counts["rejected"],
    )
    return report


def _import_row(
    session: Session,
    lookups: _ImportLookups,
    columns: _ImportColumns,
    number: int,
    values: dict[str, str],
    first_rows: dict[str, int],
) -> RowResult:
    raw_code = values["credit_code"].strip()
    values = {**values, "credit_code": _excel_text(raw_code)}
    data, problems = _row_input(session, lookups, columns, values)
    code = creditcode.normalize(values["credit_code"])
    if SCIENTIFIC_NUMBER.fullmatch(raw_code):
        problems["credit_code"] = str(
            _l(
                "统一社会信用代码 %(value)s 被 Excel 存成了数字，"
                "只保留了 15 位有效数字，无法还原。请把该列设为“文本”后重新导出。",
                value=raw_code[:40],
            )
        )
    if "credit_code" not in problems:
        # Only a row that was imported makes later rows with its code
        # duplicates; after a rejected row the next one may still be saved.
        first = first_rows.get(code, number)
        if first != number:
            problems["credit_code"] = str(
                _l(
                    "统一社会信用代码 %(code)s 与第 %(row)s 行重复，本行未导入。",
                    code=code,
                    row=first,
                )
            )
    name = _normalize_value(values["name"])
    if problems:
        return _rejected(columns, number, name, code, problems)
    try:
        with session.begin_nested():
            client, outcome = services.upsert(session, data)
    except ValidationError as error:
        return _rejected(
            columns, number, name, code, {error.field or "name": error.message}
        )
    except IntegrityError as error:
        logger.warning("Could not save client %s from row %s: %s", code, number, error)
        message = _l("数据库拒绝保存此行，请稍后重新导入此文件。")
        return _rejected(columns, number, name, code, {"credit_code": str(message)})
    first_rows[code] = number
    return RowResult(
        row=number, outcome=outcome, name=name, credit_code=code, client_id=client.id
    )


def _excel_text(value: str) -> str:
    """Remove Excel's keep-as-text marks: a leading apostrophe or ="...".

    Exports use them so that long codes are not turned into numbers.
    """
    if value.startswith("'"):
        return value[1:]
    if value.startswith('="') and value.endswith('"'):
        return value[2:-1]
    return value


def _row_input(
    session: Session,
    lookups: _ImportLookups,
    columns: _ImportColumns,
    values: dict[str, str],
) -> tuple[services.ClientInput, dict[str, str]]:
    """Build the client input of a row, with a message per invalid field."""
    problems: dict[str, str] = {}
    data = services.ClientInput(name=values["name"], credit_code=values["credit_code"])
    code = creditcode.normalize(values["credit_code"])
    stored = None
    if code:
        stored = session.scalar(select(Client).where(Client.credit_code == code))

    if stored is not None:
        data.industry_code = stored.industry_code
        data.manager_id = stored.manager_id
        data.branch = stored.branch
        data.segment = stored.segment
        data.status = stored.status
        data.products = stored.product_list
        data.notes = stored.notes

    present = columns.positions
    if "industry" in present:
        data.industry_code, message = lookups.industry(values["industry"])
        if message:
            problems["industry"] = message
    if "manager" in present:
        data.manager_id, message = lookups.manager(values["manager"])
        if message:
            problems["manager"] = message
    if "status" in present:
        data.status = _status(values["status"])
    if "products" in present:
        data.products = _products(values["products"])
    for name in ("branch", "segment", "notes"):
        if name in present:
            setattr(data, name, values[name])

    for name, message in services.validate(data, session).items():
        problems.setdefault(name, str(message))
    return data, problems


def _rejected(columns, number, name, code, problems: dict[str, str]) -> RowResult:
    ordered = sorted(problems.items(), key=lambda item: _field_order(item[0]))
    return RowResult(
        row=number,
        outcome="rejected",
        name=name,
        credit_code=code,
        problems=tuple(
            RowProblem(column=field_name, header=columns.header(field_name), message=m)
            for field_name, m in ordered
        ),
    )


def _field_order(name: str) -> int:
    return FIELDS.index(name) if name in FIELDS else len(FIELDS)
