"""Administration of clients: CRM import, merge and delete, the access log."""

import csv
import io
import logging
import re
import secrets
import time
import unicodedata
from datetime import date, timedelta
from pathlib import Path, PurePosixPath

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from kb.auth.models import User
from kb.clients import creditcode, importer, services
from kb.clients.forms import (
    IMPORT_MAX_MB,
    IMPORT_MAX_ROWS,
    DeleteClientForm,
    ImportForm,
    MergeClientForm,
)
from kb.clients.models import Client, ClientAccess
from kb.errors import NotFound, ValidationError
from kb.extensions import db, form_checks_csrf
from kb.timeutil import local_date_to_utc, to_local, utcnow

bp = Blueprint("clients_admin", __name__)

# Previewed files wait here for the import button, under the instance folder.
IMPORT_PENDING_FOLDER = "client-imports"
# Previewed files older than this are deleted when the next preview is stored.
IMPORT_PENDING_MAX_AGE_SECONDS = 24 * 3600
_IMPORT_PENDING_NAME = re.compile(r"[0-9a-f]{32}\.(?:csv|tsv|txt|xlsx|xlsm)")


@bp.before_request
@login_required
def require_admin():
    """Only administrators import, merge and delete clients or read the access log."""
    if not current_user.is_admin:
        abort(403)


@bp.route("/import", methods=["GET", "POST"])
@form_checks_csrf
def import_file():
    """Upload a CRM export, check every row and import the valid ones.

    A preview saves nothing and keeps the file under the instance folder, so
    its import button needs no second upload.
    """
    request.max_content_length = IMPORT_MAX_MB * 1024 * 1024
    try:
        form = ImportForm()
    except RequestEntityTooLarge:
        form = ImportForm(formdata=None)
        message = _(
            "文件超过 %(size)s MB 的上限。请删去不需要的列或工作表，或拆分后分批导入。",
            size=IMPORT_MAX_MB,
        )
        form.file.errors = [message]
        return _import_page(form), 413
    if not form.validate_on_submit():
        return _import_page(form), 400 if request.method == "POST" else 200
    try:
        data, filename = _import_source(form)
        sheet = importer.read_rows(data, filename, max_rows=IMPORT_MAX_ROWS)
        report = importer.import_clients(db.session, sheet, dry_run=form.dry_run.data)
    except ValidationError as error:
        db.session.rollback()
        form.file.errors = [*form.file.errors, error.message]
        return _import_page(form), 400
    pending = None
    if report.dry_run:
        db.session.rollback()
        pending = _import_keep(data, sheet.filename)
    else:
        db.session.commit()
        _import_discard(form.pending.data)
    return _import_page(form, report=report, pending=pending)


def _import_page(form: ImportForm, report=None, pending: str | None = None):
    return render_template(
        "clients/import.html",
        form=form,
        report=report,
        pending=pending,
        aliases=importer.HEADER_ALIASES,
        max_mb=IMPORT_MAX_MB,
        max_rows=IMPORT_MAX_ROWS,
    )


def _import_source(form: ImportForm) -> tuple[bytes, str]:
    """Return the uploaded file, or else the previewed file the form names."""
    upload = form.file.data
    if upload and upload.filename:
        return upload.read(), importer.display_filename(upload.filename)
    stored = form.pending.data or ""
    if not stored:
        raise ValidationError(_("请选择要导入的文件。"), field="file")
    path = _import_pending_path(stored)
    try:
        data = path.read_bytes()
    except OSError:
        raise ValidationError(
            _("预览过的文件已导入或已过期，请重新上传。"), field="file"
        ) from None
    # The original name is only displayed. The stored name's extension selects
    # the format.
    name = importer.display_filename(form.pending_name.data or "")
    if PurePosixPath(name).suffix.lower() != path.suffix:
        name = path.name
    return data, name


def _import_pending_path(stored: str) -> Path:
    if not _IMPORT_PENDING_NAME.fullmatch(stored):
        raise ValidationError(
            _("预览过的文件已导入或已过期，请重新上传。"), field="file"
        )
    return Path(current_app.instance_path) / IMPORT_PENDING_FOLDER / stored


