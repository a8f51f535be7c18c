"""Who sees which forum post, on every path, as one table of readers and posts.

The expected visibility is written out in ``VISIBLE`` and ``RISK_BOARD``. It is
not computed with ``kb.forum.access``, so a mistake in those rules fails here.
Every post and reply carries a word found nowhere else, so a page, a count, a
search snippet or a notification that mentions it gives the post away.
"""

import json
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from kb.auth.models import Department, User
from kb.auth.services import create_user
from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post
from kb.notifications import services as notifications
from kb.notifications.digest import collect
from kb.notifications.models import Notification, Subscription
from tests.conftest import PASSWORD, csrf_token, login, module_app

RISK_DEPARTMENT = "风险管理部"
TAG = "矩阵"
INDUSTRY = "36"
INDUSTRY_NAME = "汽车制造业"
SECTION = "C"


@dataclass(frozen=True)
class Reader:
    role: str
    department: str
    display_name: str


READERS = {
    "author": Reader("staff", "公司金融部", "王作者"),
    "colleague": Reader("staff", "公司金融部", "李同事"),
    "approver": Reader("staff", "授信审批部", "张审批"),
    "compliance": Reader("staff", "合规部", "周合规"),
    "risk_officer": Reader("staff", RISK_DEPARTMENT, "钱风控"),
    "admin": Reader("admin", "行业研究中心", "孙管理"),
}


@dataclass(frozen=True)
class PostSpec:
    """One post of the table. ``author`` writes every post that is not anonymous.

    ``word`` and ``reply_word`` share no Han character with each other, with any
    other post or with the fixed text around them, so a search for one of them
    can only find this post or its reply.
    """

    word: str
    reply_word: str
    signal_type: str
    visibility: str = "all"
    audience: tuple[str, ...] = ()
    severity: str | None = None
    anonymous: bool = False
    replier: str = "author"
    hidden: bool = False

    @property
    def title(self) -> str:
        return f"{self.word}行情周报"

    @property
    def body(self) -> str:
        return f"本周{self.word}报价上行，关注相关客户的授信敞口。"

    @property
    def reply_body(self) -> str:
        return f"{self.reply_word}方面已核实，情况属实。"

    @property
    def traces(self) -> tuple[str, ...]:
        """Text of the post and its reply that no page of a non-reader may show."""
        return (self.title, f"本周{self.word}报价", f"{self.reply_word}方面已核实")


POSTS = {
    "all": PostSpec("钛白粉", "钨精矿", "market", replier="compliance"),
    "department": PostSpec(
        "稀土永磁", "氢燃料", "market", "department", replier="colleague"
    ),
    "departments": PostSpec(
        "碳纤维",
        "磷酸铁",
        "market",
        "departments",
        audience=("授信审批部",),
        replier="approver",
    ),
    "risk": PostSpec(
        "光刻胶",
        "钴盐",
        "risk",
        "department",
        severity="medium",
        replier="risk_officer",
    ),
    "anonymous": PostSpec(
        "多晶硅",
        "芯片封测",
        "risk",
        severity="high",
        anonymous=True,
        replier="risk_officer",
    ),
    "hidden": PostSpec("锂辉石", "沥青", "market", replier="colleague", hidden=True),
}
POST_KEYS = tuple(POSTS)

# Who may read which post: 1 = visible, 0 = must look as if it did not exist.
# The colleague shares the author's department, so the department-only risk
# signal reaches them too. Risk staff read every risk signal.
# fmt: off
VISIBLE = {
    #                all  department  departments  risk  anonymous  hidden
    "author":       (1,   1,          1,           1,    0,         0),
    "colleague":    (1,   1,          0,           1,    0,         0),
    "approver":     (1,   0,          1,           0,    0,         0),
    "compliance":   (1,   0,          0,           0,    0,         0),
    "risk_officer": (1,   0,          0,           1,    1,         0),
    "admin":        (1,   1,          1,           1,    1,         1),
}
# fmt: on

