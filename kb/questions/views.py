"""Questions to experts: asking, answering, accepting, the expert queue."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from kb.auth.models import User
from kb.errors import PermissionDenied, ValidationError
from kb.experts.evidence import expert_badges
from kb.experts.models import Skill
from kb.extensions import db, form_checks_csrf
from kb.questions import routing, services
from kb.questions.forms import AnswerForm, QuestionForm
from kb.questions.models import Answer, Question, QuestionRouting
from kb.questions.workdays import WorkCalendar
from kb.taxonomy.models import Industry
from kb.taxonomy.services import as_select_choices, division_choices
from kb.taxonomy.tags import normalize_tag, parse_tags
from kb.web import parse_id

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000
STATUS_FILTERS = ("all", "open", "answered", "closed")

bp = Blueprint("questions", __name__)


@bp.record_once
def check_calendar(state):
    """Reject invalid KB_HOLIDAYS or KB_EXTRA_WORKDAYS when the app starts."""
    WorkCalendar.from_config(state.app.config)


@bp.before_request
@login_required
def require_login():
    """Questions and answers are for signed-in staff only."""


@bp.app_context_processor
def inject_labels():
    return {"question_status_labels": services.STATUS_LABELS}


def _page() -> int:
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)


def _attach_errors(form, errors: dict) -> None:
    for name, message in errors.items():
        target = getattr(form, name, None)
        if target is None:
            target = form.body_md
        target.errors = [*target.errors, str(message)]


# -- lists -------------------------------------------------------------------


@bp.get("/")
def index():
    """List questions, newest first, filtered by status, industry, skill, mine."""
    query, filters, errors = _filtered_questions()
    pagination = db.paginate(
        query.order_by(Question.created_at.desc(), Question.id.desc()),
        page=_page(),
        per_page=current_app.config["KB_PER_PAGE"],
        error_out=False,
    )
    return (
        render_template(
            "questions/index.html",
            pagination=pagination,
            errors=errors,
            industries=division_choices(db.session),
            skills=_skill_names(),
            queue_count=routing.queue_unanswered_count(db.session, current_user),
            **filters,
        ),
        400 if errors else 200,
    )


def _filtered_questions():
    """Build the list query from the request's filters.

    Returns the query, the filters for the template (``args`` contains those to
    keep in page links) and a message per invalid filter, which is ignored.
    """
    errors = []
    status = request.args.get("status") or "all"
    if status not in STATUS_FILTERS:
        errors.append(_("状态 %(value)s 无效。", value=repr(status[:20])))
        status = "all"
    query = select(Question)
    if not current_user.is_admin:
        query = query.where(Question.hidden.is_(False))
    if status != "all":
        query = query.where(Question.status == status)

    industry = None
    code = (request.args.get("industry") or "").strip().upper()
    if code:
        industry = db.session.get(Industry, code) if len(code) <= 2 else None
        if industry is None:
            errors.append(_("未知的行业代码：%(codes)s。", codes=code[:20]))
        else:
            query = query.where(
                Question.industries.any(
                    or_(Industry.code == code, Industry.section_code == code)
                )
            )

    skill = normalize_tag(request.args.get("skill") or "")[:40]
    if skill:
        query = query.where(Question.skills.any(Skill.name == skill))
    mine = request.args.get("mine") == "1"
    if mine:
        query = query.where(Question.asker_id == current_user.id)
    unanswered = request.args.get("unanswered") == "1"
    if unanswered:
        query = query.where(routing.awaiting_answer())

    args = {
        "status": status if status != "all" else None,
        "industry": industry.code if industry else None,
        "skill": skill or None,
        "mine": "1" if mine else None,
        "unanswered": "1" if unanswered else None,
    }
    filters = {
        "status": status,
        "industry": industry,
        "skill": skill,
        "mine": mine,
        "unanswered": unanswered,
        "args": {key: value for key, value in args.items() if value},
    }
    return query, filters, errors


def _skill_names() -> list[str]:
    return list(db.session.scalars(select(Skill.name).order_by(Skill.name)))


@bp.get("/queue")
def queue():
    """Questions waiting for the signed-in expert: unanswered first, oldest first."""
    page = _page()
    per_page = current_app.config["KB_PER_PAGE"]
    items, total = routing.queue(db.session, current_user, page, per_page)
    return render_template(
        "questions/queue.html",
        items=items,
        total=total,
        page=page,
        pages=-(-total // per_page),
    )


# -- asking ------------------------------------------------------------------


def _chosen_expert(raw) -> User | None:
    """Return the active person whose id is ``raw``, other than the asker."""
    expert_id = parse_id(raw)
    if expert_id is None:
        return None
    expert = db.session.get(User, expert_id)
    if expert is None or not expert.active or expert.id == current_user.id:
        return None
    return expert


@bp.route("/ask", methods=["GET", "POST"])
@form_checks_csrf
def ask():
    """Ask a question; ``expert`` names a person chosen in the directory."""
    form = QuestionForm()
    form.industries.choices = as_select_choices(division_choices(db.session))
    if request.method == "GET":
        raw_expert = request.args.get("expert")
        form.industries.data = [
            code for code in request.args.getlist("industry") if code
        ] or None
        form.skills.data = request.args.get("skill", "")[:200]
    else:
        raw_expert = form.expert.data
    expert = _chosen_expert(raw_expert)
    expert_error = None
    if raw_expert and expert is None:
        expert_error = _("指定的专家不存在、已停用或是您本人，问题将按专长推荐专家。")
    form.expert.data = str(expert.id) if expert else ""
    if form.validate_on_submit():
        data = services.QuestionInput(
            title=form.title.data or "",
            body_md=form.body_md.data or "",
            industry_codes=[code for code in (form.industries.data or []) if code],
            skills=parse_tags(form.skills.data or ""),
        )
        try:
            question = services.ask(
                db.session,
                current_user,
                data,
                expert_id=expert.id if expert else None,
            )
        except services.QuestionErrors as error:
            db.session.rollback()
            _attach_errors(form, error.errors)
        else:
            asked = routing.routed_count(db.session, question)
            db.session.commit()
            if expert_error:
                flash(expert_error, "warning")
            if asked:
                flash(_("问题已发布，已请 %(n)s 位专家回答。", n=asked), "success")
            else:
                flash(
                    _("问题已发布。暂时没有找到相关专家，管理员和同事仍可看到并回答。"),
                    "warning",
                )
            return redirect(url_for("questions.show", question_id=question.id))
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "questions/ask.html",
            form=form,
            expert=expert,
            expert_error=expert_error,
            skills=_skill_names(),
        ),
        status,
    )


# -- one question ------------------------------------------------------------


def _get_question(question_id: int) -> Question:
    return services.get_visible_question(db.session, current_user, question_id)


def _get_answer(answer_id: int) -> Answer:
    return services.get_visible_answer(db.session, current_user, answer_id)


def _render_question(
    question: Question, answer_form: AnswerForm | None = None, status: int = 200
):
    user = current_user
    answers = services.visible_answers(user, question)
    can_manage = services.can_manage(user, question)
    routed = (
        db.session.scalars(
            select(QuestionRouting)
            .where(QuestionRouting.question_id == question.id)
            .order_by(QuestionRouting.round, QuestionRouting.id)
        ).all()
        if can_manage
        else []
    )
    codes = [industry.code for industry in question.industries]
    badges = expert_badges(db.session, {answer.author_id for answer in answers}, codes)
    return (
        render_template(
            "questions/show.html",
            question=question,
            answers=answers,
            answer_form=answer_form or AnswerForm(),
            routed_count=routing.routed_count(db.session, question),
            routed=routed,
            can_manage=can_manage,
            can_moderate=user.is_admin,
            marked=services.useful_answer_ids(db.session, user, question),
            badges=badges,
        ),
        status,
    )


@bp.get("/<int:question_id>")
def show(question_id: int):
    """Read a question and its answers, the accepted one first."""
    return _render_question(_get_question(question_id))


@bp.post("/<int:question_id>/answers")
@form_checks_csrf
def answer(question_id: int):
    """Answer a question; on errors the page comes back with the text kept."""
    question = _get_question(question_id)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            new = services.add_answer(
                db.session,
                current_user,
                question,
                form.body_md.data or "",
                current_app.config["KB_BODY_MAX_CHARS"],
            )
        except services.QuestionErrors as error:
            db.session.rollback()
            _attach_errors(form, error.errors)
        else:
            db.session.commit()
            flash(_("回答已发布。"), "success")
            return redirect(
                url_for(
                    "questions.show",
                    question_id=question.id,
                    _anchor=f"answer-{new.id}",
                )
            )
    return _render_question(question, answer_form=form, status=400)


@bp.route("/answers/<int:answer_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit_answer(answer_id: int):
    """Edit an answer: its author or an admin."""
    item = _get_answer(answer_id)
    if not services.can_edit_answer(current_user, item):
        raise PermissionDenied(_("只有回答者或管理员可以修改回答。"))
    form = AnswerForm(obj=item if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = services.update_answer(
                db.session,
                current_user,
                item,
                form.body_md.data or "",
                current_app.config["KB_BODY_MAX_CHARS"],
            )
        except services.QuestionErrors as error:
            db.session.rollback()
            _attach_errors(form, error.errors)
        else:
            db.session.commit()
            flash(
                _("修改已保存。") if changed else _("内容没有变化。"),
                "success" if changed else "info",
            )
            return _back_to(item)
    status = 400 if request.method == "POST" else 200
    return render_template("questions/answer_edit.html", form=form, answer=item), status


def _back_to(item: Answer):
    return redirect(
        url_for(
            "questions.show", question_id=item.question_id, _anchor=f"answer-{item.id}"
        )
    )


def _apply(action, *args) -> bool:
    """Run a service action and commit; flash a ValidationError's message."""
    try:
        action(db.session, current_user, *args)
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return False
    db.session.commit()
    return True


