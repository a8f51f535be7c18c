"""The inbox and the subscriptions page."""

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

from kb.auth import services as auth_services
from kb.auth.services import is_safe_next
from kb.errors import ValidationError
from kb.extensions import db
from kb.forum.services import SIGNAL_TYPE_LABELS
from kb.notifications import services
from kb.notifications.models import DELIVERIES
from kb.taxonomy.services import division_choices
from kb.web import is_page_load

# Beyond this, the inbox would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000

bp = Blueprint("notifications", __name__)


@bp.before_request
@login_required
def require_login():
    """Inbox and subscriptions belong to the signed-in user."""


def _next_target(raw: str | None, fallback: str) -> str:
    return raw if is_safe_next(raw) else fallback


@bp.route("/")
def inbox():
    """List the signed-in user's notifications, newest first."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    per_page = current_app.config["KB_PER_PAGE"]
    entries, total = services.inbox_entries(db.session, current_user, page, per_page)
    pages = -(-total // per_page)
    return render_template(
        "notifications/inbox.html",
        entries=entries,
        total=total,
        page=page,
        pages=pages,
        event_labels=services.EVENT_LABELS,
        signal_type_labels=SIGNAL_TYPE_LABELS,
    )


@bp.route("/<int:notification_id>", endpoint="open")
def open_notification(notification_id: int):
    """Mark one notification read and go to its post, reply, question or answer."""
    notification = services.get_notification(db.session, current_user, notification_id)
    if is_page_load():
        services.mark_read(db.session, current_user, [notification.id])
        db.session.commit()
    if notification.question_id is not None:
        anchor = f"answer-{notification.answer_id}" if notification.answer_id else None
        return redirect(
            url_for(
                "questions.show", question_id=notification.question_id, _anchor=anchor
            )
        )
    anchor = f"reply-{notification.reply_id}" if notification.reply_id else None
    return redirect(url_for("forum.show", post_id=notification.post_id, _anchor=anchor))


def _parse_ids(values: list[str]) -> list[int] | None:
    """Read ``ids`` form values (repeated or comma-separated); None if one is bad."""
    ids = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not (part.isascii() and part.isdigit()) or len(part) > 18:
                flash(_("消息编号 %(value)s 无效。", value=repr(part[:20])), "danger")
                return None
            ids.append(int(part))
    return ids


@bp.route("/read", methods=["POST"])
def mark_read():
    """Mark the notifications in ``ids`` read, or all of them when none are given."""
    back = _next_target(request.form.get("next"), url_for("notifications.inbox"))
    values = request.form.getlist("ids")
    ids = _parse_ids(values)
    if ids is None:
        return redirect(back)
    changed = services.mark_read(db.session, current_user, ids if values else None)
    db.session.commit()
    flash(_("已将 %(n)s 条消息标为已读。", n=changed), "success")
    return redirect(back)


@bp.route("/subscriptions")
def subscriptions(email_error: str | None = None, status: int = 200):
    """List what the user follows, with forms to change, remove and add follows."""
    rows = services.list_subscriptions(db.session, current_user)
    typed = {}
    if request.args.get("kind") in ("tag", "industry", "type"):
        typed[request.args["kind"]] = request.args.get("target", "")[:200]
    if email_error is not None:
        typed["email"] = (request.form.get("email") or "")[:300]
    return render_template(
        "notifications/subscriptions.html",
        rows=rows,
        kind_labels=services.KIND_LABELS,
        delivery_labels=services.DELIVERY_LABELS,
        deliveries=DELIVERIES,
        industry_choices=division_choices(db.session),
        signal_type_labels=SIGNAL_TYPE_LABELS,
        typed=typed,
        email_error=email_error,
    ), status


@bp.route("/email", methods=["POST"])
def set_email():
    """Set or clear the address the daily digest goes to."""
    try:
        address = auth_services.set_email(current_user, request.form.get("email", ""))
    except ValidationError as error:
        db.session.rollback()
        return subscriptions(email_error=error.message, status=400)
    db.session.commit()
    if address:
        flash(_("每日摘要将发送到 %(email)s。", email=address), "success")
    else:
        flash(_("已清除邮箱地址，不再发送每日摘要邮件。"), "info")
    return redirect(url_for("notifications.subscriptions"))


@bp.route("/subscriptions/<int:subscription_id>", methods=["POST"])
def set_delivery(subscription_id: int):
    """Change how one subscription is delivered: immediate, daily or off."""
    subscription = services.get_subscription(db.session, current_user, subscription_id)
    delivery = request.form.get("delivery", "")
    try:
        services.set_delivery(db.session, subscription, delivery)
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("notifications.subscriptions"))
    db.session.commit()
    flash(
        _("提醒方式已改为%(delivery)s。", delivery=services.DELIVERY_LABELS[delivery]),
        "success",
    )
    return redirect(url_for("notifications.subscriptions"))


@bp.route("/subscriptions/<int:subscription_id>/delete", methods=["POST"])
def remove(subscription_id: int):
    """Stop following what one subscription follows."""
    subscription = services.get_subscription(db.session, current_user, subscription_id)
    label = services.describe_target(
        db.session, current_user, subscription.kind, subscription.target
    )
    services.remove_subscription(db.session, subscription)
    db.session.commit()
    flash(_("已取消关注 %(name)s。", name=label), "success")
    return redirect(url_for("notifications.subscriptions"))


@bp.route("/follow", methods=["POST"])
def follow():
    """Follow an industry, tag, signal type, person or post.

    Bad input comes back as a message on the page in ``next``. A post or person
    the user may not see gets a 404 response.
    """
    kind = request.form.get("kind", "")
    target = request.form.get("target", "")
    delivery = request.form.get("delivery") or None
    fallback = url_for("notifications.subscriptions")
    back = _next_target(request.form.get("next"), fallback)
    try:
        subscription = services.follow(db.session, current_user, kind, target, delivery)
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "danger")
        if back == fallback:
            # Keep what was typed: the subscriptions page fills it in again.
            back = url_for(
                "notifications.subscriptions", kind=kind[:20], target=target[:200]
            )
        return redirect(back)
    label = services.describe_target(
        db.session, current_user, subscription.kind, subscription.target
    )
    db.session.commit()
    flash(_("已关注 %(name)s。", name=label), "success")
    return redirect(back)


@bp.route("/unfollow", methods=["POST"])
def unfollow():
    """Stop following an industry, tag, signal type, person or post."""
    kind = request.form.get("kind", "")
    target = request.form.get("target", "")
    back = _next_target(
        request.form.get("next"), url_for("notifications.subscriptions")
    )
    try:
        removed = services.unfollow(db.session, current_user, kind, target)
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(back)
    if removed is None:
        flash(_("您没有关注 %(value)s。", value=target.strip()[:64]), "info")
        return redirect(back)
    label = services.describe_target(
        db.session, current_user, removed.kind, removed.target
    )
    db.session.commit()
    flash(_("已取消关注 %(name)s。", name=label), "success")
    return redirect(back)
