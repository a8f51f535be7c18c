"""Load the demo departments, accounts and briefs into an empty or existing database."""

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article
from kb.auth.models import User
from kb.auth.services import create_user, get_or_create_department
from kb.clients import services as clients
from kb.demo_content import (
    BRIEFS,
    CLIENTS,
    COURSES,
    DEPARTMENTS,
    ENDORSEMENTS,
    LECTURES,
    POSTS,
    PROFILES,
    QUESTIONS,
    RISK_DEPARTMENTS,
    USERS,
)
from kb.experts import services as experts
from kb.experts.models import ExpertProfile
from kb.forum import services as forum
from kb.forum.models import Post
from kb.questions import services as questions
from kb.questions.models import Question
from kb.timeutil import utcnow
from kb.training import files, lectures
from kb.training import services as training
from kb.training.models import Course, Lecture

# Shared by every demo account; printed by `kb demo load`. Never use demo data
# in production.
DEMO_PASSWORD = "kb-demo-password"


def load_demo(session: Session, body_max: int, instance_path: str) -> str:
    """Create what is missing of the demo data; return a summary with sign-in help."""
    for name in DEPARTMENTS:
        department = get_or_create_department(session, name)
        if name in RISK_DEPARTMENTS:
            department.handles_risk = True
    created_users = 0
    for spec in USERS:
        exists = session.scalar(select(User).where(User.username == spec["username"]))
        if exists is None:
            create_user(
                session,
                spec["username"],
                DEMO_PASSWORD,
                spec["role"],
                spec["department"],
                spec["display_name"],
            ).email = f"{spec['username']}@bank.example"
            created_users += 1
    created_briefs = 0
    for number, spec in enumerate(BRIEFS, start=1):
        key = f"demo:{number}"
        if session.scalar(select(Article.id).where(Article.import_key == key)):
            continue
        author = session.scalar(select(User).where(User.username == spec["author"]))
        data = ArticleInput(
            title=spec["title"],
            body_md=spec["body"],
            summary=spec["summary"],
            industry_codes=list(spec["industries"]),
            tags=list(spec["tags"]),
            published_at=date.fromisoformat(spec["published_on"]),
            source=spec.get("source", ""),
        )
        create_article(session, data, author, body_max, import_key=key)
        created_briefs += 1
    created_posts = _load_posts(session, body_max)
    created_clients = _load_clients(session)
    created_profiles = _load_profiles(session)
    created_questions = _load_questions(session, body_max)
    created_courses = _load_courses(session, instance_path)
    created_lectures = _load_lectures(session)
    accounts = ", ".join(spec["username"] for spec in USERS)
    return (
        f"Demo data: {created_users} accounts, {created_briefs} briefs, "
        f"{created_posts} forum posts, {created_clients} clients, "
        f"{created_profiles} expertise profiles, {created_questions} questions, "
        f"{created_courses} courses and {created_lectures} lectures created.\n"
        f"Sign in at http://127.0.0.1:5000/login as one of: {accounts}\n"
        f"Password for every demo account: {DEMO_PASSWORD}  (administrator: admin)"
    )


