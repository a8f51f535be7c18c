"""Courses and their attachments in the shared search."""

from collections.abc import Iterator

from sqlalchemy.orm import Session

from kb.search.documents import SearchDocument
from kb.search.registry import DocumentSource
from kb.training.models import Attachment, Course


def _load(session: Session, record_id: int) -> SearchDocument | None:
    return None


def _iter_all(session: Session) -> Iterator[SearchDocument]:
    yield from ()


COURSE_SOURCE = DocumentSource("course", Course, _load, _iter_all)
ATTACHMENT_SOURCE = DocumentSource("attachment", Attachment, _load, _iter_all)
