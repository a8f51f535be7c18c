"""What a web request does with the search outbox after it commits."""

import shutil

from sqlalchemy import func, select

from kb.extensions import db
from kb.forum.models import Post
from kb.search.models import SearchOutbox
from tests.conftest import csrf_token
from tests.forum.conftest import sign_in


def publish(client, title: str):
    token = csrf_token(client, "/forum/new")
    return client.post(
        "/forum/new",
        data={
            "csrf_token": token,
            "signal_type": "market",
            "visibility": "all",
            "title": title,
            "body_md": "港口吞吐量回升。",
            "tags": "",
        },
    )


def post_ids(app, title: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Post.id).where(Post.title == title)))


def test_follower_mode_leaves_the_outbox_to_the_follower(app, client, people):
    app.config["KB_SEARCH_FOLLOWER"] = True
    indexer = app.extensions["kb_indexer"]
    before = indexer.applied_seq()
    sign_in(client, "corp")
    assert publish(client, "集装箱运价回落").status_code == 302
    [post_id] = post_ids(app, "集装箱运价回落")
    assert indexer.applied_seq() == before
    assert indexer.engine.search("集装箱", acl=None).hits == []

    # What `kb search follow` does on its next look.
    assert indexer.apply_pending() >= 1
    hits = indexer.engine.search("集装箱", acl=None).hits
    assert [hit.doc_id for hit in hits] == [f"post:{post_id}"]


def test_failed_index_write_keeps_the_post(app, client, people):
    indexer = app.extensions["kb_indexer"]
    sign_in(client, "corp")
    before = indexer.applied_seq()
    # Replace the index folder by a file, so the next index write fails.
    whoosh = indexer.engine.path
    shutil.rmtree(whoosh)
    whoosh.write_text("not an index")
    response = publish(client, "干散货指数上行")
    assert response.status_code == 302
    [post_id] = post_ids(app, "干散货指数上行")
    assert response.headers["Location"].endswith(f"/forum/{post_id}")
    assert indexer.applied_seq() == before
    with app.app_context():
        pending = db.session.scalar(
            select(func.count())
            .select_from(SearchOutbox)
            .where(SearchOutbox.seq > before)
        )
    assert pending >= 1