# The risk board lists every readable risk signal for risk staff and admins,
# and only the signals they wrote in their own name for everyone else.
RISK_BOARD = {
    "author": {"risk"},
    "colleague": set(),
    "approver": set(),
    "compliance": set(),
    "risk_officer": {"risk", "anonymous"},
    "admin": {"risk", "anonymous"},
}


def visible(reader: str) -> set[str]:
    return {key for key, seen in zip(POST_KEYS, VISIBLE[reader], strict=True) if seen}


def searchable(reader: str) -> set[str]:
    """Hidden posts have no search entry, so not even admins find them."""
    return {key for key in visible(reader) if not POSTS[key].hidden}


@dataclass
class Forum:
    """The table's accounts, posts and replies, with a signed-in client per reader."""

    app: Flask
    user_ids: dict[str, int]
    post_ids: dict[str, int]
    reply_ids: dict[str, int]
    clients: dict[str, FlaskClient]
    tokens: dict[str, str]
    corporate_department_id: int
    missing_post_id: int
    missing_reply_id: int

    def key_of(self, post_id: int) -> str:
        for key, known in self.post_ids.items():
            if known == post_id:
                return key
        return f"unknown post {post_id}"

    def keys_of(self, post_ids) -> set[str]:
        return {self.key_of(int(post_id)) for post_id in post_ids}


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _department(name: str) -> Department:
    return db.session.scalar(select(Department).where(Department.name == name))


def _prepare_readers() -> None:
    """Mark the risk department, give everyone an address and daily follows."""
    _department(RISK_DEPARTMENT).handles_risk = True
    for username in READERS:
        user = _user(username)
        user.email = f"{username}@bank.example"
        for kind, target in (
            ("type", "market"),
            ("type", "risk"),
            ("tag", TAG),
            ("industry", INDUSTRY),
        ):
            notifications.follow(db.session, user, kind, target, "daily")
    db.session.commit()


def _write_post(spec: PostSpec, body_max: int) -> int:
    data = services.PostInput(
        title=spec.title,
        body_md=spec.body,
        signal_type=spec.signal_type,
        visibility=spec.visibility,
        audience_ids=[_department(name).id for name in spec.audience],
        industry_codes=[INDUSTRY],
        tags=[TAG],
        severity=spec.severity,
    )
    if spec.anonymous:
        post, _code = services.create_anonymous_report(
            db.session, data, body_max, per_hour=100
        )
    else:
        post = services.create_post(db.session, data, _user("author"), body_max)
    db.session.commit()
    return post.id


def _write_reply(post_id: int, spec: PostSpec, body_max: int) -> int:
    post = db.session.get(Post, post_id)
    reply = services.add_reply(
        db.session, post, spec.reply_body, _user(spec.replier), body_max
    )
    db.session.commit()
    return reply.id


@pytest.fixture(scope="module")
def matrix_app(migrated_db, tmp_path_factory):
    """One application for the whole module, set up like the ``app`` fixture.

    Building the table takes seconds (password hashing, indexing), so the module
    builds it once. No test changes what another one checks: page views only
    count readers, only the inbox test looks at read marks, and the actions
    test runs last because an action the app wrongly allows changes the table.
    """
    with module_app(migrated_db, tmp_path_factory, "matrix") as app:
        yield app


