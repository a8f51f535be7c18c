"""Uploading, downloading and deleting course attachments through the pages."""

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.orm import undefer

from kb.extensions import db
from kb.training.models import Attachment
from tests.conftest import csrf_token
from tests.risk.conftest import Browser, live_server  # noqa: F401  (fixture)
from tests.training.conftest import client_for, lesson_ids, make_course
from tests.training.documents import (
    make_docx,
    make_pdf,
    make_pptx,
    make_xlsx,
    make_zip_bomb,
)

BOUNDARY = "kb-training-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def multipart(fields: dict[str, str], filename: str, data: bytes) -> bytes:
    """A multipart/form-data body with ``fields`` and the file last, names in UTF-8.

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


def upload_page(course_id: int) -> str:
    return f"/training/courses/{course_id}/attachments/new"


def upload(client, course_id: int, data: bytes, filename: str, lesson_id=""):
    fields = {
        "csrf_token": csrf_token(client, upload_page(course_id)),
        "lesson_id": str(lesson_id),
    }
    body = multipart(fields, filename, data)
    return client.post(upload_page(course_id), data=body, content_type=MULTIPART)


def stored_files(app) -> list[Path]:
    folder = Path(app.instance_path) / "attachments"
    return sorted(folder.iterdir()) if folder.exists() else []


def only_attachment(app) -> Attachment:
    with app.app_context():
        [attachment] = (
            db.session.query(Attachment).options(undefer(Attachment.text)).all()
        )
        db.session.expunge(attachment)
        return attachment


def test_chinese_name_upload_and_download(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    data = make_docx("供应链金融产品介绍")
    response = upload(client, course_id, data, "2026年 供应链金融讲义.docx")
    assert response.status_code == 302
    attachment = only_attachment(app)
    assert attachment.original_name == "2026年 供应链金融讲义.docx"
    assert attachment.kind == "docx"
    assert attachment.size == len(data)
    assert attachment.stored_name.endswith(".docx")
    assert "供应链" not in attachment.stored_name
    assert "供应链金融产品介绍" in attachment.text
    [path] = stored_files(app)
    assert path.name == attachment.stored_name
    assert path.read_bytes() == data

    client = client_for(app, "corp")
    with client.get(f"/training/attachments/{attachment.id}") as response:
        body = response.data
    assert response.status_code == 200
    assert body == data
    quoted = urllib.parse.quote("2026年 供应链金融讲义.docx")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="attachment-{attachment.id}.docx"; '
        f"filename*=UTF-8''{quoted}"
    )
    assert response.headers["Content-Type"] == DOCX_TYPE
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private"


@pytest.mark.parametrize(
    ("builder", "name", "content_type"),
    [
        (lambda: make_pdf("讲义"), "a.pdf", "application/pdf"),
        (
            lambda: make_pptx("幻灯片"),
            "a.pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (
            lambda: make_xlsx("表格"),
            "a.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
    ids=["pdf", "pptx", "xlsx"],
)
def test_download_content_type_per_kind(app, trainers, builder, name, content_type):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    assert upload(client, course_id, builder(), name).status_code == 302
    attachment = only_attachment(app)
    with client.get(f"/training/attachments/{attachment.id}") as response:
        assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"


ACCEPTED = "PDF、Word（.docx）、PowerPoint（.pptx）、Excel（.xlsx）"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"MZ\x90\x00 program", "setup.pdf", "文件 setup.pdf 的类型不受支持"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old.doc", "文件 old.doc 的类型不受支持"),
        (b"<html></html>", "page.docx", "文件 page.docx 的类型不受支持"),
        (b"\x89PNG\r\n\x1a\n", "chart.png", "文件 chart.png 的类型不受支持"),
        (b"PK\x05\x06" + b"\0" * 18, "empty.zip", "文件 empty.zip 的类型不受支持"),
    ],
    ids=["exe-as-pdf", "doc", "html", "png", "zip-not-ooxml"],
)
def test_bad_upload_rejected_and_nothing_stored(app, trainers, data, filename, message):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    response = upload(client, course_id, data, filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert ACCEPTED in page
    assert stored_files(app) == []
    with app.app_context():
        assert db.session.query(Attachment).count() == 0


def test_empty_upload_rejected(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    response = upload(client, course_id, b"", "empty.pdf")
    assert response.status_code == 400
    assert "文件 empty.pdf 是空的。" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_zip_bomb_upload_rejected(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    bomb = make_zip_bomb(300 * 1024 * 1024)
    response = upload(client, course_id, bomb, "bomb.docx")
    assert response.status_code == 400
    assert "文件 bomb.docx 解压后过大" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_wrong_extension_rejected(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    response = upload(client, course_id, make_docx("内容"), "讲义.pdf")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "文件 讲义.pdf 的扩展名与内容不符" in page
    assert "扩展名改为 .docx" in page
    assert stored_files(app) == []


def test_path_parts_and_control_chars_stripped(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    name = "..\\..\\etc/课件\x07\u200b.pdf"
    assert upload(client, course_id, make_pdf("x"), name).status_code == 302
    assert only_attachment(app).original_name == "课件.pdf"


def test_long_name_keeps_extension(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    name = "很" * 300 + ".pdf"
    assert upload(client, course_id, make_pdf("x"), name).status_code == 302
    stored = only_attachment(app).original_name
    assert len(stored) == 200
    assert stored.endswith("很.pdf")


def test_upload_to_lesson(app, trainers):
    course_id = make_course(app)
    first, _second = lesson_ids(app, course_id)
    client = client_for(app, "teacher")
    response = upload(client, course_id, make_pdf("x"), "a.pdf", lesson_id=first)
    assert response.status_code == 302
    assert only_attachment(app).lesson_id == first
    page = client.get(f"/training/lessons/{first}").get_data(as_text=True)
    assert "a.pdf" in page


def test_lesson_of_other_course_rejected(app, trainers):
    course_id = make_course(app)
    other_lesson = lesson_ids(app, make_course(app, title="另一门"))[0]
    client = client_for(app, "teacher")
    response = upload(client, course_id, make_pdf("x"), "a.pdf", other_lesson)
    assert response.status_code == 400
    assert "所选课时不属于本课程" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_oversized_upload_gets_413_page(app, trainers):
    app.config["KB_UPLOAD_MAX_MB"] = 1
    course_id = make_course(app)
    client = client_for(app, "teacher")
    data = make_pdf("x") + b"0" * (1024 * 1024)
    response = upload(client, course_id, data, "big.pdf")
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "文件超过 1 MB 的上限" in page
    assert 'enctype="multipart/form-data"' in page
    assert stored_files(app) == []


def test_upload_between_app_and_page_limit(app, trainers):
    """A file above MAX_CONTENT_LENGTH (4 MB) but below KB_UPLOAD_MAX_MB is stored."""
    course_id = make_course(app)
    client = client_for(app, "teacher")
    data = make_pdf("x") + b"%" * (5 * 1024 * 1024)
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    assert upload(client, course_id, data, "big.pdf").status_code == 302
    assert only_attachment(app).size == len(data)


def test_oversized_upload_over_real_socket(app, live_server, trainers):  # noqa: F811
    """The werkzeug server reads the body, so the browser gets the page, not a reset."""
    app.config["KB_UPLOAD_MAX_MB"] = 1
    course_id = make_course(app)
    browser = Browser(live_server)
    browser.login("teacher")
    page = upload_page(course_id)
    fields = {"csrf_token": browser.csrf(page), "lesson_id": ""}
    body = multipart(fields, "大文件.pdf", b"%PDF-" + b"0" * (3 * 1024 * 1024))
    request = urllib.request.Request(
        live_server + page, data=body, headers={"Content-Type": MULTIPART}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        browser.opener.open(request, timeout=60)
    with caught.value as error:
        assert error.code == 413
        assert "文件超过 1 MB 的上限" in error.read().decode()
    assert stored_files(app) == []


def test_staff_cannot_upload(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "corp")
    assert client.get(upload_page(course_id)).status_code == 403
    body = multipart({}, "a.pdf", make_pdf("x"))
    response = client.post(upload_page(course_id), data=body, content_type=MULTIPART)
    assert response.status_code == 403
    assert stored_files(app) == []


def test_other_expert_cannot_upload(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher2")
    assert client.get(upload_page(course_id)).status_code == 403


def test_upload_without_token_keeps_form(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    body = multipart({}, "a.pdf", make_pdf("x"))
    response = client.post(upload_page(course_id), data=body, content_type=MULTIPART)
    assert response.status_code == 400
    assert "表单已过期或缺少安全令牌" in response.get_data(as_text=True)
    assert stored_files(app) == []


def test_anonymous_download_redirected(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    upload(client, course_id, make_pdf("x"), "a.pdf")
    attachment = only_attachment(app)
    response = app.test_client().get(f"/training/attachments/{attachment.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_extract_error_shown_to_author(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    response = upload(client, course_id, make_pdf("x", encrypt=True), "locked.pdf")
    assert response.status_code == 302
    attachment = only_attachment(app)
    assert "encrypted" in attachment.extract_error
    page = client.get(f"/training/courses/{course_id}").get_data(as_text=True)
    assert "未能提取文字" in page
    client = client_for(app, "corp")
    page = client.get(f"/training/courses/{course_id}").get_data(as_text=True)
    assert "locked.pdf" in page
    assert "未能提取文字" not in page


def test_delete_removes_file_after_commit(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher")
    upload(client, course_id, make_pdf("x"), "a.pdf")
    attachment = only_attachment(app)
    [path] = stored_files(app)
    url = f"/training/attachments/{attachment.id}/delete"
    client = client_for(app, "teacher2")
    token = csrf_token(client, f"/training/courses/{course_id}")
    assert client.post(url, data={"csrf_token": token}).status_code == 403
    assert path.exists()
    client = client_for(app, "admin")
    token = csrf_token(client, f"/training/courses/{course_id}")
    assert client.post(url, data={"csrf_token": token}).status_code == 302
    assert not path.exists()
    with app.app_context():
        assert db.session.query(Attachment).count() == 0
    assert client.get(f"/training/attachments/{attachment.id}").status_code == 404
