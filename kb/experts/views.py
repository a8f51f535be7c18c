"""People directory and expertise profiles."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms import StringField, TextAreaField

from kb.errors import KbError, NotFound
from kb.experts import services
from kb.experts.evidence import (
    WEIGHTS,
    Evidence,
    evidence_for,
    expert_badges,
    rank_people,
)
from kb.experts.models import LEVELS
from kb.extensions import db, form_checks_csrf
from kb.taxonomy.models import Industry
from kb.taxonomy.services import division_choices
from kb.web import parse_id

bp = Blueprint("people", __name__)

MAX_LIST_PAGE = 10_000
# Empty rows the edit form offers beyond the declared ones.
SPARE_ROWS = 3

LEVEL_LABELS = {1: _l("了解"), 2: _l("熟悉"), 3: _l("精通")}
EVIDENCE_LABELS = {
    "briefs": _l("简报"),
    "accepted_answers": _l("被采纳回答"),
    "useful_signals": _l("情报获“有用”"),
    "useful_answers": _l("回答获“有用”"),
    "endorsements": _l("同事认可"),
}


@bp.before_request
@login_required
def require_login():
    """Require sign-in on every people page."""


@bp.app_context_processor
def inject_people_helpers():
    """Labels of levels and evidence, and the badge look-up for any template."""
    return {
        "expertise_levels": LEVEL_LABELS,
        "evidence_labels": EVIDENCE_LABELS,
        "expert_badges_for": _badges_for_template,
    }


def _badges_for_template(user_ids, industries) -> dict:
    """Return ``expert_badges`` for templates, which hold Industry rows."""
    codes = [getattr(item, "code", item) for item in industries]
    return expert_badges(db.session, [i for i in user_ids if i], codes)


def _url_or_none(endpoint: str, **values) -> str | None:
    """Build a URL of another package's page, or None if it has no such page."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def contribution_url(item: services.Contribution) -> str | None:
    if item.kind == "brief":
        return url_for("articles.show", article_id=item.record_id)
    if item.kind == "post":
        return url_for("forum.show", post_id=item.record_id)
    return _url_or_none("questions.show", question_id=item.record_id)


@bp.app_template_global()
def people_contribution_url(item) -> str | None:
    return contribution_url(item)


def _directory_filters() -> tuple[dict, str | None]:
    """Read industry, skill and q from the query string; return them and an error."""
    industry = request.args.get("industry", "").strip()
    skill_name = request.args.get("skill", "").strip()
    q = request.args.get("q", "").strip()[:100]
    filters = {"industry": industry, "skill": skill_name, "q": q}
    if industry:
        row = db.session.get(Industry, industry)
        if row is None:
            return filters, _("未知的行业代码：%(code)s。", code=industry[:10])
        filters["industry_row"] = row
    if skill_name:
        skill = services.skill_by_name(db.session, skill_name)
        if skill is None:
            return filters, _(
                "还没有人声明过技能“%(name)s”，可以改用关键词搜索。",
                name=skill_name[:40],
            )
        filters["skill_row"] = skill
    return filters, None


@bp.get("/")
def index():
    """Find colleagues who know an industry, a skill or a topic, best first."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    per_page = current_app.config["KB_PER_PAGE"]
    filters, error = _directory_filters()
    people = []
    has_next = False
    if error is None:
        found = rank_people(
            db.session,
            industry_codes=[filters["industry"]] if filters["industry"] else [],
            skill_ids=[filters["skill_row"].id] if "skill_row" in filters else [],
            text=filters["q"],
            limit=per_page + 1,
            offset=(page - 1) * per_page,
        )
        has_next = len(found) > per_page
        people = found[:per_page]
    recent = services.recent_contributions_for(
        db.session, current_user, [p.user.id for p in people], 3
    )
    args = {k: v for k, v in filters.items() if k in ("industry", "skill", "q") and v}
    return (
        render_template(
            "people/index.html",
            people=people,
            recent=recent,
            filters=filters,
            args=args,
            page=page,
            has_next=has_next,
            error=error,
            industries=division_choices(db.session),
            skills=services.all_skills(db.session),
            weights=WEIGHTS,
        ),
        400 if error else 200,
    )


def _get_person(user_id: int):
    try:
        return services.get_person(db.session, user_id)
    except NotFound:
        abort(404)


@bp.get("/<int:user_id>")
def show(user_id: int):
    """Show a colleague's profile: declarations, endorsements, evidence and work."""
    person = _get_person(user_id)
    industries = services.declared_industries(db.session, person.id)
    skills = services.declared_skills(db.session, person.id)
    counts, mine = services.endorsement_counts(db.session, person.id, current_user.id)
    overall = evidence_for(db.session, [person.id])[person.id]
    per_topic = _evidence_per_topic(person.id, industries, skills)
    courses = _completed_courses(person.id)
    return render_template(
        "people/show.html",
        person=person,
        profile=services.get_profile(db.session, person),
        industries=industries,
        skills=skills,
        endorsement_counts=counts,
        endorsed=mine,
        overall=overall,
        per_topic=per_topic,
        recent=services.recent_contributions(db.session, current_user, person, 10),
        courses=courses,
        ask_url=url_for("questions.ask", expert=person.id),
        is_self=person.id == current_user.id,
    )