@pytest.fixture(scope="module")
def forum(matrix_app) -> Forum:
    """Write the table's posts and replies, then hide the hidden one.

    Everyone follows the signal types, the tag and the industry of the posts
    before they are written, and every subscription is delivered daily, so the
    inbox and the digest would list every post that reaches a reader.
    """
    app = matrix_app
    body_max = app.config["KB_BODY_MAX_CHARS"]
    with app.app_context():
        user_ids = {}
        for username, reader in READERS.items():
            user = create_user(
                db.session,
                username,
                PASSWORD,
                reader.role,
                reader.department,
                reader.display_name,
            )
            db.session.commit()
            user_ids[username] = user.id
        _prepare_readers()
        post_ids = {key: _write_post(spec, body_max) for key, spec in POSTS.items()}
        # Writing a post follows it with the default delivery. Those follows
        # become daily too, so the author's reply notifications reach the digest.
        db.session.execute(update(Subscription).values(delivery="daily"))
        db.session.commit()
        reply_ids = {
            key: _write_reply(post_ids[key], spec, body_max)
            for key, spec in POSTS.items()
        }
        for key, spec in POSTS.items():
            if spec.hidden:
                post = db.session.get(Post, post_ids[key])
                services.hide_post(db.session, post, _user("admin"), "重复发布")
        db.session.commit()
        corporate_department_id = _department("公司金融部").id
    clients = {}
    tokens = {}
    for username in READERS:
        client = app.test_client()
        response = login(client, username)
        assert response.status_code == 302, f"{username} could not sign in"
        clients[username] = client
        tokens[username] = csrf_token(client, "/forum/")
    return Forum(
        app=app,
        user_ids=user_ids,
        post_ids=post_ids,
        reply_ids=reply_ids,
        clients=clients,
        tokens=tokens,
        corporate_department_id=corporate_department_id,
        missing_post_id=max(post_ids.values()) + 1000,
        missing_reply_id=max(reply_ids.values()) + 1000,
    )


# -- helpers ------------------------------------------------------------------

POST_LINK_RE = re.compile(r'href="/forum/(\d+)"')
ROW_RE = re.compile(r'data-post-id="(\d+)"')
TOTAL_RE = re.compile(r"共 (\d+) 条")
RESULTS_RE = re.compile(r"找到 (\d+) 条结果")
BADGE_RE = re.compile(r'<span class="badge" aria-label="未读">(\d+)</span>')
TAG_RE = re.compile(r"<[^>]+>")
CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+')


def _text(response) -> str:
    return response.get_data(as_text=True)


def _comparable(page: str, path: str) -> str:
    """Return ``page`` with its own path and the signed, timed CSRF tokens masked."""
    page = CSRF_VALUE_RE.sub(r"\1TOKEN", page)
    return page.replace(path, "PATH")


def _plain(page: str) -> str:
    """Page text without markup, so a highlighted snippet reads as one string."""
    return TAG_RE.sub("", page)


def _leaks(text: str, keys) -> list[str]:
    """Return the traces of the posts ``keys`` that occur in ``text``."""
    return [trace for key in keys for trace in POSTS[key].traces if trace in text]


def _total(page: str) -> int | None:
    match = TOTAL_RE.search(page)
    return int(match.group(1)) if match else None


def _post(forum: Forum, reader: str, path: str, data: dict | None = None):
    fields = {"csrf_token": forum.tokens[reader], **(data or {})}
    return forum.clients[reader].post(path, data=fields)


def _request(forum: Forum, reader: str, method: str, path: str, data: dict):
    if method == "GET":
        return forum.clients[reader].get(path)
    return _post(forum, reader, path, data)


def _unseen_actions(post_id: int, reply_id: int) -> list[tuple[str, str, dict]]:
    """Every URL that reads or changes a post or its reply, with harmful input."""
    return [
        ("GET", f"/forum/{post_id}/edit", {}),
        (
            "POST",
            f"/forum/{post_id}/edit",
            {
                "title": "越权修改",
                "body_md": "越权修改",
                "signal_type": "market",
                "visibility": "all",
            },
        ),
        ("GET", f"/forum/{post_id}/revisions", {}),
        ("POST", f"/forum/{post_id}/useful", {}),
        ("POST", f"/forum/{post_id}/replies", {"body_md": "越权回复"}),
        ("POST", f"/forum/{post_id}/status", {"status": "handling", "note": "越权"}),
        ("POST", f"/forum/{post_id}/hide", {"reason": "越权隐藏"}),
        ("POST", f"/forum/{post_id}/unhide", {}),
        ("GET", f"/forum/replies/{reply_id}/edit", {}),
        ("POST", f"/forum/replies/{reply_id}/edit", {"body_md": "越权修改"}),
        ("GET", f"/forum/replies/{reply_id}/revisions", {}),
        ("POST", f"/forum/replies/{reply_id}/useful", {}),
        ("POST", f"/forum/replies/{reply_id}/hide", {"reason": "越权隐藏"}),
        ("POST", f"/forum/replies/{reply_id}/unhide", {}),
        ("POST", "/notifications/follow", {"kind": "post", "target": str(post_id)}),
    ]


