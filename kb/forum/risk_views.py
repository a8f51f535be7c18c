"""The risk board, anonymous risk reports and their receipt pages.

The report and receipt views never record the signed-in person: no log line,
flash message, view record or subscription names them, and their pages do not
show who is signed in. Their per-browser limits live in the signed session
cookie, so the server keeps nothing about who reported or who looked.
"""

import time
from dataclasses import dataclass

from flask import Blueprint, current_app, make_response, render_template, request
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from kb.auth.models import Department
from kb.errors import NotFound, RateLimited
from kb.extensions import db, form_checks_csrf
from kb.forum import access, services
from kb.forum.models import SEVERITIES, Post, Reply
from kb.forum.risk_forms import AnonymousReportForm, ReceiptForm, ReceiptReplyForm
from kb.taxonomy.models import Industry
from kb.taxonomy.services import as_select_choices, division_choices
from kb.taxonomy.tags import parse_tags
from kb.timeutil import utcnow

bp = Blueprint("risk", __name__)

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000

# Receipt code checks per browser session are counted over this window
# (KB_RECEIPT_LOOKUPS_PER_HOUR). The limit slows down a script that tries
# codes, although with about 79 bits per code guessing one is impractical.
RECEIPT_WINDOW_SECONDS = 3600

# Keys in the signed session cookie.
REPORTS_KEY = "risk_reports"
LOOKUPS_KEY = "risk_lookups"

# Board views selectable with ?status=; "active" is the default.
STATUS_VIEWS = {
    "active": ("open", "handling"),
    "open": ("open",),
    "handling": ("handling",),
    "closed": ("closed",),
    "all": ("open", "handling", "closed"),
}
ANONYMOUS_DEPARTMENT = "anonymous"

SEVERITY_RANK = case({"high": 0, "medium": 1, "low": 2}, value=Post.severity, else_=3)


@bp.before_request
@login_required
def require_login():
    """Require sign-in for every risk page."""


@dataclass
class BoardFilters:
    status: str = "active"
    severity: str = ""
    industry: str = ""
    department: str = ""

    def args(self) -> dict[str, str]:
        """Return the non-default filters as query arguments for links and the pager."""
        values = {
            "status": self.status if self.status != "active" else "",
            "severity": self.severity,
            "industry": self.industry,
            "department": self.department,
        }
        return {key: value for key, value in values.items() if value}


def _read_board_filters(args) -> tuple[BoardFilters, dict[str, str]]:
    """Read the query arguments; return the filters and a message per invalid one."""
    filters = BoardFilters(
        status=args.get("status", "").strip() or "active",
        severity=args.get("severity", "").strip(),
        industry=args.get("industry", "").strip().upper(),
        department=args.get("department", "").strip(),
    )
    errors = {}
    if filters.status not in STATUS_VIEWS:
        errors["status"] = _("状态 %(value)s 无效。", value=repr(filters.status[:20]))
    if filters.severity and filters.severity not in SEVERITIES:
        errors["severity"] = _(
            "风险等级 %(value)s 无效，可选：高、中、低。",
            value=repr(filters.severity[:20]),
        )
    if filters.industry and (
        len(filters.industry) > 2 or db.session.get(Industry, filters.industry) is None
    ):
        errors["industry"] = _(
            "未知的行业代码：%(codes)s。", codes=filters.industry[:20]
        )
    if filters.department and filters.department != ANONYMOUS_DEPARTMENT:
        department = filters.department
        # ASCII digits only: int() also reads other scripts' digits, and a longer
        # number would overflow the database integer.
        known = (
            department.isascii()
            and department.isdigit()
            and len(department) <= 18
            and db.session.get(Department, int(department)) is not None
        )
        if not known:
            errors["department"] = _(
                "部门 %(value)s 不存在。", value=repr(filters.department[:20])
            )
    return filters, errors


def _board_conditions(scope, filters: BoardFilters) -> list:
    """Build the board's WHERE conditions, leaving out the severity filter."""
    conditions = [
        Post.signal_type == "risk",
        scope,
        Post.status.in_(STATUS_VIEWS[filters.status]),
    ]
    if filters.industry:
        conditions.append(
            Post.industries.any(
                or_(
                    Industry.code == filters.industry,
                    Industry.section_code == filters.industry,
                )
            )
        )
    if filters.department == ANONYMOUS_DEPARTMENT:
        conditions.append(Post.anonymous.is_(True))
    elif filters.department:
        conditions.append(Post.author_department_id == int(filters.department))
    return conditions


