"""Client records: validation, upsert by credit code, look-up, links, merge, audit.

Services take a session and never commit; the caller commits once.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from pypinyin import Style, lazy_pinyin
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.auth.models import User
from kb.clients import creditcode
from kb.clients.models import (
    CLIENT_STATUSES,
    Client,
    ClientAccess,
    ClientAlias,
    client_article,
    client_post,
)
from kb.errors import NotFound, ValidationError
from kb.forum.models import Post
from kb.search import outbox
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

NAME_MAX = 200
# Length of Client.name_pinyin. A name of NAME_MAX characters can spell up to
# six letters each ("zhuang"), so the stored pinyin keeps only its start,
# which is all the prefix search compares.
PINYIN_MAX = 800
BRANCH_MAX = 100
SEGMENT_MAX = 50
TEXT_MAX = 5000
MAX_LINKED_CLIENTS = 20

STATUS_LABELS = {
    "active": _l("正常"),
    "at_risk": _l("有流失风险"),
    "lost": _l("已流失"),
}


@dataclass
class ClientInput:
    """One client's fields as a person or a CRM export supplies them."""

    name: str
    credit_code: str
    industry_code: str | None = None
    manager_id: int | None = None
    branch: str = ""
    segment: str = ""
    status: str = "active"
    products: list[str] = field(default_factory=list)
    notes: str = ""


def pinyin_keys(name: str) -> tuple[str, str]:
    """Initials and full pinyin of ``name``, lower case, letters and digits only.

    Latin words and digits in the name are kept whole: "ABC科技2024" gives
    "abckj2024" and "abckeji2024".
    """
    text = unicodedata.normalize("NFKC", name)
    initials = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER))
    full = "".join(lazy_pinyin(text, style=Style.NORMAL))
    return _alnum(initials), _alnum(full)[:PINYIN_MAX]


def _alnum(text: str) -> str:
    return "".join(char for char in text.lower() if char.isascii() and char.isalnum())


def validate(data: ClientInput, session: Session) -> dict[str, str]:
    """Return a message per invalid field (import column names); empty when valid."""
    errors: dict[str, str] = {}
    name = " ".join(unicodedata.normalize("NFKC", data.name).split())
    if not name:
        errors["name"] = _l("客户名称不能为空。")
    elif len(name) > NAME_MAX:
        errors["name"] = _l("客户名称最长 %(max)s 个字符。", max=NAME_MAX)
    code = creditcode.normalize(data.credit_code or "")
    if not code:
        errors["credit_code"] = _l("统一社会信用代码不能为空。")
    else:
        problem = creditcode.problem(code)
        if problem is not None:
            errors["credit_code"] = problem
    if data.industry_code:
        industry = session.get(Industry, data.industry_code)
        if industry is None or industry.level != "division":
            errors["industry"] = _l(
                "未知的行业：%(value)s（需为 GB/T 4754-2017 大类代码或名称）。",
                value=data.industry_code,
            )
    if data.status not in CLIENT_STATUSES:
        errors["status"] = _l(
            "客户状态 %(value)s 无效，可选：正常、有流失风险、已流失。",
            value=repr(str(data.status)[:40]),
        )
    if len(data.branch) > BRANCH_MAX:
        errors["branch"] = _l("所属机构最长 %(max)s 个字符。", max=BRANCH_MAX)
    if len(data.segment) > SEGMENT_MAX:
        errors["segment"] = _l("客户分层最长 %(max)s 个字符。", max=SEGMENT_MAX)
    if len(data.notes) > TEXT_MAX:
        errors["notes"] = _l("备注最长 %(max)s 个字符。", max=TEXT_MAX)
    if len("\n".join(data.products)) > TEXT_MAX:
        errors["products"] = _l("持有产品最长 %(max)s 个字符。", max=TEXT_MAX)
    return errors


