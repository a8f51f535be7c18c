"""Fuzz every editing form with a valid CSRF token.

No input may cause a server error, and a rejected form that is shown again
keeps each text the user typed.
"""

import html
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.extensions import db
from kb.forum.models import Reply
from kb.questions.models import Answer
from kb.timeutil import to_local, utcnow
from tests.conftest import csrf_token, login
from tests.fuzz.conftest import (
    FUZZ,
    any_text,
    assert_handled,
    number_text,
    reseed_random,
)


def without_surrogates(text: str) -> str:
    """Replace lone surrogates, which a browser cannot send in a form."""
    return text.encode("utf-8", "replace").decode("utf-8")


form_text = st.one_of(
    any_text.map(without_surrogates),
    st.sampled_from(["", " ", "\u3000\t\n", "a" * 100_000, "钢" * 5000]),
)
date_text = st.one_of(
    st.sampled_from(
        [
            "2024-02-30",
            "2024-13-01",
            "0000-00-00",
            "9999-12-31",
            "1900-01-01",
            "2024-06-30T25:00",
            "2024-06-30T10:61",
            "2024-06-30 10:00",
            "99999-01-01T10:00",
            "2024/06/30",
            "now",
        ]
    ),
    st.dates().map(str),
    st.datetimes().map(lambda value: value.strftime("%Y-%m-%dT%H:%M")),
    form_text,
)
codes = st.lists(
    st.one_of(st.sampled_from(["C", "36", "K66", "ZZ", ""]), form_text), max_size=4
)
tag_list = st.lists(form_text, max_size=6).flatmap(
    lambda parts: st.sampled_from([",", "，", "、", ";", " ", "\n"]).map(
        lambda separator: separator.join(parts)
    )
)
# Seventeen forms share one test and app, so each gets fewer examples.
FORM_FUZZ = settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 2))
choice = st.one_of(st.sampled_from(["market", "risk", "all", "high", ""]), form_text)
form_number = number_text.map(without_surrogates)
record_id = st.one_of(form_number, st.just("1"))


def lecture_times() -> tuple[str, str]:
    start = to_local(utcnow() + timedelta(days=3))
    end = start + timedelta(hours=2)
    return start.strftime("%Y-%m-%dT%H:%M"), end.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def records(app, client, make_user):
    """Sign in an administrator; ``records[name]`` creates the record needed.

    Returns a function from a record name ("post", "course", ...) to its path.
    """
    make_user("admin", role="admin", department="合规部")
    make_user("teacher", role="expert", department="培训部")
    assert login(client, "admin").status_code == 302
    token = csrf_token(client, "/forum/new")

    def create(path: str, **data) -> str:
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
        return response.headers["Location"]

    def post() -> str:
        return create(
            "/forum/new",
            title="钢材价格上涨",
            signal_type="market",
            visibility="all",
            body_md="现货价格上涨。",
        )

    def reply() -> str:
        create(f"{create_once('post')}/replies", body_md="收到。")
        with app.app_context():
            reply_id = db.session.query(Reply.id).order_by(Reply.id).first()[0]
        return f"/forum/replies/{reply_id}"

    def question() -> str:
        return create("/questions/ask", title="钢价走势", industries=["C"])

    def answer() -> str:
        create(f"{create_once('question')}/answers", body_md="看库存。")
        with app.app_context():
            answer_id = db.session.query(Answer.id).order_by(Answer.id).first()[0]
        return f"/questions/answers/{answer_id}"

    def course() -> str:
        return create("/training/courses/new", title="供应链金融", description_md="")

    def lesson() -> str:
        return create(
            f"{create_once('course')}/lessons/new", title="第一课", body_md="正文。"
        )

    def lecture() -> str:
        starts_at, ends_at = lecture_times()
        return create(
            "/training/lectures/new",
            title="讲座",
            starts_at=starts_at,
            ends_at=ends_at,
            place="一楼",
            speaker_username="teacher",
        )

    def brief() -> str:
        return create(
            "/briefs/new", title="钢铁行业简报", industries=["C"], body_md="正文。"
        )

    created = {}

    def create_once(name: str) -> str:
        if name not in created:
            created[name] = factories[name]()
        return created[name]

    factories = {
        "post": post,
        "reply": reply,
        "question": question,
        "answer": answer,
        "course": course,
        "lesson": lesson,
        "lecture": lecture,
        "brief": brief,
    }
    return {"create": create_once, "token": token}


