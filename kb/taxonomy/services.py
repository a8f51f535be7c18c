"""Look-ups shared by everything that carries industries and tags."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.dbutil import get_or_create
from kb.taxonomy.models import Industry, Tag
from kb.taxonomy.tags import normalize_tag


def tags_for_names(session: Session, names: list[str]) -> list[Tag]:
    """Return the Tag rows for ``names`` in order, creating missing ones."""
    tags, seen = [], set()
    for raw in names:
        name = normalize_tag(raw)
        if not name or name in seen:
            continue
        seen.add(name)
        tags.append(_tag_for_name(session, name))
    return tags


def _tag_for_name(session: Session, name: str) -> Tag:
    return get_or_create(session, Tag, name=name)


def unknown_industry_codes(session: Session, codes: list[str]) -> list[str]:
    """Return the codes of ``codes`` that name no industry."""
    return [code for code in codes if session.get(Industry, code) is None]


def industries_for_codes(session: Session, codes: list[str]) -> list[Industry]:
    """Return the Industry rows for known ``codes``, without repeats, in order."""
    rows = (session.get(Industry, code) for code in dict.fromkeys(codes))
    return [row for row in rows if row is not None]


def division_choices(session: Session) -> list[tuple[str, str]]:
    """Return (code, label) pairs of every division, labelled with its section."""
    rows = session.scalars(select(Industry).order_by(Industry.code)).all()
    sections = {row.code: row for row in rows if row.level == "section"}
    choices = []
    for row in rows:
        if row.level == "division":
            section = sections.get(row.section_code)
            prefix = f"{section.code} {section.name} / " if section else ""
            choices.append((row.code, f"{prefix}{row.code} {row.name}"))
    return choices


def as_select_choices(pairs: list[tuple[str, str]]) -> list:
    """Wrap (value, label) pairs for WTForms, which deprecates plain tuples."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(value, label) for value, label in pairs]
