"""Forum pages: lists, posts, replies, marks, risk status and moderation."""

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
from flask_login import current_user, login_required
from sqlalchemy import select

from kb.auth.models import Department
from kb.clients import services as client_services
from kb.errors import KbError, NotFound, ValidationError
from kb.experts.evidence import expert_badges
from kb.extensions import db, form_checks_csrf
from kb.forum import access, queries, services
from kb.forum.forms import PostForm, ReplyEditForm, ReplyForm
from kb.forum.models import RISK_STATUSES, SEVERITIES, SIGNAL_TYPES, Post, Reply
from kb.notifications.services import find_subscription, normalize_target
from kb.taxonomy.models import Industry
from kb.taxonomy.services import as_select_choices, division_choices
from kb.taxonomy.tags import parse_tags
from kb.web import is_page_load, parse_id

bp = Blueprint("forum", __name__)


@bp.before_request
@login_required
def require_login():
    """Require sign-in on every forum page."""


@bp.app_context_processor
def inject_labels():
    """Display names of signal types, severities, statuses and visibilities."""
    return {
        "forum_labels": {
            "types": services.SIGNAL_TYPE_LABELS,
            "severities": services.SEVERITY_LABELS,
            "statuses": services.STATUS_LABELS,
            "visibilities": services.VISIBILITY_LABELS,
        }
    }


def _departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.id)))


def _prepare(form: PostForm, post: Post | None = None) -> None:
    """Fill the choices; an edit keeps a risk signal one and others not one."""
    types = list(SIGNAL_TYPES)
    if post is not None:
        types = ["risk"] if post.is_risk else [t for t in types if t != "risk"]
    form.signal_type.choices = as_select_choices(
        [(value, str(services.SIGNAL_TYPE_LABELS[value])) for value in types]
    )
    form.severity.choices = as_select_choices(
        [("", _("（不适用）"))]
        + [(value, str(services.SEVERITY_LABELS[value])) for value in SEVERITIES]
    )
    form.visibility.choices = as_select_choices(
        [(value, str(label)) for value, label in services.VISIBILITY_LABELS.items()]
    )
    form.audience.choices = as_select_choices(
        [(str(d.id), d.name) for d in _departments()]
    )
    form.industries.choices = as_select_choices(division_choices(db.session))


def _form_input(form: PostForm) -> tuple[services.PostInput, dict[str, str]]:
    errors = {}
    audience_ids = []
    for raw in form.audience.data or []:
        department_id = parse_id(raw)
        if department_id is not None:
            audience_ids.append(department_id)
        else:
            errors["audience"] = _("未知的部门：%(ids)s。", ids=str(raw)[:20])
    data = services.PostInput(
        title=form.title.data or "",
        body_md=form.body_md.data or "",
        signal_type=form.signal_type.data or "",
        visibility=form.visibility.data or "",
        audience_ids=audience_ids,
        industry_codes=[code for code in (form.industries.data or []) if code],
        tags=parse_tags(form.tags.data or ""),
        severity=form.severity.data or None,
    )
    return data, errors


def _attach_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        target = getattr(form, name, None)
        if target is None:
            target = form.body_md
        target.errors = [*target.errors, str(message)]


@bp.route("/")
def index():
    """List the latest visible posts, filtered by type, industry, tag, department."""
    error = None
    per_page = current_app.config["KB_PER_PAGE"]
    try:
        filters = queries.parse_filters(request.args, db.session)
    except ValidationError as exc:
        error = exc.message
        filters = queries.PostFilters()
    try:
        result = queries.list_posts(
            db.session,
            current_user,
            filters,
            per_page,
            before=request.args.get("before") or None,
            after=request.args.get("after") or None,
        )
    except ValidationError as exc:
        # A bad page position keeps the filters and shows their first page.
        error = exc.message
        result = queries.list_posts(db.session, current_user, filters, per_page)
    industry = db.session.get(Industry, filters.industry) if filters.industry else None
    department = (
        db.session.get(Department, filters.department_id)
        if filters.department_id is not None
        else None
    )
    args = {
        key: value
        for key, value in {
            "type": filters.signal_type,
            "industry": filters.industry,
            "tag": filters.tag,
            "department": filters.department_id,
            "unanswered": "1" if filters.unanswered else None,
        }.items()
        if value is not None
    }
    following = _following_for_filters(filters)
    return (
        render_template(
            "forum/index.html",
            result=result,
            filters=filters,
            args=args,
            industry=industry,
            department=department,
            departments=_departments(),
            industries=division_choices(db.session),
            error=error,
            following=following,
            expert_badges=_author_badges(result.posts),
        ),
        400 if error else 200,
    )