def _evidence_per_topic(user_id: int, industries, skills) -> list[tuple[str, Evidence]]:
    """Return (label, evidence) for each declared industry and skill."""
    # NOTE: one evidence_for call (five queries) per declaration; at most 40
    # declarations (20 industries, 20 skills) bound the cost of a profile page.
    rows = []
    for item in industries:
        found = evidence_for(db.session, [user_id], industry_codes=[item.industry_code])
        rows.append((item.industry.label, found[user_id]))
    for item in skills:
        found = evidence_for(db.session, [user_id], skill_ids=[item.skill_id])
        rows.append((item.skill.name, found[user_id]))
    return rows


def _completed_courses(user_id: int) -> list[tuple[str, str | None]]:
    """Return (title, URL) of the courses the person completed."""
    try:
        from kb.training.services import completed_courses
    except ImportError:
        return []
    return [
        (course.title, _url_or_none("training.show_course", course_id=course.id))
        for course in completed_courses(db.session, user_id)
    ]


@bp.post("/<int:user_id>/endorse")
def endorse(user_id: int):
    """Endorse one declared skill or industry of a colleague, or withdraw it."""
    person = _get_person(user_id)
    skill_id = parse_id(request.form.get("skill_id"))
    industry_code = request.form.get("industry_code", "").strip() or None
    if request.form.get("skill_id") and skill_id is None:
        abort(400)
    try:
        state = services.endorse(
            db.session,
            current_user,
            person,
            skill_id=skill_id,
            industry_code=industry_code,
        )
    except KbError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("people.show", user_id=person.id)), 303
    db.session.commit()
    flash(_("已认可。") if state else _("已撤回认可。"), "success")
    return redirect(url_for("people.show", user_id=person.id, _anchor="expertise"))


class ProfileForm(FlaskForm):
    """Headline and bio; the industry and skill rows are read from the request."""

    headline = StringField(
        _l("一句话介绍"), description=_l("最多 200 字，例如：汽车产业链授信十年")
    )
    bio_md = TextAreaField(_l("个人简介（Markdown）"))


def _rows(kind: str) -> list[tuple[str, str]]:
    """Read the (value, level) rows of ``kind`` from the form, skipping empty rows."""
    values = request.form.getlist(f"{kind}_value")
    levels = request.form.getlist(f"{kind}_level")
    rows = []
    for index, value in enumerate(values):
        level = levels[index] if index < len(levels) else ""
        if value.strip():
            rows.append((value.strip(), level))
    return rows


@bp.route("/me", methods=["GET", "POST"])
@form_checks_csrf
def edit():
    """Edit one's own profile; bad input keeps everything typed."""
    person = current_user._get_current_object()
    profile = services.get_profile(db.session, person)
    form = ProfileForm(obj=profile if request.method == "GET" else None)
    errors: dict[str, str] = {}
    if request.method == "GET":
        industry_rows = [
            (item.industry_code, str(item.level))
            for item in services.declared_industries(db.session, person.id)
        ]
        skill_rows = [
            (item.skill.name, str(item.level))
            for item in services.declared_skills(db.session, person.id)
        ]
    else:
        industry_rows = _rows("industry")
        skill_rows = _rows("skill")
    if form.validate_on_submit():
        headline = form.headline.data or ""
        bio_md = form.bio_md.data or ""
        errors = services.validate_profile(
            db.session, headline, bio_md, industry_rows, skill_rows
        )
        if not errors:
            services.set_profile(
                db.session, person, headline, bio_md, industry_rows, skill_rows
            )
            db.session.commit()
            flash(_("个人专长已保存。"), "success")
            return redirect(url_for("people.show", user_id=person.id))
        for name in ("headline", "bio_md"):
            if name in errors:
                getattr(form, name).errors = [errors[name]]
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "people/edit.html",
            form=form,
            errors=errors,
            industry_rows=industry_rows + [("", "1")] * SPARE_ROWS,
            skill_rows=skill_rows + [("", "1")] * SPARE_ROWS,
            industries=division_choices(db.session),
            skills=services.all_skills(db.session),
            levels=LEVELS,
        ),
        status,
    )
