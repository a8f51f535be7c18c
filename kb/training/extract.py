"""Decide an attachment's kind from its bytes and extract its text for search.

The kind comes from the content, never from the file name: a PDF starts with
``%PDF-``, and Word, PowerPoint and Excel files are ZIP archives (Office Open
XML) with ``[Content_Types].xml`` and the main part of their kind.
"""

import io
import logging
import time
import zipfile

logger = logging.getLogger(__name__)

# The main part that makes a ZIP archive an Office Open XML file of each kind.
OOXML_MAIN_PARTS = {
    "docx": "word/document.xml",
    "pptx": "ppt/presentation.xml",
    "xlsx": "xl/workbook.xml",
}
# Archives beyond these limits are rejected before any library unpacks them, so a
# small upload cannot expand into gigabytes in memory (a "zip bomb").
# NOTE: the limits are estimates. Office files with many images stay well below
# them; a file far beyond them is more likely an attack than a course handout.
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_UNCOMPRESSED = 256 * 1024 * 1024
# The Office libraries build an XML tree in memory, about 60 bytes per byte
# of XML (measured), so each XML part is limited on its own. Real parts
# compress roughly 5-20 to 1 (an estimate), so a part over 1 MB packed far
# tighter is filler, not text.
# NOTE: at that ratio a part just under the limit may still take about 1 GB
# while parsed (an estimate); extraction runs inside the web process.
ZIP_MAX_XML_PART = 16 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_RATIO_FROM = 1024 * 1024
# Extracted text beyond this many characters is cut off.
TEXT_MAX_CHARS = 2_000_000
# Extraction stops at the next page, paragraph, slide or row after this many
# seconds and keeps what it has.
# NOTE: the limit is checked between pieces only. python-docx and python-pptx
# parse a file's XML before the first check, and that parse has no time limit;
# the ZIP limits above bound its size.
EXTRACT_MAX_SECONDS = 30.0


class ZipTooLarge(Exception):
    """Raised when a ZIP archive has too many members or expands too far."""


def sniff_kind(
    data: bytes,
    max_members: int = ZIP_MAX_MEMBERS,
    max_uncompressed: int = ZIP_MAX_UNCOMPRESSED,
) -> str | None:
    """Return "pdf", "docx", "pptx" or "xlsx" for ``data``, or None for anything else.

    Raise ZipTooLarge for an archive beyond ``max_members`` or
    ``max_uncompressed`` bytes, whatever it contains.
    """
    if data.startswith(b"%PDF-"):
        return "pdf"
    if not data.startswith(b"PK"):
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    with archive:
        members = archive.infolist()
        if len(members) > max_members:
            raise ZipTooLarge(f"{len(members)} members, limit {max_members}")
        # zipfile stops reading a member at its declared size, so the declared
        # sizes bound what the Office libraries can unpack.
        total = sum(member.file_size for member in members)
        if total > max_uncompressed:
            raise ZipTooLarge(f"{total} bytes uncompressed, limit {max_uncompressed}")
        for member in members:
            _check_part(member)
        names = {member.filename for member in members}
    if "[Content_Types].xml" not in names:
        return None
    for kind, part in OOXML_MAIN_PARTS.items():
        if part in names:
            return kind
    return None


def _check_part(member: zipfile.ZipInfo) -> None:
    if not member.filename.lower().endswith((".xml", ".rels")):
        return
    if member.file_size > ZIP_MAX_XML_PART:
        raise ZipTooLarge(
            f"{member.filename} is {member.file_size} bytes, limit {ZIP_MAX_XML_PART}"
        )
    packed = max(member.compress_size, 1)
    if member.file_size > ZIP_RATIO_FROM and member.file_size / packed > ZIP_MAX_RATIO:
        raise ZipTooLarge(
            f"{member.filename} expands {member.file_size // packed} to 1, "
            f"limit {ZIP_MAX_RATIO}"
        )


class ExtractionError(Exception):
    """Raised when a file's text cannot be read. The message is the reason."""


class _Collector:
    """Text pieces gathered up to TEXT_MAX_CHARS characters or the time limit."""

    def __init__(self, max_chars: int, max_seconds: float):
        self.parts: list[str] = []
        self.size = 0
        self.max_chars = max_chars
        self.deadline = time.monotonic() + max_seconds
        self.truncated = False
        self.timed_out = False

    @property
    def full(self) -> bool:
        if time.monotonic() > self.deadline:
            self.timed_out = True
        return self.truncated or self.timed_out

    def add(self, text) -> None:
        if text is None or self.full:
            return
        text = str(text).strip()
        if not text:
            return
        room = self.max_chars - self.size
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self.parts.append(text)
        self.size += len(text) + 1

    def text(self) -> str:
        return "\n".join(self.parts)[: self.max_chars]


def extract_text(
    data: bytes,
    kind: str,
    max_chars: int = TEXT_MAX_CHARS,
    max_seconds: float = EXTRACT_MAX_SECONDS,
) -> tuple[str, str]:
    """Return the text of a file of ``kind`` and an error message, empty if none.

    A malformed or encrypted file returns empty text and the reason. Any
    exception of the parsing libraries counts, because they raise many types on
    broken input. A file that runs past ``max_seconds`` returns the text read
    so far and an error that names the time limit.
    """
    readers = {
        "pdf": _pdf_text,
        "docx": _docx_text,
        "pptx": _pptx_text,
        "xlsx": _xlsx_text,
    }
    collector = _Collector(max_chars, max_seconds)
    try:
        readers[kind](data, collector)
    except ExtractionError as error:
        return "", str(error)
    except Exception as error:  # noqa: BLE001 - see the docstring
        logger.warning("Text extraction from a %s file failed: %r", kind, error)
        return "", f"{type(error).__name__}: {error}"[:500]
    error = ""
    if collector.timed_out:
        error = f"extraction stopped after {max_seconds:g} seconds; text is partial"
    return collector.text(), error


def _pdf_text(data: bytes, collector: _Collector) -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ExtractionError("the PDF is encrypted")
    for page in reader.pages:
        if collector.full:
            return
        collector.add(page.extract_text())


def _docx_text(data: bytes, collector: _Collector) -> None:
    import docx

    document = docx.Document(io.BytesIO(data))
    for paragraph in document.paragraphs:
        if collector.full:
            return
        collector.add(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            if collector.full:
                return
            collector.add(" ".join(cell.text for cell in row.cells))


def _pptx_text(data: bytes, collector: _Collector) -> None:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    for slide in presentation.slides:
        if collector.full:
            return
        for shape in slide.shapes:
            _add_shape_text(shape, collector)
        if slide.has_notes_slide:
            collector.add(slide.notes_slide.notes_text_frame.text)


def _add_shape_text(shape, collector: _Collector) -> None:
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        collector.add(shape.text_frame.text)
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            collector.add(" ".join(cell.text for cell in row.cells))
    # Group shapes contain further shapes.
    for inner in getattr(shape, "shapes", ()):
        _add_shape_text(inner, collector)


def _xlsx_text(data: bytes, collector: _Collector) -> None:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            collector.add(sheet.title)
            for row in sheet.iter_rows(values_only=True):
                if collector.full:
                    return
                collector.add(" ".join(str(v) for v in row if v is not None))
    finally:
        workbook.close()