def _severity_counts(conditions: list) -> dict[str, int]:
    rows = db.session.execute(
        select(Post.severity, func.count(Post.id))
        .where(*conditions)
        .group_by(Post.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    counts.update({severity: count for severity, count in rows if severity})
    return counts


@bp.route("/")
def board():
    """List risk signals by severity (high first), then oldest first."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    filters, errors = _read_board_filters(request.args)
    scope = access.risk_board_scope(current_user)
    pagination = None
    counts = dict.fromkeys(SEVERITIES, 0)
    if scope is not None and not errors:
        conditions = _board_conditions(scope, filters)
        counts = _severity_counts(conditions)
        query = select(Post).where(*conditions)
        if filters.severity:
            query = query.where(Post.severity == filters.severity)
        query = query.options(
            selectinload(Post.industries), selectinload(Post.author_department)
        ).order_by(SEVERITY_RANK, Post.created_at, Post.id)
        pagination = db.paginate(
            query,
            page=page,
            per_page=current_app.config["KB_PER_PAGE"],
            error_out=False,
        )
    industries = db.session.scalars(select(Industry).order_by(Industry.code)).all()
    departments = db.session.scalars(select(Department).order_by(Department.id)).all()
    return (
        render_template(
            "risk/board.html",
            pagination=pagination,
            filters=filters,
            errors=errors,
            counts=counts,
            risk_staff=current_user.handles_risk,
            industries=industries,
            departments=departments,
            now=utcnow(),
            severity_labels=services.SEVERITY_LABELS,
            status_labels=services.STATUS_LABELS,
        ),
        400 if errors else 200,
    )


# Risk pages show report bodies written by others to the reporter. An image
# in a body would make the reporter's browser request a URL with their
# cookies (a page that counts views, an outside server that logs addresses),
# which could tell who the reporter is. So these pages load no images at all.
RISK_PAGE_CSP = (
    "default-src 'self'; img-src data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)


@bp.after_request
def forbid_images(response):
    """Send the stricter policy; the application's own default is not applied."""
    response.headers["Content-Security-Policy"] = RISK_PAGE_CSP
    return response


def _private(body: str, status: int = 200):
    """Wrap ``body`` in a response that browsers and proxies must not store."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _limited(message: str, retry_after: int | None = None):
    response = _private(render_template("risk/limited.html", message=message), 429)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _cookie_int(key: str) -> int:
    value = cookie_session.get(key, 0)
    return value if isinstance(value, int) else 0


def _attach_errors(form, errors: dict[str, str]) -> list[str]:
    """Put each message next to its field; return those that match no field."""
    unplaced = []
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is None or name == "csrf_token":
            unplaced.append(str(message))
        else:
            field.errors = [*field.errors, str(message)]
    return unplaced


def _report_form_page(form, status: int, messages: list[str] | None = None):
    page = render_template("risk/report.html", form=form, messages=messages or [])
    return _private(page, status)


@bp.route("/report", methods=["GET", "POST"])
@form_checks_csrf
def report():
    """File a client risk signal without a name and hand out its receipt code."""
    per_session = current_app.config["KB_ANON_REPORTS_PER_SESSION"]
    if _cookie_int(REPORTS_KEY) >= per_session:
        return _limited(
            _(
                "此浏览器会话已提交 %(n)s 份匿名报告，达到上限。"
                "请关闭浏览器后再提交，或在市场情报版块署名发帖。",
                n=per_session,
            )
        )

    form = AnonymousReportForm()
    form.industries.choices = as_select_choices(division_choices(db.session))
    if not form.validate_on_submit():
        return _report_form_page(form, 400 if request.method == "POST" else 200)

    data = services.PostInput(
        title=form.title.data or "",
        body_md=form.body_md.data or "",
        signal_type="risk",
        industry_codes=[code for code in (form.industries.data or []) if code],
        tags=parse_tags(form.tags.data or ""),
        severity=form.severity.data or None,
    )

    try:
        post, code = services.create_anonymous_report(
            db.session,
            data,
            current_app.config["KB_BODY_MAX_CHARS"],
            per_hour=current_app.config["KB_ANON_REPORTS_PER_HOUR"],
        )
    except services.FormErrors as exc:
        db.session.rollback()
        return _report_form_page(form, 400, _attach_errors(form, exc.errors))
    except RateLimited as exc:
        db.session.rollback()
        response = _report_form_page(form, 429, [exc.message])
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    db.session.commit()
    cookie_session[REPORTS_KEY] = _cookie_int(REPORTS_KEY) + 1

    page = render_template(
        "risk/receipt_issued.html",
        code=code,
        post=post,
        severity_labels=services.SEVERITY_LABELS,
        status_labels=services.STATUS_LABELS,
    )
    return _private(page)


def _lookup_retry_after() -> int | None:
    """Return the seconds until this browser may check a code again, else None."""
    window = cookie_session.get(LOOKUPS_KEY)
    if not (isinstance(window, list) and len(window) == 2):
        return None
    started, count = window
    elapsed = int(time.time()) - int(started)
    if elapsed >= RECEIPT_WINDOW_SECONDS or count < _lookup_limit():
        return None
    return max(1, RECEIPT_WINDOW_SECONDS - elapsed)


def _lookup_limit() -> int:
    return current_app.config["KB_RECEIPT_LOOKUPS_PER_HOUR"]


def _count_lookup() -> None:
    now = int(time.time())
    window = cookie_session.get(LOOKUPS_KEY)
    if (
        isinstance(window, list)
        and len(window) == 2
        and now - int(window[0]) < RECEIPT_WINDOW_SECONDS
    ):
        cookie_session[LOOKUPS_KEY] = [int(window[0]), int(window[1]) + 1]
    else:
        cookie_session[LOOKUPS_KEY] = [now, 1]


def _lookups_exhausted():
    retry_after = _lookup_retry_after()
    if retry_after is None:
        return None
    minutes = max(1, -(-retry_after // 60))
    return _limited(
        _(
            "回执码查询次数过多（每小时 %(n)s 次），请在 %(minutes)s 分钟后再试。",
            n=_lookup_limit(),
            minutes=minutes,
        ),
        retry_after,
    )


def _receipt_form_page(form: ReceiptForm, status: int = 200):
    return _private(render_template("risk/receipt.html", form=form, post=None), status)


def _unknown_code(code: str):
    form = ReceiptForm(formdata=None, code=code)
    form.code.errors = [_("没有与此回执码对应的报告，请核对后重试。")]
    return _receipt_form_page(form)


def _receipt_page(
    post: Post, reply_form: ReceiptReplyForm, status: int = 200, notice: str = ""
):
    replies = db.session.scalars(
        select(Reply)
        .where(Reply.post_id == post.id, Reply.hidden.is_(False))
        .options(selectinload(Reply.author))
        .order_by(Reply.id)
    ).all()
    page = render_template(
        "risk/receipt.html",
        form=None,
        post=post,
        replies=replies,
        reply_form=reply_form,
        notice=notice,
        severity_labels=services.SEVERITY_LABELS,
        status_labels=services.STATUS_LABELS,
    )
    return _private(page, status)


@bp.route("/receipt", methods=["GET", "POST"])
@form_checks_csrf
def receipt():
    """Show an anonymous report, its status history and replies to its receipt holder.

    The code comes in a POST body only, so it never lands in a URL, a browser
    history or an access log.
    """
    form = ReceiptForm()
    if request.method == "GET":
        return _receipt_form_page(form)
    exhausted = _lookups_exhausted()
    if exhausted is not None:
        return exhausted
    if not form.validate_on_submit():
        return _receipt_form_page(form, 400)
    code = (form.code.data or "").strip()
    if not code:
        form.code.errors = [_("请输入回执码。")]
        return _receipt_form_page(form, 400)
    _count_lookup()
    try:
        post = services.post_for_receipt(db.session, code)
    except NotFound:
        return _unknown_code(code)
    return _receipt_page(post, ReceiptReplyForm(formdata=None, code=code))


@bp.route("/receipt/reply", methods=["POST"])
@form_checks_csrf
def receipt_reply():
    """Add the receipt holder's reply to their report, with no author."""
    exhausted = _lookups_exhausted()
    if exhausted is not None:
        return exhausted
    reply_form = ReceiptReplyForm()
    code = (reply_form.code.data or "").strip()
    _count_lookup()
    try:
        post = services.post_for_receipt(db.session, code)
    except NotFound:
        return _unknown_code(code)
    if not reply_form.validate_on_submit():
        return _receipt_page(post, reply_form, 400)
    try:
        services.add_reply(
            db.session,
            post,
            reply_form.body_md.data or "",
            None,
            current_app.config["KB_BODY_MAX_CHARS"],
            from_reporter=True,
        )
    except services.FormErrors as exc:
        db.session.rollback()
        unplaced = _attach_errors(reply_form, exc.errors)
        reply_form.body_md.errors = [*reply_form.body_md.errors, *unplaced]
        return _receipt_page(post, reply_form, 400)
    db.session.commit()
    return _receipt_page(
        post,
        ReceiptReplyForm(formdata=None, code=code),
        notice=_("回复已发送，风险管理部门会看到。"),
    )
