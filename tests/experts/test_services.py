"""Profile validation and endorsement rules."""

import pytest

from kb.errors import PermissionDenied, ValidationError
from kb.experts import services
from kb.experts.models import Endorsement, ExpertiseSkill
from kb.extensions import db
from tests.experts.conftest import declare, endorse, user_named


def _set(app, **fields):
    values = {"headline": "", "bio_md": "", "industries": [], "skills": []}
    values.update(fields)
    with app.app_context():
        try:
            services.set_profile(db.session, user_named("corp"), **values)
        finally:
            db.session.rollback()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"headline": "长" * 201}, "headline"),
        ({"industries": [("99", 2)]}, "industries"),
        ({"industries": [("C", 2)]}, "industries"),
        ({"industries": [("36", 4)]}, "industries"),
        ({"industries": [("36", "x")]}, "industries"),
        ({"skills": [("", 1)]}, "skills"),
        ({"skills": [("技" * 41, 1)]}, "skills"),
        ({"skills": [("票据业务", 0)]}, "skills"),
        ({"skills": [(f"技能{i}", 1) for i in range(21)]}, "skills"),
        ({"skills": [("a\u200bb", 1)]}, "skills"),
    ],
)
def test_set_profile_rejects(app, people, fields, field):
    with pytest.raises(ValidationError) as caught:
        _set(app, **fields)
    assert caught.value.field == field


def test_set_profile_saves_and_replaces(app, people):
    declare(
        app,
        "corp",
        industries=[("36", 3), ("44", 1)],
        skills=[("供应链金融", 2), (" 供应链金融 ", 3)],
        headline="汽车产业链授信",
    )
    declare(app, "corp", industries=[("36", 2)], skills=[("ＥＳＧ", 1)])
    with app.app_context():
        user = user_named("corp")
        industries = services.declared_industries(db.session, user.id)
        skills = services.declared_skills(db.session, user.id)
        names = [skill.name for skill in services.all_skills(db.session)]
        declared_skills = [(s.skill.name, s.level) for s in skills]
    assert [(i.industry_code, i.level) for i in industries] == [("36", 2)]
    assert declared_skills == [("esg", 1)]
    # 供应链金融 is no longer declared by anyone, so it is not suggested.
    assert names == ["esg"]


def test_set_profile_renders_bio(app, people):
    with app.app_context():
        profile = services.set_profile(
            db.session, user_named("corp"), "", "**重点**<script>x</script>"
        )
        assert "<strong>重点</strong>" in profile.bio_html
        assert "<script>" not in profile.bio_html


def test_endorse_toggles(app, people):
    declare(app, "credit", industries=[("36", 2)])
    assert endorse(app, "corp", "credit", industry_code="36") is True
    assert endorse(app, "corp", "credit", industry_code="36") is False
    assert endorse(app, "corp", "credit", industry_code="36") is True
    with app.app_context():
        assert db.session.query(Endorsement).count() == 1


def test_endorse_not_self(app, people):
    declare(app, "credit", industries=[("36", 2)])
    with pytest.raises(PermissionDenied):
        endorse(app, "credit", "credit", industry_code="36")


def test_endorse_only_declared(app, people):
    declare(app, "credit", industries=[("36", 2)])
    with pytest.raises(ValidationError) as caught:
        endorse(app, "corp", "credit", industry_code="44")
    assert caught.value.field == "industry"


def test_endorse_needs_one_subject(app, people):
    declare(app, "credit", industries=[("36", 2)], skills=[("票据业务", 1)])
    with app.app_context():
        skill_id = db.session.query(ExpertiseSkill).one().skill_id
    with pytest.raises(ValidationError):
        endorse(app, "corp", "credit")
    with pytest.raises(ValidationError):
        endorse(app, "corp", "credit", skill_id=skill_id, industry_code="36")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("供应链金融,票据业务", "每行只填一项技能"),
        ("%%", "只有标点或符号"),
        ("技" * 41, "过长"),
    ],
)
def test_bad_skill_names_rejected(app, people, name, message):
    with app.app_context(), pytest.raises(ValidationError) as caught:
        services.set_profile(db.session, user_named("corp"), "", "", skills=[(name, 1)])
    assert message in str(caught.value.message)