def _seen_actions(
    reader: str, key: str, post_id: int, reply_id: int
) -> list[tuple[str, str, dict, int]]:
    """URLs on a readable post, with input that changes nothing, and their status.

    Permission is checked only after the post is found, so a reader who may see
    the post but not act on it gets 403.
    """
    spec = POSTS[key]
    is_admin = reader == "admin"
    may_edit = is_admin or (reader == "author" and not spec.anonymous)
    may_edit_reply = is_admin or reader == spec.replier
    handles_risk = spec.signal_type == "risk" and reader in ("risk_officer", "admin")
    actions = [
        ("GET", f"/forum/{post_id}/edit", {}, 200 if may_edit else 403),
        ("GET", f"/forum/{post_id}/revisions", {}, 200),
        ("GET", f"/forum/replies/{reply_id}/edit", {}, 200 if may_edit_reply else 403),
        ("GET", f"/forum/replies/{reply_id}/revisions", {}, 200),
        # Risk staff and admins get 400 for an invalid status, everyone else 403.
        (
            "POST",
            f"/forum/{post_id}/status",
            {"status": "bogus"},
            400 if handles_risk else 403,
        ),
        # An admin who hides without a reason gets a message and a redirect.
        ("POST", f"/forum/{post_id}/hide", {"reason": ""}, 302 if is_admin else 403),
    ]
    if not is_admin:
        actions.append(("POST", f"/forum/{post_id}/unhide", {}, 403))
    if not spec.hidden:
        # An empty reply comes back with a message. A hidden post takes no replies.
        actions.append(("POST", f"/forum/{post_id}/replies", {"body_md": ""}, 400))
    return actions


# -- tests ----------------------------------------------------------------------
# Order matters: the inbox test marks notifications read, and the actions test
# runs last because an action the app wrongly allows changes the table.


def test_table_is_complete():
    assert set(VISIBLE) == set(READERS) == set(RISK_BOARD)
    assert all(len(row) == len(POST_KEYS) for row in VISIBLE.values())
    characters = [
        char for spec in POSTS.values() for char in spec.word + spec.reply_word
    ]
    assert len(characters) == len(set(characters)), "two words share a character"
    frame = PostSpec("", "", "market")
    fixed_text = frame.title + frame.body + frame.reply_body + TAG + INDUSTRY_NAME
    assert set(characters).isdisjoint(fixed_text), "a word shares the fixed text"


def test_unseen_post_page_is_404(forum, subtests):
    for reader in READERS:
        client = forum.clients[reader]
        missing_path = f"/forum/{forum.missing_post_id}"
        missing = client.get(missing_path)
        assert missing.status_code == 404
        missing_page = _comparable(_text(missing), missing_path)
        for key, spec in POSTS.items():
            path = f"/forum/{forum.post_ids[key]}"
            with subtests.test(reader=reader, post=key, path=path):
                response = client.get(path)
                page = _text(response)
                if key in visible(reader):
                    assert response.status_code == 200
                    assert spec.title in page
                    assert spec.reply_body in _plain(page)
                else:
                    assert response.status_code == 404, "must look nonexistent"
                    assert _leaks(_plain(page), [key]) == []
                    assert spec.reply_word not in page
                    assert _comparable(page, path) == missing_page