@bp.post("/answers/<int:answer_id>/useful")
def useful(answer_id: int):
    """Mark an answer useful or take the mark back (one per person, not one's own)."""
    item = _get_answer(answer_id)
    try:
        marked = services.toggle_useful(db.session, current_user, item)
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _back_to(item)
    db.session.commit()
    flash(_("已标记为有用。") if marked else _("已取消有用标记。"), "success")
    return _back_to(item)


@bp.post("/answers/<int:answer_id>/accept")
def accept(answer_id: int):
    """Accept an answer: the asker or an admin."""
    item = _get_answer(answer_id)
    if _apply(services.accept, item):
        flash(_("已采纳该回答。"), "success")
    return _back_to(item)


@bp.post("/answers/<int:answer_id>/unaccept")
def unaccept(answer_id: int):
    """Withdraw the acceptance of an answer: the asker or an admin."""
    item = _get_answer(answer_id)
    if _apply(services.unaccept, item):
        flash(_("已取消采纳，问题重新变为待解答。"), "success")
    return _back_to(item)


@bp.post("/<int:question_id>/close")
def close(question_id: int):
    question = _get_question(question_id)
    if _apply(services.close, question):
        flash(_("问题已关闭。"), "success")
    return redirect(url_for("questions.show", question_id=question.id))


