"""Courses and attachments in the site search."""

import pytest

from kb.extensions import db
from kb.search.service import get_indexer
from kb.training.models import Attachment
from tests.training.conftest import client_for, lesson_ids, make_course
from tests.training.documents import make_docx, make_pdf, make_pptx, make_xlsx
from tests.training.test_attachments import upload
from tests.training.test_courses import post


@pytest.mark.parametrize(
    ("builder", "filename", "phrase"),
    [
        (make_docx, "讲义.docx", "仓单质押监管流程"),
        (make_pdf, "讲义.pdf", "碳排放权质押贷款"),
        (make_pptx, "讲义.pptx", "跨境资金池备案"),
        (make_xlsx, "讲义.xlsx", "商业承兑汇票贴现"),
    ],
    ids=["docx", "pdf", "pptx", "xlsx"],
)
def test_phrase_only_in_attachment_found(app, trainers, builder, filename, phrase):
    course_id = make_course(app, title="票据业务实务")
    teacher = client_for(app, "teacher")
    assert upload(teacher, course_id, builder(phrase), filename).status_code == 302
    with app.app_context():
        attachment_id = db.session.query(Attachment).one().id
    reader = client_for(app, "corp")
    page = reader.get(f"/search/?q={phrase}").get_data(as_text=True)
    assert f"/training/courses/{course_id}#attachment-{attachment_id}" in page
    page = reader.get(f"/search/?q={phrase}&type=attachment").get_data(as_text=True)
    assert f"#attachment-{attachment_id}" in page
    page = reader.get(f"/search/?q={phrase}&type=course").get_data(as_text=True)
    assert f"#attachment-{attachment_id}" not in page


def test_course_found_by_lesson_text(app, trainers):
    course_id = make_course(app, title="绿色金融", industry_codes=("44",))
    client = client_for(app, "teacher")
    new_page = f"/training/courses/{course_id}/lessons/new"
    fields = {"title": "第三课", "body_md": "光伏电站项目融资的现金流测算"}
    post(client, new_page, fields, new_page)
    reader = client_for(app, "credit")
    page = reader.get("/search/?q=现金流测算&type=course").get_data(as_text=True)
    assert f'href="/training/courses/{course_id}"' in page
    page = reader.get("/search/?q=绿色金融&industry=D").get_data(as_text=True)
    assert f'href="/training/courses/{course_id}"' in page


def test_course_rename_reindexes_attachments(app, trainers):
    course_id = make_course(app, title="旧名称")
    teacher = client_for(app, "teacher")
    upload(teacher, course_id, make_pdf("附件正文"), "a.pdf")
    edit_page = f"/training/courses/{course_id}/edit"
    fields = {"title": "新名称课程", "description_md": ""}
    assert post(teacher, edit_page, fields, edit_page).status_code == 302
    with app.app_context():
        document = get_indexer().engine.search("附件正文", types=("attachment",))
        assert document.total == 1
        assert get_indexer().check().clean
    page = teacher.get("/search/?q=附件正文").get_data(as_text=True)
    assert "课程：新名称课程" in page


def test_deleted_lesson_and_attachment_leave_index(app, trainers):
    course_id = make_course(app, lessons=("独有课时标题",))
    [lesson] = lesson_ids(app, course_id)
    teacher = client_for(app, "teacher")
    upload(teacher, course_id, make_docx("独有附件短语"), "a.docx")
    with app.app_context():
        attachment_id = db.session.query(Attachment).one().id
    page = f"/training/courses/{course_id}"
    post(teacher, f"/training/lessons/{lesson}/delete", page=page)
    post(teacher, f"/training/attachments/{attachment_id}/delete", page=page)
    with app.app_context():
        engine = get_indexer().engine
        assert engine.search("独有课时标题").total == 0
        assert engine.search("独有附件短语").total == 0
        assert get_indexer().check().clean
