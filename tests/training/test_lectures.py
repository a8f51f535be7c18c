"""Lectures: scheduling, sign-up rules and the iCalendar file."""

from datetime import datetime, timedelta

from kb.extensions import db
from kb.timeutil import to_local, utcnow
from kb.training import ics
from kb.training.models import Lecture, LectureSignup
from tests.conftest import csrf_token
from tests.training.conftest import client_for, make_course

NEW_PAGE = "/training/lectures/new"


def local_input(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%dT%H:%M")


def lecture_fields(**overrides) -> dict:
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=3)
    fields = {
        "title": "供应链金融实务讲座",
        "course_id": "",
        "starts_at": local_input(start),
        "ends_at": local_input(start + timedelta(hours=2)),
        "place": "总行 3 楼第一会议室",
        "online_url": "",
        "speaker_username": "teacher",
        "speaker_name": "",
        "capacity": "",
        "description": "",
    }
    fields.update(overrides)
    return fields


def post(client, url: str, data: dict | None = None, page: str = "/training/lectures/"):
    return client.post(
        url, data={"csrf_token": csrf_token(client, page), **(data or {})}
    )


def create(client, **overrides) -> int:
    response = post(client, NEW_PAGE, lecture_fields(**overrides), NEW_PAGE)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def get_lecture(app, lecture_id: int) -> Lecture:
    with app.app_context():
        lecture = db.session.get(Lecture, lecture_id)
        db.session.expunge(lecture)
        return lecture


def test_create_stores_utc_and_speaker(app, trainers):
    client = client_for(app, "teacher")
    lecture_id = create(
        client, starts_at="2030-03-01T09:30", ends_at="2030-03-01T11:00"
    )
    lecture = get_lecture(app, lecture_id)
    assert lecture.starts_at == datetime(2030, 3, 1, 1, 30)
    assert lecture.ends_at == datetime(2030, 3, 1, 3, 0)
    assert lecture.speaker_id == trainers["teacher"]
    assert lecture.sequence == 0
    page = client.get(f"/training/lectures/{lecture_id}").get_data(as_text=True)
    assert "2030-03-01 09:30" in page


def test_lecture_form_errors(app, trainers):
    client = client_for(app, "teacher")
    cases = [
        ({"starts_at": "明天"}, "开始时间 &#39;明天&#39; 无效"),
        (
            {"starts_at": "2030-03-01T10:00", "ends_at": "2030-03-01T09:00"},
            "结束时间必须晚于开始时间",
        ),
        ({"place": "", "online_url": ""}, "请填写地点或线上链接，至少一项"),
        ({"online_url": "http://meeting.example/1"}, "需以 https:// 开头"),
        ({"online_url": "javascript:alert(1)"}, "需以 https:// 开头"),
        ({"online_url": 'https://x.example/"onmouseover=1'}, "不含空格、引号"),
        ({"online_url": "https://x.example/" + "a" * 500}, "线上链接最长 500"),
        (
            {"starts_at": "2020-01-10T14:00", "ends_at": "2020-01-10T16:00"},
            "开始时间已经过去",
        ),
        ({"speaker_username": "nobody"}, "用户名 &#39;nobody&#39; 不存在"),
        ({"capacity": "0"}, "名额 &#39;0&#39; 无效"),
        ({"capacity": "十"}, "名额 &#39;十&#39; 无效"),
        ({"capacity": "9" * 5000}, "名额 &#39;99999"),
        ({"title": ""}, "标题不能为空"),
    ]
    for overrides, message in cases:
        fields = lecture_fields(**overrides)
        response = post(client, NEW_PAGE, fields, NEW_PAGE)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, overrides
        assert message in page, overrides
    with app.app_context():
        assert db.session.query(Lecture).count() == 0


def test_staff_cannot_schedule(app, trainers):
    client = client_for(app, "corp")
    assert client.get(NEW_PAGE).status_code == 403
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher)
    assert client.get(f"/training/lectures/{lecture_id}/edit").status_code == 403
    response = post(client, f"/training/lectures/{lecture_id}/cancel")
    assert response.status_code == 403


def test_sign_up_capacity(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher, capacity="2")
    url = f"/training/lectures/{lecture_id}"
    for username in ("corp", "corp2"):
        response = post(client_for(app, username), f"{url}/signup", page=url)
        assert response.status_code == 302
    late = client_for(app, "credit")
    response = post(late, f"{url}/signup", page=url)
    assert response.status_code == 302
    page = late.get(url).get_data(as_text=True)
    assert "已满（2 个名额）" in page
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 2
    page = teacher.get(url).get_data(as_text=True)
    assert "报名名单（2 人）" in page
    assert "王公司" in page
    assert "报名名单" not in late.get(url).get_data(as_text=True)


def test_sign_up_twice_and_withdraw(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher, capacity="1")
    url = f"/training/lectures/{lecture_id}"
    client = client_for(app, "corp")
    post(client, f"{url}/signup", page=url)
    post(client, f"{url}/signup", page=url)
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 1
    post(client, f"{url}/withdraw", page=url)
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 0
    other = client_for(app, "corp2")
    post(other, f"{url}/signup", page=url)
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 1


def test_cancelled_lecture_rejects_sign_up(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher)
    url = f"/training/lectures/{lecture_id}"
    assert post(teacher, f"{url}/cancel", page=url).status_code == 302
    client = client_for(app, "corp")
    post(client, f"{url}/signup", page=url)
    page = client.get(url).get_data(as_text=True)
    assert "已取消" in page
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 0
    assert get_lecture(app, lecture_id).sequence == 1


