"""Uploading a course document in the browser."""

from sqlalchemy import select

from kb.extensions import db
from kb.training.models import Attachment
from tests.browser.test_experts import sign_in
from tests.forum.conftest import people  # noqa: F401  (fixture)
from tests.training.conftest import make_course, trainers  # noqa: F401
from tests.training.documents import make_docx


def test_oversized_file_rejected_in_page(
    app,
    trainers,  # noqa: F811
    live_server,
    page,
    tmp_path,
):
    """Reject a file over the limit in the page, then accept a small one."""
    app.config["KB_UPLOAD_MAX_MB"] = 1
    course_id = make_course(app)
    big = tmp_path / "大文件.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
    small = tmp_path / "供应链讲义.docx"
    small.write_bytes(make_docx("仓单质押的监管要点"))

    sign_in(page, live_server, "teacher")
    page.goto(f"{live_server}/training/courses/{course_id}/attachments/new")
    page.set_input_files("#file", str(big))
    assert "超过 1 MB 的上限" in page.inner_text("#file-help")
    assert page.eval_on_selector("#file", "input => input.files.length") == 0

    page.set_input_files("#file", str(small))
    assert page.inner_text("#file-help") == ""
    page.click("form.editor button[type=submit]")
    page.wait_for_url(f"**/training/courses/{course_id}**")
    assert "供应链讲义.docx" in page.inner_text("main")
    with app.app_context():
        names = db.session.scalars(select(Attachment.original_name)).all()
    assert names == ["供应链讲义.docx"]