def _user(session: Session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _load_posts(session: Session, body_max: int) -> int:
    created = 0
    for spec in POSTS:
        if session.scalar(select(Post.id).where(Post.title == spec["title"])):
            continue
        author = _user(session, spec["author"])
        data = forum.PostInput(
            title=spec["title"],
            body_md=spec["body"],
            signal_type=spec["signal_type"],
            visibility=spec["visibility"],
            industry_codes=list(spec["industries"]),
            tags=list(spec["tags"]),
            severity=spec.get("severity"),
        )
        post = forum.create_post(session, data, author, body_max)
        stamp = utcnow() - timedelta(days=spec["days_ago"])
        post.created_at = post.updated_at = post.last_activity_at = stamp
        for change in post.status_changes:
            change.created_at = stamp
        for number, (username, text) in enumerate(spec["replies"], start=1):
            reply = forum.add_reply(
                session, post, text, _user(session, username), body_max
            )
            reply.created_at = reply.updated_at = stamp + timedelta(hours=number)
        created += 1
    return created


def _load_clients(session: Session) -> int:
    created = 0
    for spec in CLIENTS:
        data = clients.ClientInput(
            name=spec["name"],
            credit_code=spec["credit_code"],
            industry_code=spec["industry"],
            manager_id=_user(session, spec["manager"]).id,
            branch=spec["branch"],
            segment=spec["segment"],
            status=spec["status"],
            products=list(spec["products"]),
            notes=spec["notes"],
        )
        client, outcome = clients.upsert(session, data)
        if outcome != "created":
            continue
        for title in spec["posts"]:
            post = session.scalar(select(Post).where(Post.title == title))
            if post is not None:
                clients.set_post_clients(session, post, [client])
        created += 1
    return created


def _load_profiles(session: Session) -> int:
    created = 0
    for spec in PROFILES:
        user = _user(session, spec["username"])
        if session.get(ExpertProfile, user.id) is not None:
            continue
        experts.set_profile(
            session,
            user,
            spec["headline"],
            spec["bio"],
            industries=spec["industries"],
            skills=spec["skills"],
        )
        created += 1
    if created:
        for endorser, username, skill_name in ENDORSEMENTS:
            skill = experts.skill_by_name(session, skill_name)
            experts.endorse(
                session, _user(session, endorser), _user(session, username), skill.id
            )
    return created


def _load_questions(session: Session, body_max: int) -> int:
    created = 0
    for spec in QUESTIONS:
        if session.scalar(select(Question.id).where(Question.title == spec["title"])):
            continue
        data = questions.QuestionInput(
            title=spec["title"],
            body_md=spec["body"],
            industry_codes=list(spec["industries"]),
            skills=list(spec["skills"]),
        )
        asker = _user(session, spec["asker"])
        stamp = utcnow() - timedelta(days=spec["days_ago"])
        question = questions.ask(session, asker, data, body_max=body_max, now=stamp)
        question.created_at = question.updated_at = stamp
        question.last_activity_at = stamp
        answers = [
            questions.add_answer(
                session, _user(session, username), question, text, body_max
            )
            for username, text in spec["answers"]
        ]
        for number, answer in enumerate(answers, start=1):
            answer.created_at = answer.updated_at = stamp + timedelta(hours=number)
        if spec["accepted"] is not None:
            questions.accept(session, asker, answers[spec["accepted"]])
        created += 1
    return created


def _load_courses(session: Session, instance_path: str) -> int:
    created = 0
    for spec in COURSES:
        if session.scalar(select(Course.id).where(Course.title == spec["title"])):
            continue
        author = _user(session, spec["author"])
        course = training.create_course(
            session,
            training.CourseInput(
                title=spec["title"],
                description_md=spec["description"],
                industry_codes=list(spec["industries"]),
            ),
            author,
        )
        for title, body in spec["lessons"]:
            training.add_lesson(session, course, training.LessonInput(title, body))
        attachment = spec.get("attachment")
        if attachment is not None:
            data = _docx_bytes(attachment["paragraphs"])
            prepared = files.prepare_upload(attachment["name"], data)
            files.store_attachment(
                session, instance_path, course, None, prepared, data, author
            )
        created += 1
    return created


def _docx_bytes(paragraphs) -> bytes:
    import io

    from docx import Document

    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _load_lectures(session: Session) -> int:
    created = 0
    today = utcnow() + timedelta(hours=8)
    for spec in LECTURES:
        if session.scalar(select(Lecture.id).where(Lecture.title == spec["title"])):
            continue
        day = (today + timedelta(days=spec["days_ahead"])).date()
        start = f"{day.isoformat()}T{spec['hour']:02d}:00"
        end = f"{day.isoformat()}T{spec['hour'] + spec['hours']:02d}:00"
        course_id = None
        if spec["course"]:
            course_id = session.scalar(
                select(Course.id).where(Course.title == spec["course"])
            )
        data = lectures.LectureInput(
            title=spec["title"],
            starts_at=start,
            ends_at=end,
            course_id=course_id,
            place=spec["place"],
            online_url=spec["online_url"],
            speaker_username=spec["speaker"],
            capacity="" if spec["capacity"] is None else str(spec["capacity"]),
        )
        checked, errors = lectures.check_lecture(session, data)
        if checked is None:
            raise ValueError(f"demo lecture {spec['title']!r}: {errors}")
        lectures.create_lecture(session, checked, _user(session, "admin"))
        created += 1
    return created