def _apply(client: Client, data: ClientInput) -> None:
    client.name = " ".join(unicodedata.normalize("NFKC", data.name).split())
    client.name_initials, client.name_pinyin = pinyin_keys(client.name)
    client.credit_code = creditcode.normalize(data.credit_code)
    client.industry_code = data.industry_code or None
    client.manager_id = data.manager_id
    client.branch = data.branch.strip()
    client.segment = data.segment.strip()
    client.status = data.status
    client.products = "\n".join(p.strip() for p in data.products if p.strip())
    client.notes = data.notes.strip()


def _fingerprint(client: Client) -> tuple:
    return (
        client.name,
        client.credit_code,
        client.industry_code,
        client.manager_id,
        client.branch,
        client.segment,
        client.status,
        client.products,
        client.notes,
    )


def upsert(session: Session, data: ClientInput) -> tuple[Client, str]:
    """Create or update the client with this credit code.

    Returns the client and "created", "updated" or "unchanged". Raises
    ValidationError (first invalid field) for bad input.
    """
    errors = validate(data, session)
    if errors:
        name, message = next(iter(errors.items()))
        raise ValidationError(str(message), field=name)
    code = creditcode.normalize(data.credit_code)
    client = session.scalar(select(Client).where(Client.credit_code == code))
    alias = session.get(ClientAlias, code) if client is None else None
    if alias is not None:
        target = alias.client
        raise ValidationError(
            str(
                _l(
                    "统一社会信用代码 %(code)s 的客户已合并到 %(name)s（%(target)s），"
                    "不再单独建档；请改用 %(target)s 更新。",
                    code=code,
                    name=target.name,
                    target=target.credit_code,
                )
            ),
            field="credit_code",
        )
    if client is None:
        try:
            with session.begin_nested():
                client = Client()
                _apply(client, data)
                session.add(client)
            return client, "created"
        except IntegrityError:
            # A simultaneous request created this credit code: update it.
            client = session.scalar(select(Client).where(Client.credit_code == code))
    before = _fingerprint(client)
    _apply(client, data)
    if _fingerprint(client) == before:
        return client, "unchanged"
    client.updated_at = utcnow()
    session.flush()
    _reindex_linked(session, client.id)
    return client, "updated"


def get_by_code(session: Session, code: str) -> Client:
    client = session.scalar(
        select(Client).where(Client.credit_code == creditcode.normalize(code))
    )
    if client is None:
        raise NotFound(str(_l("客户 %(code)s 不存在。", code=code[:40])))
    return client


def find_clients(session: Session, text: str, limit: int = 20) -> list[Client]:
    """Clients whose name, pinyin initials, full pinyin or credit code match.

    Name matches are substrings; pinyin and code matches are prefixes, ranked
    before substring matches of the name.
    """
    text = unicodedata.normalize("NFKC", text)
    # Control and format characters (NUL included) match nothing useful.
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf"))
    text = " ".join(text.split())[:100]
    if not text:
        return []
    latin = _alnum(text)
    # icontains and istartswith compare lower case on every database, because
    # LIKE ignores ASCII case on SQLite but not on PostgreSQL.
    conditions = [Client.name.icontains(text, autoescape=True)]
    if latin and latin == text.lower().replace(" ", ""):
        conditions += [
            Client.name_initials.startswith(latin, autoescape=True),
            Client.name_pinyin.startswith(latin, autoescape=True),
            Client.credit_code.startswith(latin.upper(), autoescape=True),
        ]
    # Rank in SQL before the limit, so an exact or prefix match is never cut
    # off by many substring matches.
    exact = or_(Client.name == text, Client.credit_code == latin.upper())
    prefixes = [Client.name.istartswith(text, autoescape=True)]
    if latin:
        prefixes += [
            Client.name_initials.startswith(latin, autoescape=True),
            Client.credit_code.startswith(latin.upper(), autoescape=True),
        ]
    rank_expression = case((exact, 0), (or_(*prefixes), 1), else_=2)
    rows = session.scalars(
        select(Client)
        .where(or_(*conditions))
        .order_by(rank_expression, func.length(Client.name), Client.name)
        .limit(200)
    ).all()

    def rank(client: Client) -> tuple:
        exact = client.name == text or client.credit_code == latin.upper()
        prefix = client.name.lower().startswith(text.lower()) or (
            latin
            and (
                client.name_initials.startswith(latin)
                or client.credit_code.startswith(latin.upper())
            )
        )
        return (not exact, not prefix, len(client.name), client.name)

    return sorted(rows, key=rank)[:limit]


