"""Benchmark the forum's reading paths on a large SQLite database.

Run from the repository root:

    .venv/bin/python -m bench.forum                 # 100,000 posts
    .venv/bin/python -m bench.forum --posts 20000

Posts, their audiences and notifications are inserted with plain SQL (no search
indexing, which bench.search measures), a third of them restricted to one or
two departments. Every path then runs through the Flask test client as a
signed-in reader of one department, so the visibility rule of kb.forum.access
is part of every figure:

* the newest page of /forum/ and the same page filtered by type and industry;
* deep pages reached by following the "older" cursor 25 times;
* /api/v1/posts page 1 and page 200 (offset paging);
* a post page with 20 replies;
* the unread count that every page shows in the header, with 2,000
  notifications in the reader's inbox.

The report goes to standard output.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta

from sqlalchemy import insert

from kb import create_app
from kb.auth.services import create_user
from kb.extensions import db
from kb.forum.models import Post, Reply, post_audience, post_industry
from kb.notifications.models import Notification

DEPARTMENTS = ("公司金融部", "授信审批部", "风险管理部", "合规部", "交易银行部")
INDUSTRIES = ("31", "36", "44", "51", "54", "66", "70")
TYPES = ("market", "competitor", "policy", "lead", "risk")
PASSWORD = "bench-password-123"
ROUNDS = 30


def _populate(app, posts: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    with app.app_context():
        users = [
            create_user(db.session, f"user{i}", PASSWORD, "staff", name, f"员工{i}")
            for i, name in enumerate(DEPARTMENTS)
        ]
        db.session.commit()
        departments = [user.department_id for user in users]
        start = datetime(2026, 1, 1)
        rows, audience, industries = [], [], []
        for number in range(1, posts + 1):
            author = rng.choice(users)
            signal_type = rng.choice(TYPES)
            roll = rng.random()
            if roll < 0.66:
                visibility = "all"
            elif roll < 0.9:
                visibility = "department"
            else:
                visibility = "departments"
            # Many posts share a timestamp, as an import or a busy minute would.
            created = start + timedelta(minutes=number // 3)
            rows.append(
                {
                    "id": number,
                    "title": f"市场信号 {number}",
                    "body_md": "正文",
                    "body_html": "<p>正文</p>",
                    "signal_type": signal_type,
                    "visibility": visibility,
                    "author_id": author.id,
                    "author_department_id": author.department_id,
                    "anonymous": False,
                    "severity": "high" if signal_type == "risk" else None,
                    "status": "open" if signal_type == "risk" else None,
                    "outcome_note": "",
                    "hidden": number % 500 == 0,
                    "hidden_reason": "",
                    "view_count": 0,
                    "useful_count": 0,
                    "reply_count": rng.randint(0, 3),
                    "revision_count": 1,
                    "created_at": created,
                    "updated_at": created,
                    "last_activity_at": created,
                }
            )
            if visibility == "department":
                audience.append(
                    {"post_id": number, "department_id": author.department_id}
                )
            elif visibility == "departments":
                for department in rng.sample(departments, 2):
                    audience.append({"post_id": number, "department_id": department})
            industries.append(
                {"post_id": number, "industry_code": rng.choice(INDUSTRIES)}
            )
        with db.engine.begin() as connection:
            for table, chunk in (
                (Post.__table__, rows),
                (post_audience, audience),
                (post_industry, industries),
            ):
                for i in range(0, len(chunk), 5000):
                    connection.execute(insert(table), chunk[i : i + 5000])
            reader = users[1]
            replies = [
                {
                    "post_id": 1,
                    "author_id": users[k % len(users)].id,
                    "from_reporter": False,
                    "body_md": f"回复 {k}",
                    "body_html": f"<p>回复 {k}</p>",
                    "useful_count": 0,
                    "revision_count": 1,
                    "hidden": False,
                    "hidden_reason": "",
                    "created_at": start,
                    "updated_at": start,
                }
                for k in range(20)
            ]
            connection.execute(insert(Reply.__table__), replies)
            notes = [
                {
                    "user_id": reader.id,
                    "event": "post",
                    "post_id": rng.randint(1, posts),
                    "reason": "type:market",
                    "delivery": "immediate",
                    "created_at": start,
                    "read_at": None if k % 4 else start,
                }
                for k in range(2000)
            ]
            connection.execute(insert(Notification.__table__), notes)
        return reader.id, posts


def _time(client, path: str) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def _deep_cursor(client, pages: int) -> str:
    path = "/forum/"
    for _ in range(pages):
        page = client.get(path).get_data(as_text=True)
        older = re.search(r'href="([^"]*before=[^"]*)" rel="next"', page)
        path = older.group(1).replace("&amp;", "&")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-bench-forum-") as folder:
        app = create_app(
            {"ENV": "testing", "INSTANCE_PATH": folder, "KB_SEARCH_BACKGROUND": False}
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        began = time.perf_counter()
        _populate(app, args.posts, args.seed)
        filled = time.perf_counter() - began
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
        client.post(
            "/login",
            data={"username": "user1", "password": PASSWORD, "csrf_token": token},
        )
        deep = _deep_cursor(client, 25)
        paths = {
            "/forum/ newest page": "/forum/",
            "/forum/?type=lead&industry=C": "/forum/?type=lead&industry=C",
            "/forum/ page 26 by cursor": deep,
            "/api/v1/posts page 1": "/api/v1/posts",
            "/api/v1/posts page 200": "/api/v1/posts?page=200",
            "/forum/1 with 20 replies": "/forum/1",
            "/notifications/ (2,000 entries)": "/notifications/",
        }
        print(f"# forum read paths, {args.posts:,} posts (filled in {filled:.1f} s)")
        machine = platform.processor() or platform.machine()
        print(
            f"machine: {machine}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, SQLite file"
        )
        print(f"{'path':40} {'p50 ms':>8} {'p95 ms':>8}")
        for label, path in paths.items():
            samples = sorted(_time(client, path))
            p95 = samples[int(len(samples) * 0.95) - 1]
            print(f"{label:40} {statistics.median(samples):8.1f} {p95:8.1f}")
        app.extensions["kb_indexer"].engine.close()


if __name__ == "__main__":
    main()