def _author_badges(posts, replies=()) -> dict:
    """Return the authors' expert badges for the posts' industries, in one query."""
    author_ids = [post.author_id for post in posts]
    author_ids += [reply.author_id for reply in replies]
    codes = {industry.code for post in posts for industry in post.industries}
    return expert_badges(db.session, author_ids, codes)


def _following_for_filters(filters: queries.PostFilters) -> dict | None:
    """Return the follow button for the list's single filter, if it has one."""
    for kind, target in (
        ("type", filters.signal_type),
        ("industry", filters.industry),
        ("tag", filters.tag),
    ):
        if target:
            try:
                target = normalize_target(db.session, kind, target)
            except KbError:
                return None
            subscription = find_subscription(db.session, current_user, kind, target)
            return {"kind": kind, "target": target, "active": subscription}
    return None


@bp.route("/new", methods=["GET", "POST"])
@form_checks_csrf
def create():
    """Share a signal."""
    form = PostForm()
    _prepare(form)
    if request.method == "GET":
        wanted = request.args.get("type")
        if wanted in SIGNAL_TYPES:
            form.signal_type.data = wanted
        form.visibility.data = "all"
    if form.validate_on_submit():
        data, errors = _form_input(form)
        body_max = current_app.config["KB_BODY_MAX_CHARS"]
        # Messages from reading the form (such as a bad department id) win.
        errors = {**services.validate_post(db.session, data, body_max), **errors}
        codes = client_services.parse_codes(form.clients.data)
        errors.update(client_services.link_errors(db.session, codes))
        if not errors:
            post = services.create_post(db.session, data, current_user, body_max)
            linked, _missing = client_services.clients_for_codes(db.session, codes)
            client_services.set_post_clients(db.session, post, linked)
            db.session.commit()
            flash(_("已发布。"), "success")
            return redirect(url_for("forum.show", post_id=post.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template("forum/edit.html", form=form, post=None), status


def _get_post(post_id: int) -> Post:
    try:
        return services.get_visible_post(db.session, current_user, post_id)
    except NotFound:
        abort(404)


def _get_reply(reply_id: int) -> Reply:
    try:
        return services.get_visible_reply(db.session, current_user, reply_id)
    except NotFound:
        abort(404)


def _render_post(post: Post, reply_form: ReplyForm | None = None, status: int = 200):
    user = current_user
    replies = [reply for reply in post.replies if access.can_view_reply(user, reply)]
    if reply_form is None:
        reply_form = ReplyForm()
        quote_id = request.args.get("quote", type=int)
        quoted = next((r for r in replies if r.id == quote_id), None)
        if quoted is not None:
            reply_form.quote_of.data = str(quoted.id)
    quote_of = None
    quote_id = parse_id(reply_form.quote_of.data)
    if quote_id is not None:
        quote_of = next((r for r in replies if r.id == quote_id), None)
    marked_post, marked_replies = services.useful_marks(db.session, user, post)
    return (
        render_template(
            "forum/show.html",
            post=post,
            replies=replies,
            reply_form=reply_form,
            quote_of=quote_of,
            marked_post=marked_post,
            marked_replies=marked_replies,
            can_edit=access.can_edit_post(user, post),
            can_handle=access.can_handle_risk(user, post),
            can_moderate=access.can_moderate(user),
            following=find_subscription(db.session, user, "post", str(post.id)),
            following_author=(
                find_subscription(db.session, user, "user", str(post.author_id))
                if post.author_id is not None
                else None
            ),
            statuses=RISK_STATUSES,
            linked_clients=client_services.clients_of_post(db.session, post.id),
            expert_badges=_author_badges([post], replies),
        ),
        status,
    )


@bp.route("/<int:post_id>")
def show(post_id: int):
    """Read a post and its replies."""
    post = _get_post(post_id)
    if is_page_load():
        services.record_view(db.session, current_user, post)
        db.session.commit()
    return _render_post(post)


@bp.route("/<int:post_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit(post_id: int):
    """Edit a post: its author or an admin."""
    post = _get_post(post_id)
    if not access.can_edit_post(current_user, post):
        abort(403)
    form = PostForm(obj=post if request.method == "GET" else None)
    _prepare(form, post)
    if request.method == "GET":
        form.industries.data = [industry.code for industry in post.industries]
        form.tags.data = "、".join(tag.name for tag in post.tags)
        form.audience.data = [str(d.id) for d in post.audience]
        form.severity.data = post.severity or ""
        form.clients.data = " ".join(
            c.credit_code for c in client_services.clients_of_post(db.session, post.id)
        )
    if form.validate_on_submit():
        data, errors = _form_input(form)
        body_max = current_app.config["KB_BODY_MAX_CHARS"]
        if post.is_risk:
            data.signal_type = "risk"
        errors = {
            **services.validate_post(
                db.session, data, body_max, anonymous=post.anonymous
            ),
            **errors,
        }
        codes = client_services.parse_codes(form.clients.data)
        errors.update(client_services.link_errors(db.session, codes))
        if not errors:
            changed = services.update_post(
                db.session, post, data, current_user, body_max
            )
            linked, _missing = client_services.clients_for_codes(db.session, codes)
            if client_services.set_post_clients(db.session, post, linked):
                changed = True
            db.session.commit()
            if changed:
                flash(_("修改已保存。"), "success")
            else:
                flash(_("内容没有变化，未生成新版本。"), "info")
            return redirect(url_for("forum.show", post_id=post.id))
        _attach_errors(form, errors)
    status = 400 if request.method == "POST" else 200
    return render_template("forum/edit.html", form=form, post=post), status


@bp.route("/<int:post_id>/revisions")
def revisions(post_id: int):
    """List the saved versions the reader could have read when they were saved."""
    post = _get_post(post_id)
    shown = [
        r for r in post.revisions if access.can_view_revision(current_user, post, r)
    ]
    return render_template(
        "forum/revisions.html",
        post=post,
        revisions=shown,
        withheld=len(post.revisions) - len(shown),
    )


@bp.route("/<int:post_id>/replies", methods=["POST"])
@form_checks_csrf
def reply(post_id: int):
    """Add a reply; on errors render the post page again with the text kept."""
    post = _get_post(post_id)
    form = ReplyForm()
    if form.validate_on_submit():
        quote_id = parse_id(form.quote_of.data)
        try:
            new = services.add_reply(
                db.session,
                post,
                form.body_md.data or "",
                current_user,
                current_app.config["KB_BODY_MAX_CHARS"],
                quote_of_id=quote_id,
            )
        except services.FormErrors as exc:
            db.session.rollback()
            # The quote is a hidden field: its message goes next to the text.
            errors = {
                "body_md" if name == "quote_of" else name: message
                for name, message in exc.errors.items()
            }
            _attach_errors(form, errors)
        else:
            db.session.commit()
            flash(_("回复已发布。"), "success")
            return redirect(
                url_for("forum.show", post_id=post.id, _anchor=f"reply-{new.id}")
            )
    return _render_post(post, reply_form=form, status=400)


@bp.route("/replies/<int:reply_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit_reply(reply_id: int):
    item = _get_reply(reply_id)
    if not access.can_edit_reply(current_user, item):
        abort(403)
    form = ReplyEditForm(obj=item if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = services.update_reply(
                db.session,
                item,
                form.body_md.data or "",
                current_user,
                current_app.config["KB_BODY_MAX_CHARS"],
            )
        except services.FormErrors as exc:
            _attach_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(
                _("修改已保存。") if changed else _("内容没有变化，未生成新版本。"),
                "success" if changed else "info",
            )
            return redirect(
                url_for("forum.show", post_id=item.post_id, _anchor=f"reply-{item.id}")
            )
    status = 400 if request.method == "POST" else 200
    return render_template("forum/reply_edit.html", form=form, reply=item), status


@bp.route("/replies/<int:reply_id>/revisions")
def reply_revisions(reply_id: int):
    item = _get_reply(reply_id)
    return render_template("forum/reply_revisions.html", reply=item)


@bp.post("/<int:post_id>/useful")
def useful(post_id: int):
    post = _get_post(post_id)
    marked = services.toggle_useful(db.session, current_user, post=post)
    db.session.commit()
    flash(_("已标记为有用。") if marked else _("已取消有用标记。"), "success")
    return redirect(url_for("forum.show", post_id=post.id))


@bp.post("/replies/<int:reply_id>/useful")
def reply_useful(reply_id: int):
    item = _get_reply(reply_id)
    marked = services.toggle_useful(db.session, current_user, reply=item)
    db.session.commit()
    flash(_("已标记为有用。") if marked else _("已取消有用标记。"), "success")
    return redirect(
        url_for("forum.show", post_id=item.post_id, _anchor=f"reply-{item.id}")
    )


@bp.post("/<int:post_id>/status")
def change_status(post_id: int):
    """Move a risk signal along: risk staff and admins."""
    post = _get_post(post_id)
    if not access.can_handle_risk(current_user, post):
        abort(403)
    try:
        services.change_status(
            db.session,
            post,
            current_user,
            request.form.get("status", ""),
            request.form.get("note", ""),
        )
    except services.FormErrors as exc:
        db.session.rollback()
        post = _get_post(post_id)
        flash(" ".join(str(m) for m in exc.errors.values()), "danger")
        response, _status = _render_post(post)
        return response, 400
    db.session.commit()
    flash(_("状态已更新。"), "success")
    return redirect(url_for("forum.show", post_id=post.id, _anchor="risk"))


def _moderate(action, target, reason_required: bool):
    if not access.can_moderate(current_user):
        abort(403)
    try:
        if reason_required:
            action(db.session, target, current_user, request.form.get("reason", ""))
        else:
            action(db.session, target, current_user)
    except services.FormErrors as exc:
        db.session.rollback()
        flash(" ".join(str(m) for m in exc.errors.values()), "danger")
        return False
    db.session.commit()
    return True


@bp.post("/<int:post_id>/hide")
def hide(post_id: int):
    post = _get_post(post_id)
    if _moderate(services.hide_post, post, True):
        flash(_("帖子已隐藏，除管理员外无人可见。"), "success")
    return redirect(url_for("forum.show", post_id=post.id))


@bp.post("/<int:post_id>/unhide")
def unhide(post_id: int):
    post = _get_post(post_id)
    if _moderate(services.unhide_post, post, False):
        flash(_("帖子已恢复显示。"), "success")
    return redirect(url_for("forum.show", post_id=post.id))


@bp.post("/replies/<int:reply_id>/hide")
def hide_reply(reply_id: int):
    item = _get_reply(reply_id)
    if _moderate(services.hide_reply, item, True):
        flash(_("回复已隐藏，除管理员外无人可见。"), "success")
    return redirect(
        url_for("forum.show", post_id=item.post_id, _anchor=f"reply-{item.id}")
    )


@bp.post("/replies/<int:reply_id>/unhide")
def unhide_reply(reply_id: int):
    item = _get_reply(reply_id)
    if _moderate(services.unhide_reply, item, False):
        flash(_("回复已恢复显示。"), "success")
    return redirect(
        url_for("forum.show", post_id=item.post_id, _anchor=f"reply-{item.id}")
    )