def clients_for_codes(session: Session, codes: list[str]) -> tuple[list[Client], list]:
    """Resolve credit codes or full client names typed in a form.

    Returns the clients, in the order typed, and the entries that name none.
    """
    typed = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    normalized = {entry: creditcode.normalize(entry) for entry in typed}
    by_code = {
        client.credit_code: client
        for client in session.scalars(
            select(Client).where(Client.credit_code.in_(normalized.values()))
        )
    }
    names = [unicodedata.normalize("NFKC", e) for e in typed]
    by_name = {
        client.name: client
        for client in session.scalars(select(Client).where(Client.name.in_(names)))
    }
    clients, missing = [], []
    for entry in typed:
        client = by_code.get(normalized[entry]) or by_name.get(
            unicodedata.normalize("NFKC", entry)
        )
        if client is None:
            missing.append(entry[:40])
        elif client not in clients:
            clients.append(client)
    return clients, missing


_CODE_SEPARATORS = re.compile(r"[\s,，、;；]+")


def parse_codes(text: str) -> list[str]:
    """Split the credit codes typed in a form's "clients" field."""
    return [code for code in _CODE_SEPARATORS.split(text or "") if code]


def link_errors(session: Session, codes: list[str]) -> dict[str, str]:
    """Messages for the "clients" field of a post or brief form."""
    clients, missing = clients_for_codes(session, codes)
    if missing:
        return {
            "clients": _l(
                "未找到这些客户：%(codes)s。请填写统一社会信用代码或客户全称。",
                codes=" ".join(missing[:10]),
            )
        }
    if len(clients) > MAX_LINKED_CLIENTS:
        return {"clients": _l("最多关联 %(max)s 个客户。", max=MAX_LINKED_CLIENTS)}
    return {}


def set_post_clients(session: Session, post: Post, clients: list[Client]) -> bool:
    """Link ``post`` to exactly ``clients``; return whether the links changed.

    The post is re-indexed, so searching a linked client's name finds it.
    """
    changed = _replace_links(session, client_post, "post_id", post.id, clients)
    if changed:
        outbox.enqueue(session, "post", [post.id])
    return changed


def set_article_clients(
    session: Session, article: Article, clients: list[Client]
) -> bool:
    """Link ``article`` to exactly ``clients``; return whether the links changed."""
    changed = _replace_links(session, client_article, "article_id", article.id, clients)
    if changed:
        outbox.enqueue(session, "article", [article.id])
    return changed


def _replace_links(
    session: Session, table, column: str, record_id: int, clients
) -> bool:
    current = set(
        session.scalars(select(table.c.client_id).where(table.c[column] == record_id))
    )
    wanted = {client.id for client in clients}
    if current == wanted:
        return False
    session.execute(delete(table).where(table.c[column] == record_id))
    rows = [{"client_id": i, column: record_id} for i in sorted(wanted)]
    if rows:
        session.execute(table.insert(), rows)
    return True


def clients_of_post(session: Session, post_id: int) -> list[Client]:
    return list(
        session.scalars(
            select(Client)
            .join(client_post, client_post.c.client_id == Client.id)
            .where(client_post.c.post_id == post_id)
            .order_by(Client.name)
        )
    )


def clients_of_article(session: Session, article_id: int) -> list[Client]:
    return list(
        session.scalars(
            select(Client)
            .join(client_article, client_article.c.client_id == Client.id)
            .where(client_article.c.article_id == article_id)
            .order_by(Client.name)
        )
    )