def _list_filters(forum: Forum) -> list[tuple[dict, set[str]]]:
    """List filters and the posts of the table each one matches for an admin."""
    every = set(POST_KEYS)
    market = {key for key in POST_KEYS if POSTS[key].signal_type == "market"}
    return [
        ({}, every),
        ({"type": "market"}, market),
        ({"type": "risk"}, every - market),
        ({"industry": INDUSTRY}, every),
        ({"industry": SECTION}, every),
        ({"tag": TAG}, every),
        ({"department": str(forum.corporate_department_id)}, every - {"anonymous"}),
        # Every post has a reply, hidden or not.
        ({"unanswered": "1"}, set()),
    ]


def test_lists_count_visible_posts(forum, subtests):
    for reader in READERS:
        client = forum.clients[reader]
        unseen = set(POST_KEYS) - visible(reader)
        for args, matching in _list_filters(forum):
            expected = matching & visible(reader)

            with subtests.test(reader=reader, path="/forum/", args=args):
                response = client.get("/forum/", query_string=args)
                page = _text(response)
                assert response.status_code == 200
                assert forum.keys_of(POST_LINK_RE.findall(page)) == expected
                assert _total(page) == len(expected)
                assert _leaks(_plain(page), unseen) == []

            with subtests.test(reader=reader, path="/api/v1/posts", args=args):
                response = client.get(
                    "/api/v1/posts", query_string={**args, "per_page": 100}
                )
                assert response.status_code == 200
                body = response.get_json()
                assert forum.keys_of(item["id"] for item in body["posts"]) == expected
                assert body["total"] == len(expected)

        with subtests.test(reader=reader, path="/"):
            page = _text(client.get("/"))
            assert forum.keys_of(POST_LINK_RE.findall(page)) == visible(reader)
            assert _leaks(_plain(page), unseen) == []


def test_post_api_matches_missing_post(forum, subtests):
    for reader in READERS:
        client = forum.clients[reader]
        missing = client.get(f"/api/v1/posts/{forum.missing_post_id}")
        assert missing.status_code == 404
        for key, spec in POSTS.items():
            path = f"/api/v1/posts/{forum.post_ids[key]}"
            with subtests.test(reader=reader, post=key, path=path):
                response = client.get(path)
                if key in visible(reader):
                    assert response.status_code == 200
                    body = response.get_json()
                    assert body["title"] == spec.title
                    assert [item["id"] for item in body["replies"]] == [
                        forum.reply_ids[key]
                    ]
                else:
                    assert response.status_code == 404, "must look nonexistent"
                    assert response.get_json() == missing.get_json()


def _search_page(client, query: dict) -> str:
    response = client.get("/search/", query_string=query)
    assert response.status_code == 200
    return _text(response)


def _search_api(client, query: dict) -> dict:
    response = client.get("/api/v1/search", query_string={**query, "per_page": 100})
    assert response.status_code == 200
    return response.get_json()


def test_search_finds_visible_entries(forum, subtests):
    for reader in READERS:
        client = forum.clients[reader]
        unfound = set(POST_KEYS) - searchable(reader)
        for key, spec in POSTS.items():
            post_id = forum.post_ids[key]
            reply_id = forum.reply_ids[key]
            found = key in searchable(reader)
            for word, kind, record_id, url in (
                (spec.word, "post", post_id, f"/forum/{post_id}"),
                (
                    spec.reply_word,
                    "reply",
                    reply_id,
                    f"/forum/{post_id}#reply-{reply_id}",
                ),
            ):
                with subtests.test(reader=reader, post=key, path=f"/search/?q={word}"):
                    page = _search_page(client, {"q": word})
                    if found:
                        assert RESULTS_RE.search(page).group(1) == "1"
                        assert f'href="{url}"' in page
                        assert f"<mark>{word}</mark>" in page
                    else:
                        assert "没有找到" in page
                        assert "<mark>" not in page
                        assert f'href="/forum/{post_id}' not in page
                    assert _leaks(_plain(page), unfound) == []

                path = f"/api/v1/search?q={word}"
                with subtests.test(reader=reader, post=key, path=path):
                    body = _search_api(client, {"q": word})
                    if found:
                        assert body["total"] == 1
                        assert [(r["type"], r["id"]) for r in body["results"]] == [
                            (kind, record_id)
                        ]
                        # A reply is listed under its post's title.
                        assert body["results"][0]["title"] == spec.title
                        assert word in _plain(body["results"][0]["snippet"])
                    else:
                        assert body["total"] == 0
                        assert body["results"] == []
                    dumped = json.dumps(body, ensure_ascii=False)
                    assert _leaks(_plain(dumped), unfound) == []


