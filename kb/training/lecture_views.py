"""Lecture pages: the schedule, editing, sign-ups and calendar files."""

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kb.errors import Conflict
from kb.extensions import db, form_checks_csrf
from kb.taxonomy.services import as_select_choices
from kb.timeutil import to_local, utcnow
from kb.training import ics, lectures, services
from kb.training.forms import LectureForm
from kb.training.models import Course, Lecture
from kb.training.views import bp
from kb.web import parse_id


def _lecture_or_404(lecture_id: int) -> Lecture:
    return db.get_or_404(Lecture, lecture_id)


def _require_manager(lecture: Lecture) -> None:
    if not lectures.can_manage(current_user, lecture):
        abort(403)


def _course_choices() -> list:
    courses = db.session.scalars(select(Course).order_by(Course.title)).all()
    pairs = [("", _("（不关联课程）"))]
    pairs += [(str(course.id), course.title) for course in courses]
    return as_select_choices(pairs)


def _local_input(value) -> str:
    """Format a stored UTC time for a datetime-local input in Asia/Shanghai time."""
    return to_local(value).strftime("%Y-%m-%dT%H:%M")


def _lecture_input(form: LectureForm) -> lectures.LectureInput:
    return lectures.LectureInput(
        title=form.title.data or "",
        starts_at=form.starts_at.data or "",
        ends_at=form.ends_at.data or "",
        course_id=parse_id(form.course_id.data),
        description=form.description.data or "",
        place=form.place.data or "",
        online_url=form.online_url.data or "",
        speaker_username=form.speaker_username.data or "",
        speaker_name=form.speaker_name.data or "",
        capacity=form.capacity.data or "",
    )


def _check(form: LectureForm, lecture=None):
    checked, errors = lectures.check_lecture(db.session, _lecture_input(form), lecture)
    for name, message in errors.items():
        field = getattr(form, name)
        field.errors = [*field.errors, str(message)]
    return checked


@bp.get("/lectures/")
def lectures_index():
    """List lectures that have not ended, soonest first, then recent past ones."""
    upcoming, past = lectures.upcoming_and_past(db.session)
    return render_template(
        "training/lectures.html",
        upcoming=upcoming,
        past=past,
        can_author=services.can_author(current_user),
        now=utcnow(),
    )


@bp.route("/lectures/new", methods=["GET", "POST"])
@form_checks_csrf
def create_lecture():
    """Schedule a lecture; experts and admins only."""
    if not services.can_author(current_user):
        abort(403)
    form = LectureForm()
    form.course_id.choices = _course_choices()
    if request.method == "GET":
        form.course_id.data = request.args.get("course", "")
    if form.validate_on_submit():
        checked = _check(form)
        if checked is not None:
            lecture = lectures.create_lecture(db.session, checked, current_user)
            db.session.commit()
            flash(_("讲座已发布。"), "success")
            return redirect(url_for("training.show_lecture", lecture_id=lecture.id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "training/lecture_edit.html", form=form, lecture=None
    ), status


@bp.route("/lectures/<int:lecture_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit_lecture(lecture_id: int):
    """Change a lecture; calendars that imported it get the new version."""
    lecture = _lecture_or_404(lecture_id)
    _require_manager(lecture)
    form = LectureForm(obj=lecture if request.method == "GET" else None)
    form.course_id.choices = _course_choices()
    if request.method == "GET":
        form.course_id.data = str(lecture.course_id or "")
        form.starts_at.data = _local_input(lecture.starts_at)
        form.ends_at.data = _local_input(lecture.ends_at)
        form.speaker_username.data = lecture.speaker.username if lecture.speaker else ""
        form.capacity.data = str(lecture.capacity or "")
    if form.validate_on_submit():
        checked = _check(form, lecture)
        if checked is not None:
            lectures.update_lecture(db.session, lecture, checked)
            db.session.commit()
            flash(_("修改已保存。已报名的同事再次下载日历文件即可更新。"), "success")
            return redirect(url_for("training.show_lecture", lecture_id=lecture.id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "training/lecture_edit.html", form=form, lecture=lecture
    ), status


@bp.get("/lectures/<int:lecture_id>")
def show_lecture(lecture_id: int):
    lecture = _lecture_or_404(lecture_id)
    can_manage = lectures.can_manage(current_user, lecture)
    return render_template(
        "training/lecture.html",
        lecture=lecture,
        signup_total=lectures.signup_count(db.session, lecture.id),
        signed_up=lectures.is_signed_up(db.session, current_user.id, lecture.id),
        can_manage=can_manage,
        attendees=lecture.signups if can_manage else [],
        now=utcnow(),
    )


@bp.post("/lectures/<int:lecture_id>/cancel")
def cancel_lecture(lecture_id: int):
    lecture = _lecture_or_404(lecture_id)
    _require_manager(lecture)
    if lectures.cancel_lecture(db.session, lecture):
        db.session.commit()
        flash(_("讲座已取消。"), "success")
    return redirect(url_for("training.show_lecture", lecture_id=lecture.id))


@bp.post("/lectures/<int:lecture_id>/signup")
def sign_up(lecture_id: int):
    lecture = _lecture_or_404(lecture_id)
    try:
        added = lectures.sign_up(db.session, current_user, lecture)
    except Conflict as error:
        db.session.rollback()
        flash(str(error.message), "warning")
        return redirect(url_for("training.show_lecture", lecture_id=lecture.id))
    db.session.commit()
    if added:
        flash(_("报名成功。可下载日历文件加入您的日程。"), "success")
    return redirect(url_for("training.show_lecture", lecture_id=lecture.id))


@bp.post("/lectures/<int:lecture_id>/withdraw")
def withdraw(lecture_id: int):
    lecture = _lecture_or_404(lecture_id)
    try:
        removed = lectures.withdraw(db.session, current_user, lecture)
    except Conflict as error:
        db.session.rollback()
        flash(str(error.message), "warning")
        return redirect(url_for("training.show_lecture", lecture_id=lecture.id))
    db.session.commit()
    if removed:
        flash(_("已取消报名。"), "info")
    return redirect(url_for("training.show_lecture", lecture_id=lecture.id))


@bp.get("/lectures/<int:lecture_id>.ics")
def lecture_ics(lecture_id: int):
    """Send the lecture as an iCalendar file for calendar programs."""
    lecture = _lecture_or_404(lecture_id)
    text = ics.lecture_calendar(lecture, current_app.config["KB_BASE_URL"])
    response = Response(text, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="lecture-{lecture.id}.ics"'
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response