def _import_keep(data: bytes, filename: str) -> str:
    """Store a previewed file under a random name and return that name."""
    folder = Path(current_app.instance_path) / IMPORT_PENDING_FOLDER
    folder.mkdir(exist_ok=True)
    oldest = time.time() - IMPORT_PENDING_MAX_AGE_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < oldest:
            old.unlink(missing_ok=True)
    stored = secrets.token_hex(16) + PurePosixPath(filename).suffix.lower()
    (folder / stored).write_bytes(data)
    return stored


def _import_discard(stored: str | None) -> None:
    if stored and _IMPORT_PENDING_NAME.fullmatch(stored):
        _import_pending_path(stored).unlink(missing_ok=True)


# Access log, merge and delete.

logger = logging.getLogger(__name__)

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Dates outside this range are typing mistakes, and year 9999 would overflow
# the day after ``to``.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2999, 12, 31)
# Both languages in one header row, whatever the reader's interface language.
CSV_HEADER = (
    "时间 Time",
    "用户名 Username",
    "姓名 Name",
    "客户名称 Client name",
    "统一社会信用代码 Credit code",
    "渠道 Channel",
)
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _access_day(args, name: str, label: str) -> tuple[date | None, str | None]:
    """Read a YYYY-MM-DD query argument; return the date or a message naming it."""
    raw = unicodedata.normalize("NFKC", args.get(name, "")).strip()
    if not raw:
        return None, None
    day = None
    if DATE_RE.match(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = None
    if day is None:
        return None, _(
            "%(label)s（参数 %(name)s）的值 %(value)s 无效，"
            "请使用 YYYY-MM-DD 格式，例如 2026-12-04。",
            label=label,
            name=name,
            value=repr(raw[:40]),
        )
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        return None, _(
            "%(label)s（参数 %(name)s）%(value)s 超出范围：应在 %(first)s 到 "
            "%(last)s 之间。",
            label=label,
            name=name,
            value=day.isoformat(),
            first=EARLIEST_DATE.isoformat(),
            last=LATEST_DATE.isoformat(),
        )
    return day, None


def _access_filters(args) -> tuple[services.AccessFilter, dict, dict[str, str]]:
    """Read the access log's query arguments.

    Returns the filter, the values as typed (for the form) and a message per
    invalid argument. Dates are Asia/Shanghai days: ``to`` includes its whole day.
    """
    typed = {
        "user": args.get("user", "").strip()[:64],
        "client": args.get("client", "").strip()[:40],
        "from": args.get("from", "").strip()[:40],
        "to": args.get("to", "").strip()[:40],
    }
    errors: dict[str, str] = {}
    user_id = None
    if typed["user"]:
        user_id = db.session.scalar(
            select(User.id).where(func.lower(User.username) == typed["user"].lower())
        )
        if user_id is None:
            errors["user"] = _(
                "用户（参数 user）：没有用户名为 %(name)s 的账户。",
                name=repr(typed["user"]),
            )
    code = creditcode.normalize(typed["client"])
    if code:
        problem = creditcode.problem(code)
        if problem is not None:
            errors["client"] = _("客户（参数 client）：%(problem)s", problem=problem)
    since, message = _access_day(args, "from", _("开始日期"))
    if message:
        errors["from"] = message
    until, message = _access_day(args, "to", _("结束日期"))
    if message:
        errors["to"] = message
    if since and until and since > until:
        errors["to"] = _(
            "结束日期（参数 to）%(to)s 早于开始日期 %(since)s。",
            to=until.isoformat(),
            since=since.isoformat(),
        )
    filters = services.AccessFilter(
        user_id=user_id,
        client_code=code or None,
        since=local_date_to_utc(since) if since else None,
        until=local_date_to_utc(until + timedelta(days=1)) if until else None,
    )
    return filters, typed, errors


@bp.route("/access")
def access_log():
    """List the client access log, newest first, filtered by user, client and dates."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    filters, typed, errors = _access_filters(request.args)
    pagination = None
    if not errors:
        pagination = db.paginate(
            services.access_query(filters).options(
                selectinload(ClientAccess.user).selectinload(User.department)
            ),
            page=page,
            per_page=current_app.config["KB_PER_PAGE"],
            error_out=False,
        )
    # A merged client's rows point at the client it went into, whose code differs.
    client_ids = {e.client_id for e in pagination.items} if pagination else set()
    current_codes = {
        client_id: code
        for client_id, code in db.session.execute(
            select(Client.id, Client.credit_code).where(Client.id.in_(client_ids))
        )
    }
    args = {key: value for key, value in typed.items() if value}
    return (
        render_template(
            "clients/access_log.html",
            pagination=pagination,
            current_codes=current_codes,
            typed=typed,
            args=args,
            errors=errors,
        ),
        400 if errors else 200,
    )


def _csv_cell(value: str) -> str:
    """Quote ``value`` so a spreadsheet shows it as text, never runs it."""
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_csv_cell(str(value)) for value in values])
    return buffer.getvalue()


@bp.route("/access.csv")
def access_csv():
    """Stream the filtered access log as CSV, with a BOM so Excel reads UTF-8."""
    filters, _typed, errors = _access_filters(request.args)
    if errors:
        field, message = next(iter(errors.items()))
        raise ValidationError(message, field=field)
    query = (
        services.access_query(filters)
        .join(User, User.id == ClientAccess.user_id)
        .add_columns(User.username, User.display_name)
        .execution_options(yield_per=500)
    )

    def generate():
        yield "\ufeff" + _csv_line(CSV_HEADER)
        for entry, username, display_name in db.session.execute(query):
            yield _csv_line(
                (
                    to_local(entry.created_at).isoformat(),
                    username,
                    display_name,
                    entry.client_name,
                    entry.credit_code,
                    entry.channel,
                )
            )

    filename = f"client-access-{to_local(utcnow()):%Y%m%d}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def _render_admin_action(client, merge_form, delete_form):
    return (
        render_template(
            "clients/admin_action.html",
            client=client,
            merge_form=merge_form,
            delete_form=delete_form,
        ),
        400,
    )


def _client_label(client) -> str:
    return f"{client.name} ({client.credit_code})"


def _attach_error(field, message: str) -> None:
    field.errors = [*field.errors, message]


@bp.post("/<credit_code>/merge")
@form_checks_csrf
def merge(credit_code: str):
    """Merge the client into the one whose code is in ``target``."""
    source = services.get_by_code(db.session, credit_code)
    form = MergeClientForm()
    if form.validate_on_submit():
        raw = (form.target.data or "").strip()
        target = None
        if not raw:
            _attach_error(form.target, _("请填写要并入的客户的统一社会信用代码。"))
        else:
            try:
                target = services.get_by_code(db.session, raw)
            except NotFound:
                _attach_error(
                    form.target,
                    _("客户 %(code)s 不存在，请核对代码。", code=raw[:40]),
                )
        if not form.confirm.data:
            _attach_error(form.confirm, _("请勾选确认后再合并。"))
        if target is not None and not form.errors:
            label, source_code = _client_label(source), source.credit_code
            try:
                moved = services.merge(db.session, source, target)
            except ValidationError as error:
                db.session.rollback()
                _attach_error(form.target, error.message)
            else:
                db.session.commit()
                logger.info(
                    "User %s merged client %s into %s",
                    current_user.id,
                    source_code,
                    target.credit_code,
                )
                flash(
                    _(
                        "已将 %(source)s 合并到本客户，转入 %(n)s 条关联。",
                        source=label,
                        n=moved,
                    ),
                    "success",
                )
                return redirect(url_for("clients.show", credit_code=target.credit_code))
    return _render_admin_action(source, form, DeleteClientForm(formdata=None))


@bp.post("/<credit_code>/delete")
@form_checks_csrf
def delete(credit_code: str):
    """Delete the client after confirmation; its links go, the log stays."""
    client = services.get_by_code(db.session, credit_code)
    form = DeleteClientForm()
    if form.validate_on_submit():
        if form.confirm.data:
            label, code = _client_label(client), client.credit_code
            services.delete_client(db.session, client)
            db.session.commit()
            logger.info("User %s deleted client %s", current_user.id, code)
            flash(_("已删除客户 %(client)s。", client=label), "success")
            return redirect(url_for("clients.index"))
        _attach_error(form.confirm, _("请勾选确认后再删除。"))
    return _render_admin_action(client, MergeClientForm(formdata=None), form)
