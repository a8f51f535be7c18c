"""Escalation after N working days, working-day arithmetic, and the CLI."""

from datetime import date

import pytest
from sqlalchemy import func, select

from kb import create_app
from kb.config import ConfigError
from kb.extensions import db
from kb.questions.models import Question, QuestionRouting
from kb.questions.routing import escalate, escalate_due
from kb.questions.workdays import WorkCalendar, parse_dates
from tests.questions.conftest import (
    answer,
    ask,
    notifications_of,
    routed_usernames,
    shanghai,
    write_brief,
)

# Friday 2025-01-03, 10:00 in Shanghai.
FRIDAY = (2025, 1, 3, 10, 0)


@pytest.fixture
def ranked(app, experts):
    """auto1 > auto2 > auto3 > credit by briefs in 36; one expert per round."""
    app.config["KB_QUESTION_EXPERTS"] = 1
    app.config["KB_QUESTION_ESCALATE_DAYS"] = 2
    with app.app_context():
        for name, count in (("auto1", 4), ("auto2", 3), ("auto3", 2), ("credit", 1)):
            for number in range(count):
                write_brief(name, "36", f"简报 {name} {number}")
    return experts


def test_calendar_skips_weekend():
    calendar = WorkCalendar()
    assert calendar.add_workdays(date(2025, 1, 3), 2) == date(2025, 1, 7)
    assert calendar.due_at(shanghai(*FRIDAY), 2) == shanghai(2025, 1, 7, 10, 0)


def test_calendar_holiday_and_extra_workday():
    calendar = WorkCalendar.from_config(
        {"KB_HOLIDAYS": "2025-01-06", "KB_EXTRA_WORKDAYS": "2025-01-04"}
    )
    assert not calendar.is_workday(date(2025, 1, 6))
    assert calendar.is_workday(date(2025, 1, 4))
    # Saturday (worked) and Tuesday; Monday is a holiday.
    assert calendar.add_workdays(date(2025, 1, 3), 2) == date(2025, 1, 7)
    assert calendar.add_workdays(date(2025, 1, 3), 3) == date(2025, 1, 8)


@pytest.mark.parametrize(
    ("name", "value"),
    [("KB_HOLIDAYS", "2025-13-01"), ("KB_EXTRA_WORKDAYS", "2025-01-04,tomorrow")],
)
def test_invalid_dates_are_rejected(name, value):
    with pytest.raises(ConfigError) as caught:
        WorkCalendar.from_config({name: value})
    assert name in str(caught.value)
    assert value.split(",")[-1] in str(caught.value)


def test_date_in_both_lists_is_rejected():
    with pytest.raises(ConfigError):
        WorkCalendar.from_config(
            {"KB_HOLIDAYS": "2025-01-06", "KB_EXTRA_WORKDAYS": "2025-01-06"}
        )


def test_parse_dates_ignores_blanks():
    assert parse_dates("KB_HOLIDAYS", " 2025-01-01 , ,2025-01-02") == {
        date(2025, 1, 1),
        date(2025, 1, 2),
    }


