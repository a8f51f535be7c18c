"""Pages for reading, writing and comparing briefs."""

import unicodedata
from datetime import date

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
from sqlalchemy import func, select

from kb.articles import services
from kb.articles.forms import ArticleForm
from kb.articles.models import Article
from kb.clients import services as client_services
from kb.errors import NotFound
from kb.extensions import db, form_checks_csrf
from kb.taxonomy.models import Industry
from kb.taxonomy.services import as_select_choices, division_choices
from kb.taxonomy.tags import parse_tags
from kb.timeutil import to_local

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000

bp = Blueprint("articles", __name__)


@bp.before_request
@login_required
def require_login():
    """Every brief page is for signed-in staff only."""


def _form_input(form: ArticleForm) -> tuple[services.ArticleInput, dict[str, str]]:
    errors = {}
    published = None
    # NFKC: a full-width date such as ２０２４－０６－３０ is read as 2024-06-30.
    raw_date = unicodedata.normalize("NFKC", form.published_on.data or "").strip()
    if raw_date:
        try:
            published = date.fromisoformat(raw_date)
        except ValueError:
            errors["published_on"] = _(
                "日期 %(value)s 无效，请使用 YYYY-MM-DD 格式，例如 2024-06-30。",
                value=raw_date[:40],
            )
    data = services.ArticleInput(
        title=form.title.data or "",
        body_md=form.body_md.data or "",
        summary=form.summary.data or "",
        industry_codes=[code for code in (form.industries.data or []) if code],
        tags=parse_tags(form.tags.data or ""),
        published_at=published,
        source=form.source.data or "",
        source_url=form.source_url.data or "",
    )
    return data, errors


def _attach_errors(form: ArticleForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]


def _save(form: ArticleForm, article: Article | None) -> tuple[Article | None, bool]:
    """Validate and save; return the article and whether it changed.

    The article is None when the form has errors, which are attached to it.
    """
    if not form.validate_on_submit():
        return None, False
    data, errors = _form_input(form)
    body_max = current_app.config["KB_BODY_MAX_CHARS"]
    errors.update(services.validate(db.session, data, body_max))
    codes = client_services.parse_codes(form.clients.data)
    errors.update(client_services.link_errors(db.session, codes))
    if errors:
        _attach_errors(form, errors)
        return None, False
    if article is None:
        article = services.create_article(db.session, data, current_user, body_max)
        changed = True
    else:
        changed = services.update_article(
            db.session, article, data, current_user, body_max
        )
    linked, _missing = client_services.clients_for_codes(db.session, codes)
    if client_services.set_article_clients(db.session, article, linked):
        changed = True
    db.session.commit()
    return article, changed


@bp.route("/")
def index():
    """List briefs, newest first, optionally for one industry or tag."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    query = select(Article).order_by(Article.published_at.desc(), Article.id.desc())
    industry = request.args.get("industry", "").strip()
    if industry:
        query = query.where(
            Article.industries.any(
                (Industry.code == industry) | (Industry.section_code == industry)
            )
        )
    tag = request.args.get("tag", "").strip()
    if tag:
        from kb.taxonomy.models import Tag
        from kb.taxonomy.tags import normalize_tag

        query = query.where(Article.tags.any(Tag.name == normalize_tag(tag)))
    pagination = db.paginate(
        query,
        page=max(page, 1),
        per_page=current_app.config["KB_PER_PAGE"],
        error_out=False,
    )
    return render_template(
        "articles/index.html",
        pagination=pagination,
        industry=db.session.get(Industry, industry) if industry else None,
        tag=tag,
    )


@bp.route("/new", methods=["GET", "POST"])
@form_checks_csrf
def create():
    """Write a new brief."""
    form = ArticleForm()
    form.industries.choices = as_select_choices(division_choices(db.session))
    article, _changed = _save(form, None)
    if article is not None:
        flash(_("简报已发布。"), "success")
        return redirect(url_for("articles.show", article_id=article.id))
    status = 400 if request.method == "POST" else 200
    return render_template("articles/edit.html", form=form, article=None), status


@bp.route("/<int:article_id>")
def show(article_id: int):
    """Read one brief."""
    article = _get_or_404(article_id)
    return render_template(
        "articles/show.html",
        article=article,
        can_edit=services.can_edit(current_user, article),
        linked_clients=client_services.clients_of_article(db.session, article.id),
        marked_useful=services.has_marked_useful(db.session, current_user, article),
    )


@bp.post("/<int:article_id>/useful")
def useful(article_id: int):
    """Mark the brief useful, or take the mark back (one per person)."""
    article = _get_or_404(article_id)
    marked = services.toggle_useful(db.session, current_user, article)
    db.session.commit()
    flash(_("已标记为有用。") if marked else _("已取消有用标记。"), "success")
    return redirect(url_for("articles.show", article_id=article.id))


@bp.route("/<int:article_id>/edit", methods=["GET", "POST"])
@form_checks_csrf
def edit(article_id: int):
    """Edit a brief; the author and admins only."""
    article = _get_or_404(article_id)
    if not services.can_edit(current_user, article):
        abort(403)
    form = ArticleForm(obj=article if request.method == "GET" else None)
    form.industries.choices = as_select_choices(division_choices(db.session))
    if request.method == "GET":
        form.industries.data = [industry.code for industry in article.industries]
        form.tags.data = "、".join(tag.name for tag in article.tags)
        form.published_on.data = to_local(article.published_at).date().isoformat()
        form.clients.data = " ".join(
            c.credit_code
            for c in client_services.clients_of_article(db.session, article.id)
        )
    saved, changed = _save(form, article)
    if saved is not None:
        if changed:
            flash(_("修改已保存。"), "success")
        else:
            flash(_("内容没有变化，未生成新版本。"), "info")
        return redirect(url_for("articles.show", article_id=article.id))
    status = 400 if request.method == "POST" else 200
    return render_template("articles/edit.html", form=form, article=article), status


@bp.route("/<int:article_id>/revisions")
def revisions(article_id: int):
    """List the saved versions of a brief."""
    article = _get_or_404(article_id)
    return render_template("articles/revisions.html", article=article)


@bp.route("/<int:article_id>/diff")
def diff(article_id: int):
    """Show the difference between two versions (``from`` and ``to``)."""
    article = _get_or_404(article_id)
    newest = article.revision_count
    old_number = request.args.get("from", max(newest - 1, 1), type=int)
    new_number = request.args.get("to", newest, type=int)
    if not (1 <= old_number <= newest and 1 <= new_number <= newest):
        abort(404)
    try:
        old = services.get_revision(db.session, article, old_number)
        new = services.get_revision(db.session, article, new_number)
    except NotFound:
        abort(404)
    changes = services.diff_revisions(old, new)
    return render_template(
        "articles/diff.html", article=article, old=old, new=new, changes=changes
    )


def _get_or_404(article_id: int) -> Article:
    article = db.session.get(Article, article_id)
    if article is None:
        abort(404)
    return article


def article_count() -> int:
    return db.session.scalar(select(func.count(Article.id))) or 0