def test_search_filters_list_visible_entries(forum, subtests):
    """A search by tag, industry or type alone lists and counts entries."""
    for reader in READERS:
        client = forum.clients[reader]
        expected = searchable(reader)
        unfound = set(POST_KEYS) - expected
        expected_replies = {forum.reply_ids[key] for key in expected}
        for facet in ({}, {"tag": TAG}, {"industry": INDUSTRY}, {"industry": SECTION}):
            with subtests.test(reader=reader, path="/api/v1/search", args=facet):
                posts = _search_api(client, {**facet, "type": "post"})
                assert forum.keys_of(r["id"] for r in posts["results"]) == expected
                assert posts["total"] == len(expected)
                replies = _search_api(client, {**facet, "type": "reply"})
                assert {r["id"] for r in replies["results"]} == expected_replies
                assert replies["total"] == len(expected)
                dumped = json.dumps([posts, replies], ensure_ascii=False)
                assert _leaks(_plain(dumped), unfound) == []

            # Without words or a facet the page shows a hint instead of results.
            if facet:
                with subtests.test(reader=reader, path="/search/", args=facet):
                    page = _search_page(client, facet)
                    match = RESULTS_RE.search(page)
                    count = int(match.group(1)) if match else 0
                    assert count == 2 * len(expected), "a post and a reply each"
                    assert _leaks(_plain(page), unfound) == []


def test_risk_board_scope_per_reader(forum, subtests):
    risk_keys = {key for key in POST_KEYS if POSTS[key].signal_type == "risk"}
    for reader in READERS:
        client = forum.clients[reader]
        for args in ({}, {"status": "all"}, {"department": "anonymous"}):
            expected = RISK_BOARD[reader]
            if args.get("department") == "anonymous":
                expected = expected & {"anonymous"}
            with subtests.test(reader=reader, path="/risk/", args=args):
                response = client.get("/risk/", query_string=args)
                page = _text(response)
                assert response.status_code == 200
                assert forum.keys_of(ROW_RE.findall(page)) == expected
                for severity in ("high", "medium", "low"):
                    match = re.search(rf'data-severity="{severity}">(\d+)<', page)
                    listed = [
                        key for key in expected if POSTS[key].severity == severity
                    ]
                    assert int(match.group(1)) == len(listed), severity
                assert _leaks(_plain(page), risk_keys - expected) == []


def test_digest_collects_visible_posts(forum, subtests):
    with forum.app.app_context():
        digests = {
            digest.user.username: [item.post.id for item in digest.items]
            for digest in collect(db.session)
        }
    for reader in READERS:
        with subtests.test(reader=reader, path="digest.collect"):
            post_ids = digests.get(reader, [])
            assert forum.keys_of(post_ids) == visible(reader)
            assert len(post_ids) == len(visible(reader)), "one item per post"

    result = forum.app.test_cli_runner().invoke(args=["digest", "send", "--dry-run"])
    assert result.exit_code == 0, result.output
    for reader in READERS:
        with subtests.test(reader=reader, path="kb digest send --dry-run"):
            line = (
                f"{reader} (user {forum.user_ids[reader]}): "
                f"{len(visible(reader))} notifications"
            )
            assert line in result.output


def _notification_rows(forum: Forum, reader: str) -> list[tuple[int, int]]:
    """Return (notification id, post id) of every notification of ``reader``."""
    with forum.app.app_context():
        rows = db.session.execute(
            select(Notification.id, Notification.post_id)
            .where(Notification.user_id == forum.user_ids[reader])
            .order_by(Notification.id)
        )
        return [(notification_id, post_id) for notification_id, post_id in rows]