@bp.post("/<int:question_id>/reopen")
def reopen(question_id: int):
    question = _get_question(question_id)
    if _apply(services.reopen, question):
        flash(_("问题已重新打开。"), "success")
    return redirect(url_for("questions.show", question_id=question.id))


@bp.post("/<int:question_id>/hide")
def hide(question_id: int):
    question = _get_question(question_id)
    reason = request.form.get("reason", "")
    if _apply(services.hide_question, question, reason):
        flash(_("问题已隐藏，除管理员外无人可见。"), "success")
    return redirect(url_for("questions.show", question_id=question.id))


@bp.post("/<int:question_id>/unhide")
def unhide(question_id: int):
    question = _get_question(question_id)
    if _apply(services.unhide_question, question):
        flash(_("问题已恢复显示。"), "success")
    return redirect(url_for("questions.show", question_id=question.id))


@bp.post("/answers/<int:answer_id>/hide")
def hide_answer(answer_id: int):
    item = _get_answer(answer_id)
    reason = request.form.get("reason", "")
    if _apply(services.hide_answer, item, reason):
        flash(_("回答已隐藏，除管理员外无人可见。"), "success")
    return _back_to(item)


@bp.post("/answers/<int:answer_id>/unhide")
def unhide_answer(answer_id: int):
    item = _get_answer(answer_id)
    if _apply(services.unhide_answer, item):
        flash(_("回答已恢复显示。"), "success")
    return _back_to(item)