POST_FIELDS = {
    "title": form_text,
    "signal_type": choice,
    "severity": choice,
    "visibility": st.one_of(st.just("departments"), choice),
    "audience": st.lists(record_id, max_size=3),
    "industries": codes,
    "tags": tag_list,
    "clients": tag_list,
    "body_md": form_text,
}
BRIEF_FIELDS = {
    "title": form_text,
    "summary": form_text,
    "industries": codes,
    "tags": tag_list,
    "clients": tag_list,
    "published_on": date_text,
    "source": form_text,
    "source_url": st.one_of(st.just("https://example.com/a"), form_text),
    "body_md": form_text,
}
COURSE_FIELDS = {"title": form_text, "industries": codes, "description_md": form_text}
LESSON_FIELDS = {"title": form_text, "body_md": form_text}
LECTURE_FIELDS = {
    "title": form_text,
    "course_id": record_id,
    "starts_at": date_text,
    "ends_at": date_text,
    "place": form_text,
    "online_url": st.one_of(st.just("https://example.com/live"), form_text),
    "speaker_username": st.one_of(st.just("teacher"), form_text),
    "speaker_name": form_text,
    "capacity": form_number,
    "description": form_text,
}
LEVEL = st.one_of(st.sampled_from(["1", "2", "3"]), form_number)
PROFILE_FIELDS = {
    "headline": form_text,
    "bio_md": form_text,
    "industry_value": codes,
    "industry_level": st.lists(LEVEL, max_size=4),
    "skill_value": st.lists(form_text, max_size=4),
    "skill_level": st.lists(LEVEL, max_size=4),
}
USER_FIELDS = {
    "username": form_text,
    "display_name": form_text,
    "department": form_text,
    "email": st.one_of(st.just("a@example.com"), form_text),
    "role": st.one_of(st.sampled_from(["staff", "expert", "admin"]), form_text),
    "password": form_text,
}

# (record the form belongs to or None, path after it, fields).
FORMS = {
    "post": (None, "/forum/new", POST_FIELDS),
    "post-edit": ("post", "/edit", POST_FIELDS),
    "reply": ("post", "/replies", {"body_md": form_text, "quote_of": record_id}),
    "reply-edit": ("reply", "/edit", {"body_md": form_text}),
    "brief": (None, "/briefs/new", BRIEF_FIELDS),
    "brief-edit": ("brief", "/edit", BRIEF_FIELDS),
    "question": (
        None,
        "/questions/ask",
        {
            "title": form_text,
            "industries": codes,
            "skills": tag_list,
            "body_md": form_text,
            "expert": record_id,
        },
    ),
    "answer": ("question", "/answers", {"body_md": form_text}),
    "answer-edit": ("answer", "/edit", {"body_md": form_text}),
    "profile": (None, "/people/me", PROFILE_FIELDS),
    "course": (None, "/training/courses/new", COURSE_FIELDS),
    "course-edit": ("course", "/edit", COURSE_FIELDS),
    "lesson": ("course", "/lessons/new", LESSON_FIELDS),
    "lesson-edit": ("lesson", "/edit", LESSON_FIELDS),
    "lecture": (None, "/training/lectures/new", LECTURE_FIELDS),
    "lecture-edit": ("lecture", "/edit", LECTURE_FIELDS),
    "user": (None, "/admin/users/", USER_FIELDS),
}
# Fields whose value the page need not show again: choices, ids and passwords.
NOT_ECHOED = {
    "signal_type",
    "severity",
    "visibility",
    "audience",
    "industries",
    "quote_of",
    "expert",
    "course_id",
    "role",
    "password",
    "industry_value",
    "industry_level",
    "skill_level",
}


def form_data(name: str):
    fields = FORMS[name][2]
    return st.fixed_dictionaries({}, optional=fields)


def assert_text_kept(page: str, data: dict, label: str) -> None:
    page_text = html.unescape(page).replace("\r\n", "\n")
    for field, value in data.items():
        if field in NOT_ECHOED:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            # Rows of the profile form are shown without outer whitespace.
            text = item.replace("\r\n", "\n").strip()
            assert text in page_text, f"{label}: {field}={item[:200]!r} not shown again"


def submit(client, path: str, token: str, data: dict):
    response = client.post(path, data={"csrf_token": token, **data})
    label = f"POST {path} {data!r}"[:2000]
    assert_handled(response, label)
    page = response.get_data(as_text=True)
    # A rejected form is shown again with its fields; other 400s get the
    # error page, which names the field in its message.
    if response.status_code == 400 and 'class="field' in page:
        assert "has-error" in page or "flash-danger" in page, label
        assert_text_kept(page, data, label)
    return response


def fuzz_form(client, path: str, token: str, name: str) -> None:
    @FORM_FUZZ
    @given(data=form_data(name))
    def check(data):
        reseed_random()
        submit(client, path, token, data)

    check()


def test_forms_handle_any_input(client, records):
    for name, (record, suffix, _) in sorted(FORMS.items()):
        path = (records["create"](record) if record else "") + suffix
        fuzz_form(client, path, records["token"], name)
