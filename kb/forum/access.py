"""Who may see and do what in the forum: the one place that decides.

Every path that shows a post or a reply (pages, lists, counts, search, the
JSON API, notifications and digests) calls this module, so a rule changes in
one place. A reader who may not see a post is told it does not exist.

A post is visible to:
- admins, always, hidden or not;
- everyone else only while it is not hidden, and then when any of these holds:
  its visibility is "all"; the reader's department is in its audience; the
  reader wrote it; it is a client risk signal and the reader's department
  handles risk signals.
"""

from sqlalchemy import and_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from kb.auth.models import Department, User
from kb.forum.models import Post, PostRevision, Reply


def can_view_post(user: User, post: Post) -> bool:
    if user.is_admin:
        return True
    if post.hidden:
        return False
    return (
        post.visibility == "all"
        or any(department.id == user.department_id for department in post.audience)
        or (post.author_id is not None and post.author_id == user.id)
        or (post.is_risk and user.department.handles_risk)
    )


def can_view_reply(user: User, reply: Reply) -> bool:
    if not can_view_post(user, reply.post):
        return False
    return user.is_admin or not reply.hidden


def visible_posts(user: User) -> ColumnElement[bool]:
    """Return a WHERE clause on Post that keeps what ``user`` may see."""
    if user.is_admin:
        return true()
    conditions = [
        Post.visibility == "all",
        Post.audience.any(Department.id == user.department_id),
        Post.author_id == user.id,
    ]
    if user.department.handles_risk:
        conditions.append(Post.signal_type == "risk")
    return and_(Post.hidden.is_(False), or_(*conditions))


def visible_replies(user: User) -> ColumnElement[bool]:
    """Return a WHERE clause on Reply (joined to its Post) for ``user``."""
    if user.is_admin:
        return true()
    return and_(Reply.hidden.is_(False), visible_posts(user))


def search_acl(user: User) -> list[str] | None:
    """Return the audience tokens ``user`` may match; None means everything."""
    if user.is_admin:
        return None
    tokens = ["all", f"dept:{user.department_id}", f"user:{user.id}"]
    if user.department.handles_risk:
        tokens.append("risk")
    return tokens


def post_acl(post: Post) -> tuple[str, ...]:
    """Return the audience tokens of a post's index entry (``can_view_post``)."""
    if post.visibility == "all":
        return ("all",)
    tokens = [f"dept:{department.id}" for department in post.audience]
    if post.author_id is not None:
        tokens.append(f"user:{post.author_id}")
    if post.is_risk:
        tokens.append("risk")
    # An entry with no token is found by admins only.
    return tuple(tokens) or ("admin",)


def can_view_revision(user: User, post: Post, revision: PostRevision) -> bool:
    """A saved version is shown to those who could read the post when it was saved.

    The reader must also be able to read the post now.
    """
    if not can_view_post(user, post):
        return False
    if user.is_admin or revision.visibility == "all":
        return True
    if post.author_id is not None and post.author_id == user.id:
        return True
    if post.is_risk and user.department.handles_risk:
        return True
    audience = {int(i) for i in revision.audience_ids.split(",") if i}
    return user.department_id in audience


def can_edit_post(user: User, post: Post) -> bool:
    if user.is_admin:
        return True
    return not post.hidden and post.author_id is not None and post.author_id == user.id


def can_edit_reply(user: User, reply: Reply) -> bool:
    if user.is_admin:
        return True
    return (
        not reply.hidden
        and reply.author_id is not None
        and reply.author_id == user.id
        and can_view_post(user, reply.post)
    )


def can_handle_risk(user: User, post: Post) -> bool:
    """Change a risk signal's status: staff of a risk department and admins."""
    return post.is_risk and user.handles_risk and can_view_post(user, post)


def can_moderate(user: User) -> bool:
    return user.is_admin


def risk_board_scope(user: User) -> ColumnElement[bool] | None:
    """Return the WHERE clause of the risk signals ``user`` may see on the board.

    Risk staff and admins see every risk signal they may read. Others see the
    signals they wrote, and only when they wrote one.
    """
    if user.handles_risk:
        return visible_posts(user)
    return and_(Post.author_id == user.id, Post.hidden.is_(False))
