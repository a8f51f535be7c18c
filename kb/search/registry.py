"""Which models are searchable and how each record becomes a SearchDocument."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.orm import Session

from kb.search.documents import SearchDocument


@dataclass(frozen=True)
class DocumentSource:
    """How to load one kind of searchable record.

    ``load`` returns the document for a record id, or None when the record is
    gone or must not be searchable. ``iter_all`` yields every document of this
    kind, for a full reindex or a consistency check.
    """

    doc_type: str
    model: type
    load: Callable[[Session, int], SearchDocument | None]
    iter_all: Callable[[Session], Iterator[SearchDocument]]


SOURCES: dict[str, DocumentSource] = {}


def register(source: DocumentSource) -> None:
    """Make a kind of record searchable; later registrations replace earlier ones."""
    SOURCES[source.doc_type] = source


def source_for_model(model: type) -> DocumentSource | None:
    """Return the source whose model is ``model`` or one of its bases."""
    for source in SOURCES.values():
        if isinstance(model, type) and issubclass(model, source.model):
            return source
    return None


def record_loader(
    model: type, build: Callable[[object], SearchDocument | None]
) -> Callable[[Session, int], SearchDocument | None]:
    """Return a ``load`` that builds the document of one ``model`` row."""

    def load(session: Session, record_id: int) -> SearchDocument | None:
        record = session.get(model, record_id)
        return build(record) if record is not None else None

    return load


def built_documents(
    session: Session,
    query: Select,
    build: Callable[[object], SearchDocument | None],
    batch: int = 200,
) -> Iterator[SearchDocument]:
    """Yield the documents that ``build`` makes of each row of ``query``.

    Rows are fetched ``batch`` at a time; rows that must not be searchable
    (``build`` returns None) are skipped.
    """
    for record in session.scalars(query.execution_options(yield_per=batch)):
        document = build(record)
        if document is not None:
            yield document
