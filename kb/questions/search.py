"""Questions in the shared search: one entry per question, with its answers.

Every member of staff may read a question, so entries carry the "all"
audience token. A hidden question has no entry, and a hidden answer's text is
left out. The services queue a question for re-indexing whenever one of its
answers is added, edited, accepted or hidden.
"""

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.articles.rendering import html_to_text
from kb.questions.models import Question
from kb.search.documents import SearchDocument, content_version, industry_facets
from kb.search.registry import DocumentSource, built_documents, record_loader


def question_document(question: Question) -> SearchDocument | None:
    if question.hidden:
        return None
    answers = sorted(
        (answer for answer in question.answers if not answer.hidden),
        key=lambda answer: (not answer.accepted, answer.id),
    )
    texts = [html_to_text(question.body_html)]
    texts += [html_to_text(answer.body_html) for answer in answers]
    body = "\n".join(text for text in texts if text)
    codes, names = industry_facets(question.industries)
    skills = tuple(skill.name for skill in question.skills)
    return SearchDocument(
        doc_id=f"question:{question.id}",
        type="question",
        record_id=question.id,
        title=question.title,
        summary="",
        body=body,
        url=f"/questions/{question.id}",
        published_at=question.created_at,
        version=content_version(question.title, body, *codes, *names, *skills),
        industry_codes=codes,
        industry_names=names,
        acl=("all",),
        keywords=skills,
    )


def _iter_all(session: Session) -> Iterator[SearchDocument]:
    query = (
        select(Question)
        .options(
            selectinload(Question.answers),
            selectinload(Question.industries),
            selectinload(Question.skills),
        )
        .order_by(Question.id)
    )
    return built_documents(session, query, question_document)


QUESTION_SOURCE = DocumentSource(
    "question", Question, record_loader(Question, question_document), _iter_all
)
