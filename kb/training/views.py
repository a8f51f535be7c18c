"""Pages of courses, lessons, attachments, learning records and the report.

Lecture pages are in ``kb.training.lecture_views`` on the same blueprint.
"""

import csv
import io
import logging
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import defer
from werkzeug.exceptions import RequestEntityTooLarge

from kb.errors import ValidationError
from kb.extensions import db, form_checks_csrf
from kb.taxonomy.models import Industry
from kb.taxonomy.services import as_select_choices, division_choices
from kb.timeutil import to_local, utcnow
from kb.training import files, services
from kb.training.forms import AttachmentForm, CourseForm, LessonForm
from kb.training.models import Attachment, Course, Lesson
from kb.web import parse_id

logger = logging.getLogger(__name__)

bp = Blueprint("training", __name__)

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000
# Both languages in one header row, whatever the reader's interface language.
COMPLETION_CSV_HEADER = (
    "部门 Department",
    "课程 Course",
    "人数 Headcount",
    "已开始 Started",
    "已完成 Completed",
)
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@bp.before_request
@login_required
def require_login():
    """Require sign-in for every training page."""


def _require_author() -> None:
    if not services.can_author(current_user):
        abort(403)


def _course_or_404(course_id: int) -> Course:
    return db.get_or_404(Course, course_id)


def _lesson_or_404(lesson_id: int) -> Lesson:
    return db.get_or_404(Lesson, lesson_id)


def _require_course_editor(course: Course) -> None:
    if not services.can_edit_course(current_user, course):
        abort(403)


def _attach_errors(form, errors: dict) -> None:
    for name, message in errors.items():
        field = getattr(form, name)
        field.errors = [*field.errors, str(message)]


def industry_choices() -> list:
    """Return select choices: every section (门类), then every division (大类)."""
    sections = db.session.scalars(
        select(Industry).where(Industry.level == "section").order_by(Industry.code)
    ).all()
    pairs = [
        (
            section.code,
            _("%(code)s %(name)s（门类）", code=section.code, name=section.name),
        )
        for section in sections
    ]
    return as_select_choices(pairs + division_choices(db.session))


# -- courses -----------------------------------------------------------------------


