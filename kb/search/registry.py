"""Which models are searchable and how each record becomes a SearchDocument."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

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
