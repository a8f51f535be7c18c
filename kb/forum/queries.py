"""Reading the forum: filtered lists with keyset pagination, and counts.

Lists are ordered by (created_at, id), newest first. A page is fetched
relative to a cursor holding the last (or first) row's created_at and id, so
paging never repeats or skips a post, even when many posts share a timestamp
or new ones arrive while someone pages.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from kb.auth.models import User
from kb.errors import ValidationError
from kb.forum.access import visible_posts
from kb.forum.models import SIGNAL_TYPES, Post
from kb.taxonomy.models import Industry, Tag
from kb.taxonomy.tags import normalize_tag
from kb.web import parse_id

_CURSOR_RE = re.compile(r"^([0-9]{20})-([0-9]{1,18})$")


@dataclass(frozen=True)
class PostFilters:
    signal_type: str | None = None
    industry: str | None = None
    tag: str | None = None
    department_id: int | None = None
    unanswered: bool = False


@dataclass(frozen=True)
class PostPage:
    posts: list[Post]
    total: int
    # Cursors for the neighbouring pages; None at either end.
    older: str | None
    newer: str | None


def encode_cursor(post: Post) -> str:
    return f"{post.created_at:%Y%m%d%H%M%S%f}-{post.id}"


def decode_cursor(raw: str, name: str) -> tuple[datetime, int]:
    match = _CURSOR_RE.match(raw.strip())
    if match:
        try:
            stamp = datetime.strptime(match.group(1), "%Y%m%d%H%M%S%f")
            return stamp, int(match.group(2))
        except ValueError:
            pass
    raise ValidationError(
        str(
            _l(
                "参数 %(name)s=%(value)s 不是这个列表中的位置，已回到第一页。",
                name=name,
                value=repr(raw[:40]),
            )
        ),
        field=name,
    )


def parse_filters(args, session: Session) -> PostFilters:
    """Read list filters from request arguments; ValidationError names the bad one."""
    signal_type = (args.get("type") or "").strip() or None
    if signal_type is not None and signal_type not in SIGNAL_TYPES:
        raise ValidationError(
            str(
                _l(
                    "参数 type=%(value)s 无效，可选：%(choices)s。",
                    value=repr(signal_type[:40]),
                    choices=", ".join(SIGNAL_TYPES),
                )
            ),
            field="type",
        )
    department = (args.get("department") or "").strip()
    department_id = None
    if department:
        department_id = parse_id(department)
        if department_id is None:
            raise ValidationError(
                str(
                    _l(
                        "参数 department=%(value)s 无效，应为部门编号。",
                        value=repr(department[:40]),
                    )
                ),
                field="department",
            )
    industry = (args.get("industry") or "").strip().upper() or None
    if industry is not None and session.get(Industry, industry) is None:
        raise ValidationError(
            str(
                _l(
                    "参数 industry=%(value)s 无效，"
                    "应为 GB/T 4754-2017 门类或大类代码。",
                    value=repr(industry[:20]),
                )
            ),
            field="industry",
        )
    tag = normalize_tag(args.get("tag") or "") or None
    return PostFilters(
        signal_type=signal_type,
        industry=industry,
        tag=tag,
        department_id=department_id,
        unanswered=(args.get("unanswered") or "") in ("1", "true", "yes", "on"),
    )


def _filtered(user: User, filters: PostFilters):
    query = select(Post).where(visible_posts(user))
    if filters.signal_type:
        query = query.where(Post.signal_type == filters.signal_type)
    if filters.industry:
        query = query.where(
            Post.industries.any(
                or_(
                    Industry.code == filters.industry,
                    Industry.section_code == filters.industry,
                )
            )
        )
    if filters.tag:
        query = query.where(Post.tags.any(Tag.name == filters.tag))
    if filters.department_id is not None:
        query = query.where(Post.author_department_id == filters.department_id)
    if filters.unanswered:
        query = query.where(Post.reply_count == 0)
    return query


def count_posts(session: Session, user: User, filters: PostFilters) -> int:
    query = _filtered(user, filters)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def list_posts(
    session: Session,
    user: User,
    filters: PostFilters,
    per_page: int,
    before: str | None = None,
    after: str | None = None,
) -> PostPage:
    """Return one page of visible posts, newest first.

    ``before`` gives the page of posts older than that cursor, ``after`` the
    page of posts newer than it; neither gives the newest page.
    """
    query = _filtered(user, filters).options(
        selectinload(Post.author),
        selectinload(Post.author_department),
        selectinload(Post.industries),
        selectinload(Post.tags),
    )
    if after:
        stamp, post_id = decode_cursor(after, "after")
        rows = session.scalars(
            query.where(
                or_(
                    Post.created_at > stamp,
                    and_(Post.created_at == stamp, Post.id > post_id),
                )
            )
            .order_by(Post.created_at.asc(), Post.id.asc())
            .limit(per_page + 1)
        ).all()
        # Near the newest posts this page may be short; filling it up with
        # older posts would repeat ones the reader has already seen.
        more_newer = len(rows) > per_page
        posts = list(reversed(rows[:per_page]))
        more_older = True
    else:
        if before:
            stamp, post_id = decode_cursor(before, "before")
            query = query.where(
                or_(
                    Post.created_at < stamp,
                    and_(Post.created_at == stamp, Post.id < post_id),
                )
            )
        rows = session.scalars(
            query.order_by(Post.created_at.desc(), Post.id.desc()).limit(per_page + 1)
        ).all()
        more_older = len(rows) > per_page
        posts = list(rows[:per_page])
        more_newer = before is not None
    if not posts:
        return PostPage([], count_posts(session, user, filters), None, None)
    return PostPage(
        posts=posts,
        total=count_posts(session, user, filters),
        older=encode_cursor(posts[-1]) if more_older else None,
        newer=encode_cursor(posts[0]) if more_newer else None,
    )


def list_posts_by_page(
    session: Session, user: User, filters: PostFilters, page: int, per_page: int
) -> tuple[list[Post], int]:
    """Numbered pages for the API, in the same total order as the lists."""
    query = _filtered(user, filters).options(
        selectinload(Post.industries), selectinload(Post.tags)
    )
    posts = session.scalars(
        query.order_by(Post.created_at.desc(), Post.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(posts), count_posts(session, user, filters)
