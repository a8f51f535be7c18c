"""Benchmark the ranking of people on a large SQLite database.

Run from the repository root:

    .venv/bin/python -m bench.people                  # 2,000 people
    .venv/bin/python -m bench.people --users 5000 --items 50000

The database gets ``--users`` people in five departments and ``--items``
briefs and forum posts, half each. A quarter of the posts are restricted to
one department, and every third post has a "useful" mark. It also gets
questions with accepted answers, declared industries and skills for a third
of the people, and endorsements. Rows are inserted with plain SQL (no search indexing).

kb.experts.evidence.rank_people then runs directly, first page of 20, for:

* one industry division (36), one skill, and free text that names an
  industry ("汽车");
* the unfiltered directory (everyone with evidence or a declaration).

The report goes to standard output.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from kb import create_app
from kb.articles.models import Article, article_industry, article_tag
from kb.auth.models import Department, User
from kb.experts.evidence import rank_people
from kb.experts.models import Endorsement, ExpertiseIndustry, ExpertiseSkill, Skill
from kb.extensions import db
from kb.forum.models import Post, UsefulMark, post_industry
from kb.questions.models import Answer, Question, question_industry
from kb.taxonomy.models import Tag

DEPARTMENTS = ("公司金融部", "授信审批部", "风险管理部", "合规部", "交易银行部")
INDUSTRIES = ("31", "36", "44", "51", "54", "66", "70", "C", "D")
SKILLS = ("供应链金融", "跨境结算", "票据业务", "绿色金融", "并购贷款")
ROUNDS = 30


def _chunks(connection, table, rows) -> None:
    for i in range(0, len(rows), 5000):
        connection.execute(insert(table), rows[i : i + 5000])


def _populate(app, users: int, items: int, seed: int) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    with app.app_context(), db.engine.begin() as connection:
        _chunks(
            connection,
            Department.__table__,
            [{"id": i + 1, "name": name} for i, name in enumerate(DEPARTMENTS)],
        )
        _chunks(
            connection,
            User.__table__,
            [
                {
                    "id": i,
                    "username": f"user{i}",
                    "display_name": f"员工{i}",
                    "password_hash": "x",
                    "department_id": i % len(DEPARTMENTS) + 1,
                    "active": i % 50 != 0,
                }
                for i in range(1, users + 1)
            ],
        )
        _chunks(
            connection,
            Skill.__table__,
            [{"id": i + 1, "name": name} for i, name in enumerate(SKILLS)],
        )
        _chunks(
            connection,
            Tag.__table__,
            [{"id": i + 1, "name": name} for i, name in enumerate(SKILLS)],
        )
        briefs, brief_industries, brief_tags = [], [], []
        posts, post_industries, marks = [], [], []
        for number in range(1, items // 2 + 1):
            author = rng.randint(1, users)
            created = start + timedelta(minutes=number)
            briefs.append(
                {
                    "id": number,
                    "title": f"简报 {number}",
                    "body_md": "正文",
                    "body_html": "<p>正文</p>",
                    "published_at": created,
                    "author_id": author,
                }
            )
            brief_industries.append(
                {"article_id": number, "industry_code": rng.choice(INDUSTRIES)}
            )
            if number % 4 == 0:
                brief_tags.append({"article_id": number, "tag_id": rng.randint(1, 5)})
            author = rng.randint(1, users)
            posts.append(
                {
                    "id": number,
                    "title": f"信号 {number}",
                    "body_md": "正文",
                    "body_html": "<p>正文</p>",
                    "signal_type": "market",
                    "visibility": "department" if number % 4 == 0 else "all",
                    "author_id": author,
                    "author_department_id": author % len(DEPARTMENTS) + 1,
                    "created_at": created,
                }
            )
            post_industries.append(
                {"post_id": number, "industry_code": rng.choice(INDUSTRIES)}
            )
            if number % 3 == 0:
                marks.append({"user_id": rng.randint(1, users), "post_id": number})
        _chunks(connection, Article.__table__, briefs)
        _chunks(connection, article_industry, brief_industries)
        _chunks(connection, article_tag, brief_tags)
        _chunks(connection, Post.__table__, posts)
        _chunks(connection, post_industry, post_industries)
        _chunks(connection, UsefulMark.__table__, marks)

        questions, answers, question_industries = [], [], []
        for number in range(1, items // 10 + 1):
            questions.append(
                {
                    "id": number,
                    "title": f"问题 {number}",
                    "asker_id": rng.randint(1, users),
                    "status": "answered",
                }
            )
            answers.append(
                {
                    "id": number,
                    "question_id": number,
                    "author_id": rng.randint(1, users),
                    "body_md": "回答",
                    "body_html": "<p>回答</p>",
                    "accepted": True,
                }
            )
            question_industries.append(
                {"question_id": number, "industry_code": rng.choice(INDUSTRIES[:7])}
            )
        _chunks(connection, Question.__table__, questions)
        _chunks(connection, Answer.__table__, answers)
        _chunks(connection, question_industry, question_industries)

        declared_industries, declared_skills, endorsements = [], [], []
        for user_id in range(1, users + 1, 3):
            code = rng.choice(INDUSTRIES[:7])
            skill_id = rng.randint(1, 5)
            declared_industries.append(
                {"user_id": user_id, "industry_code": code, "level": rng.randint(1, 3)}
            )
            declared_skills.append(
                {"user_id": user_id, "skill_id": skill_id, "level": rng.randint(1, 3)}
            )
            endorser = user_id % users + 1
            endorsements.append(
                {"user_id": user_id, "endorser_id": endorser, "skill_id": skill_id}
            )
        _chunks(connection, ExpertiseIndustry.__table__, declared_industries)
        _chunks(connection, ExpertiseSkill.__table__, declared_skills)
        _chunks(connection, Endorsement.__table__, endorsements)


def _time(app, **filters) -> tuple[list[float], int]:
    samples = []
    found = 0
    with app.app_context():
        for _ in range(ROUNDS):
            began = time.perf_counter()
            found = len(rank_people(db.session, limit=20, **filters))
            samples.append((time.perf_counter() - began) * 1000)
            db.session.rollback()
    return samples, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-bench-people-") as folder:
        app = create_app(
            {"ENV": "testing", "INSTANCE_PATH": folder, "KB_SEARCH_BACKGROUND": False}
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        began = time.perf_counter()
        _populate(app, args.users, args.items, args.seed)
        filled = time.perf_counter() - began
        with app.app_context():
            skill_id = db.session.scalar(
                select(Skill.id).where(Skill.name == "跨境结算")
            )
        cases = {
            "industry 36": {"industry_codes": ["36"]},
            "skill 跨境结算": {"skill_ids": [skill_id]},
            "text 汽车": {"text": "汽车"},
            "text 员工12 (a name)": {"text": "员工12"},
            "no filter": {},
        }
        print(
            f"# rank_people, {args.users:,} people, {args.items:,} briefs and posts "
            f"(filled in {filled:.1f} s)"
        )
        machine = platform.processor() or platform.machine()
        print(
            f"machine: {machine}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, SQLite file"
        )
        print(f"{'case':28} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}")
        for label, filters in cases.items():
            samples, found = _time(app, **filters)
            samples.sort()
            p95 = samples[int(len(samples) * 0.95) - 1]
            print(f"{label:28} {statistics.median(samples):8.1f} {p95:8.1f} {found:5}")
        app.extensions["kb_indexer"].engine.close()


if __name__ == "__main__":
    main()