def _followed(reader: str) -> set[str]:
    """Return the posts ``reader`` follows, since writing or replying follows a post."""
    return {
        key
        for key, spec in POSTS.items()
        if spec.replier == reader or (reader == "author" and not spec.anonymous)
    }


def test_subscriptions_hide_unseen_titles(forum, subtests):
    for reader in READERS:
        page = _text(forum.clients[reader].get("/notifications/subscriptions"))
        unseen = set(POST_KEYS) - visible(reader)
        with subtests.test(reader=reader, path="/notifications/subscriptions"):
            for key in _followed(reader) & visible(reader):
                assert POSTS[key].title in page, key
            assert _leaks(_plain(page), unseen) == []
            follows_unseen = bool(_followed(reader) & unseen)
            assert ("不可见的帖子" in page) == follows_unseen


def test_inbox_and_badge_count_visible_posts(forum, subtests):
    for reader in READERS:
        client = forum.clients[reader]
        rows = _notification_rows(forum, reader)
        with subtests.test(reader=reader, path="notification rows"):
            # The hidden post was open to all until an admin hid it.
            notified = forum.keys_of(post_id for _id, post_id in rows)
            assert notified == visible(reader) | {"hidden"}

        with subtests.test(reader=reader, path="/notifications/"):
            page = _text(client.get("/notifications/"))
            assert _total(page) == len(visible(reader))
            badge = BADGE_RE.search(page)
            assert badge is not None
            assert int(badge.group(1)) == len(visible(reader))
            for key, spec in POSTS.items():
                assert (spec.title in page) == (key in visible(reader)), key
            assert _leaks(_plain(page), set(POST_KEYS) - visible(reader)) == []

        for notification_id, post_id in rows:
            key = forum.key_of(post_id)
            path = f"/notifications/{notification_id}"
            with subtests.test(reader=reader, post=key, path=path):
                response = client.get(path)
                if key in visible(reader):
                    assert response.status_code == 302
                    location = response.headers["Location"]
                    assert re.search(rf"/forum/{post_id}(#reply-\d+)?$", location)
                else:
                    assert response.status_code == 404, "must look nonexistent"
                    assert _leaks(_plain(_text(response)), [key]) == []

        with subtests.test(reader=reader, path="badge after opening every entry"):
            page = _text(client.get("/notifications/"))
            assert BADGE_RE.search(page) is None

    for reader in READERS:
        for owner in READERS:
            if owner == reader:
                continue
            for notification_id, _post_id in _notification_rows(forum, owner):
                path = f"/notifications/{notification_id}"
                with subtests.test(reader=reader, owner=owner, path=path):
                    response = forum.clients[reader].get(path)
                    assert response.status_code == 404


def test_unseen_post_actions_are_404(forum, subtests):
    for reader in READERS:
        for key in POST_KEYS:
            post_id = forum.post_ids[key]
            reply_id = forum.reply_ids[key]
            if key in visible(reader):
                for method, path, data, status in _seen_actions(
                    reader, key, post_id, reply_id
                ):
                    with subtests.test(
                        reader=reader, post=key, path=f"{method} {path}"
                    ):
                        response = _request(forum, reader, method, path, data)
                        assert response.status_code == status
                continue
            missing = _unseen_actions(forum.missing_post_id, forum.missing_reply_id)
            for (method, path, data), (_method, missing_path, missing_data) in zip(
                _unseen_actions(post_id, reply_id), missing, strict=True
            ):
                with subtests.test(reader=reader, post=key, path=f"{method} {path}"):
                    response = _request(forum, reader, method, path, data)
                    assert response.status_code == 404, "must look nonexistent"
                    page = _plain(_text(response))
                    assert _leaks(page, [key]) == []
                    answer = _request(forum, reader, method, missing_path, missing_data)
                    assert page.replace(path, "PATH") == _plain(_text(answer)).replace(
                        missing_path, "PATH"
                    )