def _linked_ids(session: Session, client_id: int) -> tuple[list[int], list[int]]:
    posts = session.scalars(
        select(client_post.c.post_id).where(client_post.c.client_id == client_id)
    ).all()
    articles = session.scalars(
        select(client_article.c.article_id).where(
            client_article.c.client_id == client_id
        )
    ).all()
    return list(posts), list(articles)


def _reindex_linked(session: Session, client_id: int) -> None:
    """Linked posts and briefs carry the client's name in their index entries."""
    posts, articles = _linked_ids(session, client_id)
    outbox.enqueue(session, "post", posts)
    outbox.enqueue(session, "article", articles)
    outbox.enqueue(session, "client", [client_id])


def merge(session: Session, source: Client, target: Client) -> int:
    """Move every link of ``source`` to ``target`` and delete ``source``.

    Returns the number of links moved. Links both clients already had are kept
    once. The access log keeps its rows and their credit code and name.
    """
    if source.id == target.id:
        raise ValidationError(str(_l("不能把客户合并到它自己。")), field="target")
    posts, articles = _linked_ids(session, source.id)
    target_posts, target_articles = _linked_ids(session, target.id)
    new_posts = [i for i in posts if i not in set(target_posts)]
    new_articles = [i for i in articles if i not in set(target_articles)]
    if new_posts:
        session.execute(
            client_post.insert(),
            [{"client_id": target.id, "post_id": i} for i in new_posts],
        )
    if new_articles:
        session.execute(
            client_article.insert(),
            [{"client_id": target.id, "article_id": i} for i in new_articles],
        )
    session.execute(
        update(ClientAccess)
        .where(ClientAccess.client_id == source.id)
        .values(client_id=target.id)
    )
    session.execute(
        update(ClientAlias)
        .where(ClientAlias.client_id == source.id)
        .values(client_id=target.id)
    )
    source_code = source.credit_code
    delete_client(session, source)
    session.add(ClientAlias(credit_code=source_code, client_id=target.id))
    session.flush()
    outbox.enqueue(session, "post", posts)
    outbox.enqueue(session, "article", articles)
    outbox.enqueue(session, "client", [target.id])
    logger.info("Merged client %s into %s", source.id, target.id)
    return len(new_posts) + len(new_articles)


def delete_client(session: Session, client: Client) -> None:
    """Delete a client and its links; linked posts and briefs are re-indexed."""
    posts, articles = _linked_ids(session, client.id)
    session.execute(delete(client_post).where(client_post.c.client_id == client.id))
    session.execute(
        delete(client_article).where(client_article.c.client_id == client.id)
    )
    session.delete(client)
    session.flush()
    outbox.enqueue(session, "post", posts)
    outbox.enqueue(session, "article", articles)
    logger.info("Deleted client %s", client.id)


def record_access(session: Session, user: User, client: Client, channel: str) -> None:
    """Write one row of the client access log (``channel`` is "page" or "api")."""
    session.add(
        ClientAccess(
            user_id=user.id,
            client_id=client.id,
            credit_code=client.credit_code,
            client_name=client.name,
            channel=channel,
        )
    )
    session.flush()


@dataclass(frozen=True)
class AccessFilter:
    user_id: int | None = None
    client_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def access_query(filters: AccessFilter):
    query = select(ClientAccess).order_by(ClientAccess.id.desc())
    if filters.user_id is not None:
        query = query.where(ClientAccess.user_id == filters.user_id)
    if filters.client_code:
        query = query.where(
            ClientAccess.credit_code == creditcode.normalize(filters.client_code)
        )
    if filters.since is not None:
        query = query.where(ClientAccess.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(ClientAccess.created_at < filters.until)
    return query


def count_access(session: Session, filters: AccessFilter) -> int:
    query = access_query(filters).order_by(None)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0
