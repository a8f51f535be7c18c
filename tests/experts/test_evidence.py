"""Evidence counts and the ranking of people."""

from kb.experts.evidence import (
    Evidence,
    evidence_for,
    expert_badges,
    rank_people,
)
from kb.experts.models import ExpertiseSkill, Skill
from kb.experts.services import skill_by_name
from kb.extensions import db
from tests.experts.conftest import (
    accepted_answer,
    declare,
    endorse,
    mark_answer_useful,
    mark_post_useful,
    user_named,
    write_brief,
    write_post,
)


def _ranked(app, **filters) -> list[str]:
    with app.app_context():
        return [p.user.username for p in rank_people(db.session, **filters)]


def _evidence(app, username: str, **topic) -> Evidence:
    with app.app_context():
        user_id = user_named(username).id
        return evidence_for(db.session, [user_id], **topic)[user_id]


def test_score_weights():
    evidence = Evidence(
        briefs=1, accepted_answers=1, useful_signals=1, useful_answers=1, endorsements=1
    )
    assert evidence.score == 5 + 3 + 2 + 1 + 1
    assert Evidence().score == 0.0


def test_briefs_outrank_declared_level(app, people):
    for _ in range(3):
        write_brief(app, "corp", industry_codes=["36"])
    declare(app, "credit", industries=[("36", 3)])
    ranked = _ranked(app, industry_codes=["36"])
    assert ranked == ["corp", "credit"]


