"""Type sniffing and text extraction, on files built in the tests."""

import os

import pytest

from kb.training import extract, files
from tests.training.documents import (
    make_docx,
    make_pdf,
    make_pptx,
    make_xlsx,
    make_zip,
    make_zip_bomb,
)


def test_pdf_text_chinese_extracted():
    data = make_pdf("绿色信贷指引 2026 版")
    assert extract.sniff_kind(data) == "pdf"
    text, error = extract.extract_text(data, "pdf")
    assert error == ""
    assert "绿色信贷指引 2026 版" in text


def test_docx_paragraphs_and_tables():
    data = make_docx("应收账款质押登记流程", cell="保理融资额度")
    assert extract.sniff_kind(data) == "docx"
    text, error = extract.extract_text(data, "docx")
    assert error == ""
    assert "应收账款质押登记流程" in text
    assert "保理融资额度" in text


def test_pptx_shapes_tables_notes():
    data = make_pptx("跨境结算路径", notes="讲者备注：汇率风险", table_text="信用证")
    assert extract.sniff_kind(data) == "pptx"
    text, error = extract.extract_text(data, "pptx")
    assert error == ""
    assert "跨境结算路径" in text
    assert "讲者备注：汇率风险" in text
    assert "信用证" in text


def test_xlsx_cells_and_sheet_names():
    data = make_xlsx("票据贴现利率", sheet_title="利率表")
    assert extract.sniff_kind(data) == "xlsx"
    text, error = extract.extract_text(data, "xlsx")
    assert error == ""
    assert "票据贴现利率" in text
    assert "利率表" in text
    assert "3.5" in text


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"MZ\x90\x00\x03\x00\x00\x00 this program cannot be run in DOS mode",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old .doc compound file",
        b"<!doctype html><html><body>hi</body></html>",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04 broken zip",
        b" %PDF-1.7 leading space",
    ],
    ids=["empty", "exe", "doc", "html", "png", "broken-zip", "pdf-not-at-start"],
)
def test_sniff_rejects_other_content(data):
    assert extract.sniff_kind(data) is None


def test_sniff_rejects_zip_without_ooxml():
    plain = make_zip({"readme.txt": b"hello", "word/document.xml": b"<x/>"})
    assert extract.sniff_kind(plain) is None
    only_types = make_zip({"[Content_Types].xml": b"<Types/>", "a.xml": b"<a/>"})
    assert extract.sniff_kind(only_types) is None


def test_sniff_rejects_zip_bomb():
    bomb = make_zip_bomb(extract.ZIP_MAX_UNCOMPRESSED + 4 * 1024 * 1024)
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(extract.ZipTooLarge):
        extract.sniff_kind(bomb)


def test_sniff_rejects_packed_xml_filler():
    """Refuse a small DOCX whose document part expands over 100 to 1."""
    body = b"<w:document><w:body>" + b"<w:p/>" * 2_000_000 + b"</w:body></w:document>"
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": body}
    with pytest.raises(extract.ZipTooLarge, match="expands"):
        extract.sniff_kind(make_zip(members))


def test_sniff_rejects_oversized_xml_part():
    """Refuse one XML part beyond the limit even when it compresses normally."""
    noise = os.urandom((extract.ZIP_MAX_XML_PART // 2) + 1).hex().encode()
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": noise}
    with pytest.raises(extract.ZipTooLarge, match="limit"):
        extract.sniff_kind(make_zip(members))


def test_sniff_rejects_too_many_members():
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<x/>"}
    members.update({f"word/part{i}.xml": b"" for i in range(extract.ZIP_MAX_MEMBERS)})
    with pytest.raises(extract.ZipTooLarge):
        extract.sniff_kind(make_zip(members))


def test_encrypted_pdf_gets_extract_error():
    data = make_pdf("保密内容", encrypt=True)
    assert extract.sniff_kind(data) == "pdf"
    text, error = extract.extract_text(data, "pdf")
    assert text == ""
    assert "encrypted" in error


@pytest.mark.parametrize("kind", ["pdf", "docx", "pptx", "xlsx"])
def test_malformed_file_gets_extract_error(kind):
    if kind == "pdf":
        data = b"%PDF-1.4\n1 0 obj garbage\n"
    else:
        data = make_zip(
            {
                "[Content_Types].xml": b"<Types/>",
                extract.OOXML_MAIN_PARTS[kind]: b"not xml at all <<<",
            }
        )
    assert extract.sniff_kind(data) == kind
    text, error = extract.extract_text(data, kind)
    assert text == ""
    assert error != ""


def test_text_capped_at_max_chars():
    data = make_docx("长" * 500)
    text, error = extract.extract_text(data, "docx", max_chars=100)
    assert error == ""
    assert len(text) == 100


def test_time_limit_keeps_partial_text():
    data = make_docx("很快")
    text, error = extract.extract_text(data, "docx", max_seconds=-1)
    assert text == ""
    assert "partial" in error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../讲义.pdf", "讲义.pdf"),
        ("C:\\资料\\课件.pptx", "课件.pptx"),
        (".pdf", "附件.pdf"),
        (" .docx ", "附件.docx"),
        ("报\u202e告.pdf", "报告.pdf"),
    ],
)
def test_clean_filename(raw, expected):
    assert files.clean_filename(raw) == expected
