"""Courses and their attachments in the shared search.

Every signed-in member of staff may read courses, so both kinds of document
carry the audience token "all".
"""

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, undefer

from kb.articles.rendering import html_to_text
from kb.search.documents import SearchDocument, content_version, industry_facets
from kb.search.registry import DocumentSource, built_documents, record_loader
from kb.training.models import Attachment, Course

# Only the start of a long attachment's text goes into the index, to keep the
# index small; the stored text is longer.
ATTACHMENT_INDEX_CHARS = 200_000


def course_document(course: Course) -> SearchDocument:
    """Build the entry of a course: title, description, lessons and industries."""
    description = html_to_text(course.description_html)
    lesson_texts = []
    for lesson in course.lessons:
        lesson_texts.append(lesson.title)
        lesson_texts.append(html_to_text(lesson.body_html))
    body = "\n".join([description, *lesson_texts]).strip()
    codes, names = industry_facets(course.industries)
    return SearchDocument(
        doc_id=f"course:{course.id}",
        type="course",
        record_id=course.id,
        title=course.title,
        summary="",
        body=body,
        url=f"/training/courses/{course.id}",
        published_at=course.created_at,
        version=content_version(course.title, body, *codes),
        industry_codes=codes,
        industry_names=names,
        acl=("all",),
    )


def attachment_document(attachment: Attachment) -> SearchDocument:
    """Build the entry of an attachment: its name and the text extracted from it."""
    course = attachment.course
    body = (attachment.text or "")[:ATTACHMENT_INDEX_CHARS]
    summary = f"课程：{course.title}"
    codes, names = industry_facets(course.industries)
    return SearchDocument(
        doc_id=f"attachment:{attachment.id}",
        type="attachment",
        record_id=attachment.id,
        title=attachment.original_name,
        summary=summary,
        body=body,
        url=f"/training/courses/{course.id}#attachment-{attachment.id}",
        published_at=attachment.created_at,
        version=content_version(attachment.original_name, summary, body, *codes),
        industry_codes=codes,
        industry_names=names,
        acl=("all",),
    )


def _iter_courses(session: Session) -> Iterator[SearchDocument]:
    query = (
        select(Course)
        .options(selectinload(Course.lessons), selectinload(Course.industries))
        .order_by(Course.id)
    )
    return built_documents(session, query, course_document, batch=100)


def _iter_attachments(session: Session) -> Iterator[SearchDocument]:
    # Small batches: each attachment carries up to 2,000,000 characters of text.
    query = (
        select(Attachment)
        .options(
            selectinload(Attachment.course).selectinload(Course.industries),
            undefer(Attachment.text),
        )
        .order_by(Attachment.id)
    )
    return built_documents(session, query, attachment_document, batch=50)


COURSE_SOURCE = DocumentSource(
    "course", Course, record_loader(Course, course_document), _iter_courses
)
ATTACHMENT_SOURCE = DocumentSource(
    "attachment",
    Attachment,
    record_loader(Attachment, attachment_document),
    _iter_attachments,
)