def test_accepted_answer_outweighs_brief(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    accepted_answer(app, "credit", "corp2", industry_codes=["36"])
    ranked = _ranked(app, industry_codes=["36"])
    assert ranked == ["credit", "corp"]
    assert _evidence(app, "credit", industry_codes=["36"]).accepted_answers == 1


def test_level_breaks_ties_then_name(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "corp2", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["36"])
    declare(app, "credit", industries=[("36", 3)])
    declare(app, "corp2", industries=[("36", 1)])
    ranked = _ranked(app, industry_codes=["36"])
    # 李公司 (corp2) sorts before 王公司 (corp) by code point.
    assert ranked == ["credit", "corp2", "corp"]


def test_topic_limits_evidence(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "corp", industry_codes=["44"])
    assert _evidence(app, "corp", industry_codes=["36"]).briefs == 1
    assert _evidence(app, "corp").briefs == 2
    assert _ranked(app, industry_codes=["31"]) == []


def test_section_brief_counts_for_division(app, people):
    write_brief(app, "corp", industry_codes=["C"])
    assert _evidence(app, "corp", industry_codes=["36"]).briefs == 1
    assert _evidence(app, "corp", industry_codes=["01"]).briefs == 0


def test_skill_counts_tagged_briefs(app, people):
    declare(app, "credit", skills=[("供应链金融", 2)])
    write_brief(app, "corp", tags=["供应链金融"])
    with app.app_context():
        skill_id = skill_by_name(db.session, "供应链金融").id
    assert _evidence(app, "corp", skill_ids=[skill_id]).briefs == 1
    assert _ranked(app, skill_ids=[skill_id]) == ["corp", "credit"]


def test_accepted_answer_counts_for_skill(app, people):
    accepted_answer(app, "credit", "corp", skill_names=["跨境结算"])
    with app.app_context():
        skill_id = skill_by_name(db.session, "跨境结算").id
    assert _evidence(app, "credit", skill_ids=[skill_id]).accepted_answers == 1


def test_unaccepted_or_hidden_answers_do_not_count(app, people):
    accepted_answer(app, "credit", "corp", industry_codes=["36"], accepted=False)
    accepted_answer(app, "credit", "corp", industry_codes=["36"], hidden=True)
    assert _evidence(app, "credit").accepted_answers == 0


def test_useful_marks_on_public_posts_count(app, people):
    post_id = write_post(app, "corp", industry_codes=["36"])
    mark_post_useful(app, "corp2", post_id)
    mark_post_useful(app, "credit", post_id)
    mark_post_useful(app, "corp", post_id)
    evidence = _evidence(app, "corp", industry_codes=["36"])
    # The author's own mark is not a colleague's.
    assert evidence.useful_signals == 2


def test_restricted_posts_do_not_count(app, people):
    restricted = write_post(app, "corp", industry_codes=["36"], visibility="department")
    mark_post_useful(app, "corp2", restricted)
    assert _evidence(app, "corp").useful_signals == 0
    assert _ranked(app, industry_codes=["36"]) == []


def test_hidden_posts_do_not_count(app, people):
    post_id = write_post(app, "corp", industry_codes=["36"])
    mark_post_useful(app, "corp2", post_id)
    with app.app_context():
        from kb.forum.models import Post

        db.session.get(Post, post_id).hidden = True
        db.session.commit()
    assert _evidence(app, "corp").useful_signals == 0


def test_anonymous_posts_do_not_count(app, people):
    post_id = write_post(app, "corp", industry_codes=["36"])
    mark_post_useful(app, "corp2", post_id)
    with app.app_context():
        from kb.forum.models import Post

        post = db.session.get(Post, post_id)
        post.anonymous = True
        db.session.commit()
    assert _evidence(app, "corp").useful_signals == 0


def test_useful_answers_count(app, people):
    answer_id = accepted_answer(
        app, "credit", "corp", industry_codes=["36"], accepted=False
    )
    mark_answer_useful(app, "corp", answer_id)
    mark_answer_useful(app, "credit", answer_id)
    evidence = _evidence(app, "credit", industry_codes=["36"])
    assert evidence.useful_answers == 1
    assert evidence.score == 1.0


def test_endorsements_count_once_per_colleague(app, people):
    declare(app, "credit", industries=[("36", 2)], skills=[("票据业务", 2)])
    with app.app_context():
        skill_id = skill_by_name(db.session, "票据业务").id
    endorse(app, "corp", "credit", skill_id=skill_id)
    endorse(app, "corp", "credit", industry_code="36")
    endorse(app, "corp2", "credit", industry_code="36")
    assert _evidence(app, "credit").endorsements == 2
    assert _evidence(app, "credit", industry_codes=["36"]).endorsements == 2
    assert _evidence(app, "credit", skill_ids=[skill_id]).endorsements == 1


def test_withdrawn_declaration_drops_endorsements(app, people):
    declare(app, "credit", industries=[("36", 2)])
    endorse(app, "corp", "credit", industry_code="36")
    declare(app, "credit", industries=[("44", 2)])
    assert _evidence(app, "credit").endorsements == 0


def test_inactive_users_excluded(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["36"])
    with app.app_context():
        user_named("corp").active = False
        db.session.commit()
    assert _ranked(app, industry_codes=["36"]) == ["credit"]
    assert _ranked(app) == ["credit"]


def test_exclude_ids_and_paging(app, people):
    for username in ("corp", "corp2", "credit"):
        write_brief(app, username, industry_codes=["36"])
    with app.app_context():
        corp_id = user_named("corp").id
    assert "corp" not in _ranked(app, industry_codes=["36"], exclude_ids=[corp_id])
    first = _ranked(app, industry_codes=["36"], limit=2)
    second = _ranked(app, industry_codes=["36"], limit=2, offset=2)
    assert len(first) == 2
    assert len(second) == 1
    assert not set(first) & set(second)


def test_undeclared_people_rank_by_evidence(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    assert _ranked(app) == ["corp"]


def test_text_finds_industry_experts_by_evidence(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["44"], title="电网投资观察")
    assert _ranked(app, text="汽车") == ["corp"]


def test_text_finds_skill(app, people):
    declare(app, "credit", skills=[("供应链金融", 2)])
    assert _ranked(app, text="供应链") == ["credit"]


def test_text_matches_names_and_department(app, people):
    declare(app, "credit", headline="专注新能源车企授信")
    write_brief(app, "corp")
    assert _ranked(app, text="赵授信") == ["credit"]
    assert _ranked(app, text="新能源车企") == ["credit"]
    # Text alone finds people without evidence too, after those with some.
    assert _ranked(app, text="公司金融") == ["corp", "corp2"]


def test_text_mixed_words_and_symbols(app, people):
    write_brief(app, "corp", industry_codes=["44"])
    assert _ranked(app, text="HVDC 电网") == []
    assert _ranked(app, text="100%_ 'x\"") == []
    assert _ranked(app, text="电力 王公司") == ["corp"]


def test_badges_need_declaration_and_evidence(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "corp2", industry_codes=["36"])
    declare(app, "corp", industries=[("36", 2)])
    declare(app, "credit", industries=[("36", 3)])
    with app.app_context():
        ids = [user_named(n).id for n in ("corp", "corp2", "credit")]
        badges = expert_badges(db.session, ids, ["36"])
        other = expert_badges(db.session, ids, ["44"])
        section = expert_badges(db.session, ids, ["C"])
    assert [i.code for i in badges[ids[0]]] == ["36"]
    assert ids[1] not in badges
    assert ids[2] not in badges
    assert other == {}
    assert [i.code for i in section[ids[0]]] == ["36"]


def test_badge_not_from_restricted_post(app, people):
    post_id = write_post(app, "corp", industry_codes=["36"], visibility="department")
    mark_post_useful(app, "corp2", post_id)
    declare(app, "corp", industries=[("36", 2)])
    with app.app_context():
        corp_id = user_named("corp").id
        assert expert_badges(db.session, [corp_id], ["36"]) == {}


def test_own_question_answer_does_not_count(app, people):
    accepted_answer(app, "credit", "credit", industry_codes=["36"])
    assert _evidence(app, "credit").accepted_answers == 0
    assert _ranked(app, industry_codes=["36"]) == []


def test_name_text_ignores_others_evidence(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["36"])
    assert _ranked(app, text="赵授信") == ["credit"]


def test_two_topic_words_each_must_match(app, people):
    write_brief(app, "corp", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["36"])
    write_brief(app, "credit", industry_codes=["44"])
    # 汽车 names division 36 and 电力 names division 44: only credit has both.
    assert _ranked(app, text="汽车 电力") == ["credit"]


def test_text_finds_brief_tags_and_titles(app, people):
    write_brief(app, "credit", tags=["HVDC"], title="特高压设备链")
    assert _ranked(app, text="hvdc") == ["credit"]
    assert _ranked(app, text="“特高压”") == ["credit"]


def test_wildcard_skill_matches_nothing_else(app, people):
    """Keep a skill named %% (stored before names were checked) from matching."""
    with app.app_context():
        skill = Skill(name="%%")
        db.session.add(skill)
        db.session.flush()
        user_id = user_named("credit").id
        db.session.add(ExpertiseSkill(user_id=user_id, skill_id=skill.id, level=3))
        db.session.commit()
    assert _ranked(app, text="完全无关的词") == []
