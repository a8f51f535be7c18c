"""Concurrent page views that write (access log, view counts) to one database."""

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from werkzeug.serving import make_server

from kb.clients import services
from kb.extensions import db
from kb.forum.models import Post
from tests.clients.factories import make_client
from tests.conftest import PASSWORD
from tests.forum.conftest import write_post

READERS = ("corp", "corp2", "credit", "risk", "admin", "corp")
ROUNDS = 10


@pytest.fixture
def server(app):
    app.config["SERVER_NAME"] = None
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def _signed_in(base: str, username: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login") as response:
        page = response.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode()).close()
    return opener


def _status(opener, url: str) -> int:
    try:
        with opener.open(url) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_simultaneous_briefings_and_posts_never_fail(app, people, server):
    post_id = write_post(app, "corp", title="并发阅读")
    with app.app_context():
        target = make_client("并发测试有限公司", 71)
        services.set_post_clients(db.session, db.session.get(Post, post_id), [target])
        db.session.commit()
        code = target.credit_code
    openers = [_signed_in(server, name) for name in READERS]
    statuses: list[int] = []

    def read(opener):
        for _ in range(ROUNDS):
            statuses.append(_status(opener, f"{server}/clients/{code}"))
            statuses.append(_status(opener, f"{server}/forum/{post_id}"))

    threads = [threading.Thread(target=read, args=(o,)) for o in openers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(statuses) == {200: len(READERS) * ROUNDS * 2}
    with app.app_context():
        from kb.clients.models import ClientAccess

        assert db.session.query(ClientAccess).count() == len(READERS) * ROUNDS