def test_past_lecture_rejects_sign_up(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher)
    with app.app_context():
        lecture = db.session.get(Lecture, lecture_id)
        lecture.starts_at = utcnow() - timedelta(hours=3)
        lecture.ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    url = f"/training/lectures/{lecture_id}"
    client = client_for(app, "corp")
    post(client, f"{url}/signup", page=url)
    page = client.get(url).get_data(as_text=True)
    assert "已开始或已结束" in page
    with app.app_context():
        assert db.session.query(LectureSignup).count() == 0
    listing = client.get("/training/lectures/").get_data(as_text=True)
    assert listing.index("已结束") < listing.index("供应链金融实务讲座")


def test_list_upcoming_before_past(app, trainers):
    teacher = client_for(app, "teacher")
    later = utcnow() + timedelta(days=10)
    create(
        teacher,
        title="后面的讲座",
        starts_at=local_input(later),
        ends_at=local_input(later + timedelta(hours=1)),
    )
    create(teacher, title="前面的讲座")
    page = teacher.get("/training/lectures/").get_data(as_text=True)
    assert page.index("前面的讲座") < page.index("后面的讲座")


def test_ics_content(app, trainers):
    app.config["KB_BASE_URL"] = "https://kb.bank.example"
    teacher = client_for(app, "teacher")
    course_id = make_course(app)
    title = "票据业务, 贴现; 与\\再贴现 " + "讲座" * 30
    lecture_id = create(
        teacher,
        title=title,
        course_id=str(course_id),
        starts_at="2030-03-01T09:30",
        ends_at="2030-03-01T11:00",
        place="上海分行, 5楼",
        online_url="https://meeting.example/j/123",
        description="第一行\n第二行",
    )
    response = teacher.get(f"/training/lectures/{lecture_id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lecture-{lecture_id}.ics"'
    )

    raw = response.data
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")

    text = raw.decode("utf-8")
    unfolded = text.replace("\r\n ", "")
    lines = unfolded.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert f"UID:lecture-{lecture_id}@kb.bank.example" in lines
    assert "DTSTART:20300301T013000Z" in lines
    assert "DTEND:20300301T030000Z" in lines
    assert "SEQUENCE:0" in lines
    assert "STATUS:CONFIRMED" in lines
    assert any(line.startswith("DTSTAMP:") and line.endswith("Z") for line in lines)
    escaped_title = "票据业务\\, 贴现\\; 与\\\\再贴现 " + "讲座" * 30
    assert f"SUMMARY:{escaped_title}" in lines
    assert "LOCATION:上海分行\\, 5楼" in lines
    assert "URL:https://meeting.example/j/123" in lines
    [description] = [line for line in lines if line.startswith("DESCRIPTION:")]
    assert "第一行\\n第二行" in description
    assert "https://meeting.example/j/123" in description
    assert lines[-2] == "END:VCALENDAR"
    assert lines[-1] == ""


def test_ics_sequence_and_cancel(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher)
    url = f"/training/lectures/{lecture_id}"
    edit_page = f"{url}/edit"
    response = post(teacher, edit_page, lecture_fields(title="改期后的讲座"), edit_page)
    assert response.status_code == 302
    text = teacher.get(f"{url}.ics").get_data(as_text=True)
    assert "SEQUENCE:1\r\n" in text
    assert "SUMMARY:改期后的讲座\r\n" in text
    post(teacher, f"{url}/cancel", page=url)
    text = teacher.get(f"{url}.ics").get_data(as_text=True)
    assert "SEQUENCE:2\r\n" in text
    assert "STATUS:CANCELLED\r\n" in text


def test_fold_line_keeps_characters_whole():
    line = "SUMMARY:" + "é" + "汉" * 40
    folded = ics.fold_line(line)
    parts = folded.encode("utf-8").split(b"\r\n")
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 75
        part.decode("utf-8")
    assert all(part.startswith(b" ") for part in parts[1:])
    assert folded.replace("\r\n ", "") == line


def test_edit_form_shows_local_times(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(
        teacher, starts_at="2030-03-01T09:30", ends_at="2030-03-01T11:00"
    )
    page = teacher.get(f"/training/lectures/{lecture_id}/edit").get_data(as_text=True)
    assert 'value="2030-03-01T09:30"' in page
    assert 'type="datetime-local"' in page


def test_course_page_lists_lecture(app, trainers):
    course_id = make_course(app)
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher, title="课程配套讲座", course_id=str(course_id))
    reader = client_for(app, "corp")
    page = reader.get(f"/training/courses/{course_id}").get_data(as_text=True)
    assert f'href="/training/lectures/{lecture_id}"' in page
    assert "课程配套讲座" in page


def test_other_expert_cannot_edit_lecture(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher)
    other = client_for(app, "teacher2")
    assert other.get(f"/training/lectures/{lecture_id}/edit").status_code == 403
    admin = client_for(app, "admin")
    assert admin.get(f"/training/lectures/{lecture_id}/edit").status_code == 200


def test_capacity_not_below_sign_ups(app, trainers):
    teacher = client_for(app, "teacher")
    lecture_id = create(teacher, capacity="2")
    url = f"/training/lectures/{lecture_id}"
    for username in ("corp", "corp2"):
        post(client_for(app, username), f"{url}/signup", page=url)
    edit_page = f"{url}/edit"
    response = post(teacher, edit_page, lecture_fields(capacity="1"), edit_page)
    assert response.status_code == 400
    assert "已有 2 人报名，名额不能少于 2" in response.get_data(as_text=True)
    assert get_lecture(app, lecture_id).capacity == 2