def test_invalid_holidays_stop_app_start(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        create_app(
            {
                "ENV": "testing",
                "INSTANCE_PATH": str(tmp_path),
                "KB_HOLIDAYS": "2025-02-30",
            }
        )
    assert "KB_HOLIDAYS" in str(caught.value)


def test_escalates_after_weekend_not_before(app, ranked):
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        assert routed_usernames(question) == ["auto1"]
        assert escalate_due(db.session, shanghai(2025, 1, 6, 18, 0)) == []
        assert escalate_due(db.session, shanghai(2025, 1, 7, 9, 59)) == []
        db.session.commit()
        done = escalate_due(db.session, shanghai(2025, 1, 7, 10, 0))
        db.session.commit()
        assert [q.id for q in done] == [question.id]
        assert routed_usernames(question) == ["auto1", "auto2"]
        db.session.refresh(question)
        assert question.escalation_count == 1
        assert question.last_routed_at == shanghai(2025, 1, 7, 10, 0)
        rounds = db.session.scalars(
            select(QuestionRouting.round)
            .where(QuestionRouting.question_id == question.id)
            .order_by(QuestionRouting.id)
        ).all()
        assert rounds == [0, 1]
        assert [n.event for n in notifications_of("auto2")] == ["escalated"]
        # The next round needs two more working days.
        assert escalate_due(db.session, shanghai(2025, 1, 8, 12, 0)) == []


def test_holiday_delays_escalation(app, ranked):
    app.config["KB_HOLIDAYS"] = "2025-01-06"
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        assert escalate_due(db.session, shanghai(2025, 1, 7, 10, 0)) == []
        done = escalate_due(db.session, shanghai(2025, 1, 8, 10, 0))
        db.session.commit()
        assert [q.id for q in done] == [question.id]


def test_extra_workday_brings_escalation_forward(app, ranked):
    app.config["KB_EXTRA_WORKDAYS"] = "2025-01-04"
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        assert escalate_due(db.session, shanghai(2025, 1, 6, 9, 59)) == []
        done = escalate_due(db.session, shanghai(2025, 1, 6, 10, 0))
        db.session.commit()
        assert [q.id for q in done] == [question.id]


def test_invalid_config_fails_at_use(app, ranked):
    app.config["KB_HOLIDAYS"] = "2025/01/06"
    with app.app_context():
        ask("corp", now=shanghai(*FRIDAY))
        with pytest.raises(ConfigError):
            escalate_due(db.session, shanghai(2025, 1, 10, 10, 0))


def test_nobody_asked_twice(app, ranked):
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        for day in (7, 9, 13, 15):
            escalate_due(db.session, shanghai(2025, 1, day, 11, 0))
            db.session.commit()
        assert routed_usernames(question) == ["auto1", "auto2", "auto3", "credit"]
        counts = db.session.execute(
            select(QuestionRouting.user_id, func.count())
            .where(QuestionRouting.question_id == question.id)
            .group_by(QuestionRouting.user_id)
        ).all()
        assert all(count == 1 for _user, count in counts)
        assert "corp" not in routed_usernames(question)


def test_nobody_left_notifies_admins_once(app, ranked):
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        for day in (7, 9, 13):
            escalate_due(db.session, shanghai(2025, 1, day, 11, 0))
            db.session.commit()
        assert len(routed_usernames(question)) == 4
        results = escalate(db.session, shanghai(2025, 1, 20, 11, 0))
        db.session.commit()
        assert [(r.question.id, r.experts, r.admins_notified) for r in results] == [
            (question.id, [], True)
        ]
        stalled = notifications_of("admin", "stalled")
        assert [n.question_id for n in stalled] == [question.id]
        assert escalate(db.session, shanghai(2025, 1, 27, 11, 0)) == []
        db.session.commit()
        assert len(notifications_of("admin", "stalled")) == 1


def test_answered_and_closed_not_escalated(app, ranked):
    with app.app_context():
        answered = ask("corp", title="有回答的问题", now=shanghai(*FRIDAY))
        answer("risk", answered)
        closed = ask("corp2", title="已关闭的问题", now=shanghai(*FRIDAY))
        closed.status = "closed"
        hidden = ask("credit", title="已隐藏的问题", now=shanghai(*FRIDAY))
        hidden.hidden = True
        db.session.commit()
        assert escalate_due(db.session, shanghai(2025, 1, 20, 10, 0)) == []


def test_cli_dry_run_changes_nothing(app, ranked, runner):
    with app.app_context():
        question = ask("corp", now=shanghai(2020, 1, 3, 10, 0))
        question_id = question.id
    result = runner.invoke(args=["questions", "escalate", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"would escalate question {question_id}: round 1 to auto2" in result.output
    assert "Dry run: would escalate 1 questions" in result.output
    with app.app_context():
        question = db.session.get(Question, question_id)
        assert question.escalation_count == 0
        assert routed_usernames(question) == ["auto1"]
        assert notifications_of("auto2") == []
    result = runner.invoke(args=["questions", "escalate"])
    assert result.exit_code == 0, result.output
    assert f"escalated question {question_id}: round 1 to auto2" in result.output
    with app.app_context():
        assert routed_usernames(db.session.get(Question, question_id)) == [
            "auto1",
            "auto2",
        ]


def test_cli_reports_invalid_config(app, ranked, runner):
    app.config["KB_EXTRA_WORKDAYS"] = "someday"
    result = runner.invoke(args=["questions", "escalate"])
    assert result.exit_code == 1
    assert "KB_EXTRA_WORKDAYS" in result.output


def test_asker_answer_does_not_stop_escalation(app, ranked):
    """Escalate a question whose only answer is the asker's own addition."""
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        answer("corp", question, "补充：客户是二级供应商。")
        escalated = escalate_due(db.session, shanghai(2025, 1, 7, 11, 0))
        assert [item.id for item in escalated] == [question.id]


def test_stalled_notice_names_the_topic(app, ranked):
    with app.app_context():
        question = ask("corp", now=shanghai(*FRIDAY))
        for day in (7, 9, 13, 20):
            escalate(db.session, shanghai(2025, 1, day, 11, 0))
            db.session.commit()
        [notice] = notifications_of("admin", "stalled")
        assert notice.question_id == question.id
        assert notice.reason == "stalled:36 汽车制造业"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KB_QUESTION_ESCALATE_DAYS", "0"),
        ("KB_QUESTION_ESCALATE_DAYS", "99999999"),
        ("KB_QUESTION_EXPERTS", "-2"),
        ("KB_UPLOAD_MAX_MB", "0"),
    ],
)
def test_out_of_range_settings_stop_app_start(tmp_path, monkeypatch, name, value):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}={value} is out of range"):
        create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path)})
