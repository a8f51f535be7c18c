"""Questions in the shared search."""

from collections.abc import Iterator

from sqlalchemy.orm import Session

from kb.questions.models import Question
from kb.search.documents import SearchDocument
from kb.search.registry import DocumentSource


def _load(session: Session, record_id: int) -> SearchDocument | None:
    return None


def _iter_all(session: Session) -> Iterator[SearchDocument]:
    yield from ()


QUESTION_SOURCE = DocumentSource("question", Question, _load, _iter_all)