@bp.get("/")
def index():
    """List courses, optionally of one industry, and the reader's own progress."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    industry_code = request.args.get("industry", "").strip()
    industry = db.session.get(Industry, industry_code) if industry_code else None
    pagination = db.paginate(
        services.courses_query(industry.code if industry else None),
        page=page,
        per_page=current_app.config["KB_PER_PAGE"],
        error_out=False,
    )
    return render_template(
        "training/index.html",
        pagination=pagination,
        industry=industry,
        unknown_industry=industry_code if industry_code and not industry else "",
        counts=services.course_counts(
            db.session, [course.id for course in pagination.items]
        ),
        learning=services.learning_progress(db.session, current_user.id),
        can_author=services.can_author(current_user),
        industries=industry_choices(),
    )


def _course_input(form: CourseForm) -> services.CourseInput:
    return services.CourseInput(
        title=form.title.data or "",
        description_md=form.description_md.data or "",
        industry_codes=[code for code in (form.industries.data or []) if code],
    )


@bp.route("/courses/new", methods=["GET", "POST"])
@form_checks_csrf
def create_course():
    """Create a course; experts and admins only."""
    _require_author()
    form = CourseForm()
    form.industries.choices = industry_choices()
    if form.validate_on_submit():
        data = _course_input(form)
        errors = services.validate_course(db.session, data)
        if not errors:
            course = services.create_course(db.session, data, current_user)
            db.session.commit()
            flash(_("课程已创建，现在可以添加课时和附件。"), "success")
            return redirect(url_for("training.show_course", course_id=course.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template("training/course_edit.html", form=form, course=None), status


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit_course(course_id: int):
    """Change a course's title, description and industries."""
    course = _course_or_404(course_id)
    _require_course_editor(course)
    form = CourseForm(obj=course if request.method == "GET" else None)
    form.industries.choices = industry_choices()
    if request.method == "GET":
        form.industries.data = [industry.code for industry in course.industries]
    if form.validate_on_submit():
        data = _course_input(form)
        errors = services.validate_course(db.session, data)
        if not errors:
            services.update_course(db.session, course, data)
            db.session.commit()
            flash(_("修改已保存。"), "success")
            return redirect(url_for("training.show_course", course_id=course.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "training/course_edit.html", form=form, course=course
    ), status


@bp.get("/courses/<int:course_id>")
def show_course(course_id: int):
    """Show a course: lessons in order, attachments, lectures, the reader's progress."""
    course = _course_or_404(course_id)
    return render_template(
        "training/course.html",
        course=course,
        attachments=services.attachments_of(db.session, course.id),
        done_ids=services.done_lesson_ids(db.session, current_user.id, course.id),
        progress=services.course_progress(db.session, current_user.id, course),
        can_edit=services.can_edit_course(current_user, course),
        now=utcnow(),
    )


# -- lessons -----------------------------------------------------------------------


def _lesson_input(form: LessonForm) -> services.LessonInput:
    return services.LessonInput(
        title=form.title.data or "", body_md=form.body_md.data or ""
    )


@bp.route("/courses/<int:course_id>/lessons/new", methods=["GET", "POST"])
@form_checks_csrf
def add_lesson(course_id: int):
    """Add a lesson at the end of a course."""
    course = _course_or_404(course_id)
    _require_course_editor(course)
    form = LessonForm()
    if form.validate_on_submit():
        data = _lesson_input(form)
        errors = services.validate_lesson(data)
        if not errors:
            lesson = services.add_lesson(db.session, course, data)
            db.session.commit()
            flash(_("课时已添加。"), "success")
            return redirect(url_for("training.show_lesson", lesson_id=lesson.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "training/lesson_edit.html", form=form, course=course, lesson=None
    ), status


@bp.route("/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit_lesson(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    _require_course_editor(lesson.course)
    form = LessonForm(obj=lesson if request.method == "GET" else None)
    if form.validate_on_submit():
        data = _lesson_input(form)
        errors = services.validate_lesson(data)
        if not errors:
            services.update_lesson(db.session, lesson, data)
            db.session.commit()
            flash(_("修改已保存。"), "success")
            return redirect(url_for("training.show_lesson", lesson_id=lesson.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "training/lesson_edit.html", form=form, course=lesson.course, lesson=lesson
    ), status


@bp.post("/lessons/<int:lesson_id>/delete")
def delete_lesson(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    course = lesson.course
    _require_course_editor(course)
    services.delete_lesson(db.session, lesson)
    db.session.commit()
    flash(_("课时已删除。"), "success")
    return redirect(url_for("training.show_course", course_id=course.id))


@bp.post("/lessons/<int:lesson_id>/move")
def move_lesson(lesson_id: int):
    """Move a lesson one place up or down (``direction`` = up or down)."""
    lesson = _lesson_or_404(lesson_id)
    course = lesson.course
    _require_course_editor(course)
    direction = request.form.get("direction", "")
    if direction not in ("up", "down"):
        raise ValidationError(
            _(
                "direction=%(value)s 无效，请使用 up 或 down。",
                value=repr(direction[:20]),
            ),
            field="direction",
        )
    services.move_lesson(db.session, lesson, -1 if direction == "up" else 1)
    db.session.commit()
    return redirect(
        url_for("training.show_course", course_id=course.id, _anchor="lessons")
    )


@bp.get("/lessons/<int:lesson_id>")
def show_lesson(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    previous, following = services.neighbours(lesson)
    done_ids = services.done_lesson_ids(db.session, current_user.id, lesson.course_id)
    return render_template(
        "training/lesson.html",
        lesson=lesson,
        course=lesson.course,
        attachments=[
            attachment
            for attachment in services.attachments_of(db.session, lesson.course_id)
            if attachment.lesson_id == lesson.id
        ],
        previous=previous,
        following=following,
        done=lesson.id in done_ids,
        progress=services.course_progress(db.session, current_user.id, lesson.course),
        can_edit=services.can_edit_course(current_user, lesson.course),
    )


@bp.post("/lessons/<int:lesson_id>/done")
def mark_done(lesson_id: int):
    """Record that the reader finished the lesson, then go to the next one."""
    lesson = _lesson_or_404(lesson_id)
    services.mark_done(db.session, current_user, lesson)
    db.session.commit()
    progress = services.course_progress(db.session, current_user.id, lesson.course)
    if progress.complete:
        flash(
            _("恭喜，您已完成课程“%(title)s”。", title=lesson.course.title), "success"
        )
    _previous, following = services.neighbours(lesson)
    target = following or lesson
    return redirect(url_for("training.show_lesson", lesson_id=target.id))


@bp.post("/lessons/<int:lesson_id>/undo")
def undo_done(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    services.undo_done(db.session, current_user, lesson)
    db.session.commit()
    flash(_("已取消“%(title)s”的完成标记。", title=lesson.title), "info")
    return redirect(url_for("training.show_lesson", lesson_id=lesson.id))


# -- attachments -------------------------------------------------------------------


def _upload_limit_mb() -> int:
    return int(current_app.config["KB_UPLOAD_MAX_MB"])


def _lesson_choices(course: Course) -> list:
    pairs = [("", _("整门课程"))]
    pairs += [
        (str(lesson.id), f"{number}. {lesson.title}")
        for number, lesson in enumerate(course.lessons, start=1)
    ]
    return as_select_choices(pairs)


def _upload_page(form: AttachmentForm, course: Course):
    return render_template(
        "training/upload.html",
        form=form,
        course=course,
        max_mb=_upload_limit_mb(),
        accepted=files.ACCEPTED_TYPES_TEXT,
    )


@bp.route("/courses/<int:course_id>/attachments/new", methods=["GET", "POST"])
@form_checks_csrf
def upload_attachment(course_id: int):
    """Upload a document to a course, or to one of its lessons.

    The limit is KB_UPLOAD_MAX_MB for this page instead of MAX_CONTENT_LENGTH;
    a larger upload gets this page back with the limit, status 413.
    """
    course = _course_or_404(course_id)
    _require_course_editor(course)
    limit_mb = _upload_limit_mb()
    request.max_content_length = limit_mb * 1024 * 1024
    try:
        form = AttachmentForm()
    except RequestEntityTooLarge:
        form = AttachmentForm(formdata=None)
        form.lesson_id.choices = _lesson_choices(course)
        form.file.errors = [
            _(
                "文件超过 %(size)s MB 的上限，未保存。请压缩或拆分后再上传。",
                size=limit_mb,
            )
        ]
        return _upload_page(form, course), 413
    form.lesson_id.choices = _lesson_choices(course)
    if not form.validate_on_submit():
        return _upload_page(form, course), 400 if request.method == "POST" else 200
    upload = form.file.data
    if not upload or not upload.filename:
        form.file.errors = [_("请选择要上传的文件。")]
        return _upload_page(form, course), 400
    lesson_id = parse_id(form.lesson_id.data)
    if lesson_id is not None:
        lesson = db.session.get(Lesson, lesson_id)
        if lesson is None or lesson.course_id != course.id:
            form.lesson_id.errors = [_("所选课时不属于本课程。")]
            return _upload_page(form, course), 400
    data = upload.read()
    # End the transaction, and with it SQLite's write lock, while the text is
    # extracted, which can take seconds.
    db.session.rollback()
    try:
        prepared = files.prepare_upload(upload.filename, data)
    except ValidationError as error:
        form.file.errors = [str(error.message)]
        return _upload_page(form, course), 400
    course = _course_or_404(course_id)
    _require_course_editor(course)
    lesson = db.session.get(Lesson, lesson_id) if lesson_id is not None else None
    if lesson is not None and lesson.course_id != course.id:
        lesson = None
    attachment = files.store_attachment(
        db.session,
        current_app.instance_path,
        course,
        lesson,
        prepared,
        data,
        current_user,
    )
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        files.remove_file(current_app.instance_path, attachment.stored_name)
        raise
    if attachment.extract_error:
        flash(
            _(
                "附件 %(name)s 已上传，但未能提取文字，搜索找不到其中的内容。",
                name=attachment.original_name,
            ),
            "warning",
        )
    else:
        flash(_("附件 %(name)s 已上传。", name=attachment.original_name), "success")
    return redirect(
        url_for(
            "training.show_course",
            course_id=course.id,
            _anchor=f"attachment-{attachment.id}",
        )
    )


@bp.get("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int):
    """Send an attachment under the name it was uploaded with."""
    attachment = db.session.get(
        Attachment, attachment_id, options=[defer(Attachment.text)]
    )
    if attachment is None:
        abort(404)
    path = files.stored_path(current_app.instance_path, attachment.stored_name)
    if path is None or not path.is_file():
        logger.error(
            "Attachment %s has no file %s", attachment.id, attachment.stored_name
        )
        abort(404)
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.original_name,
        conditional=True,
        etag=attachment.sha256,
    )
    if not attachment.original_name.isascii():
        response.headers["Content-Disposition"] = _disposition(attachment)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private"
    return response


def _disposition(attachment: Attachment) -> str:
    """Build the Content-Disposition header for a name that is not ASCII.

    Werkzeug's ASCII fallback drops the Chinese characters, which leaves
    names such as ".pdf" or "2026 .docx", so old clients get
    "attachment-<id>.<kind>" instead.
    """
    name = attachment.original_name
    ascii_name = f"attachment-{attachment.id}.{attachment.kind}"
    encoded = quote(name, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


@bp.post("/attachments/<int:attachment_id>/delete")
def delete_attachment(attachment_id: int):
    """Delete an attachment; its file is removed once the deletion is committed."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    course = attachment.course
    _require_course_editor(course)
    name = attachment.original_name
    stored_name = services.delete_attachment(db.session, attachment)
    db.session.commit()
    files.remove_file(current_app.instance_path, stored_name)
    flash(_("附件 %(name)s 已删除。", name=name), "success")
    return redirect(url_for("training.show_course", course_id=course.id))


# -- completion report -------------------------------------------------------------


def _require_admin() -> None:
    if not current_user.is_admin:
        abort(403)


def _report_course_id() -> int | None:
    raw = request.args.get("course", "").strip()
    if not raw:
        return None
    course_id = parse_id(raw)
    if course_id is None or db.session.get(Course, course_id) is None:
        raise ValidationError(
            _("课程（参数 course）%(value)s 不存在。", value=repr(raw[:20])),
            field="course",
        )
    return course_id


@bp.get("/completion")
def completion():
    """Show, per department and course, how many people started and completed it."""
    _require_admin()
    course_id = _report_course_id()
    courses = db.session.scalars(select(Course).order_by(Course.title)).all()
    return render_template(
        "training/completion.html",
        rows=services.completion_report(db.session, course_id),
        courses=courses,
        course_id=course_id,
    )


def _csv_cell(value: str) -> str:
    """Quote ``value`` so a spreadsheet shows it as text, never runs it."""
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


@bp.get("/completion.csv")
def completion_csv():
    """Export the completion report as CSV, with a BOM so Excel reads UTF-8."""
    _require_admin()
    course_id = _report_course_id()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COMPLETION_CSV_HEADER)
    for row in services.completion_report(db.session, course_id):
        writer.writerow(
            [
                _csv_cell(row.department),
                _csv_cell(row.course_title),
                row.headcount,
                row.started,
                row.completed,
            ]
        )
    filename = f"training-completion-{to_local(utcnow()):%Y%m%d}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


# Lecture pages register their routes on ``bp``.
from kb.training import lecture_views  # noqa: E402, F401
