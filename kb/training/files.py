"""Attachment files: checking an upload, storing it, and removing it again.

Files live in ``<instance>/attachments/`` under a random name with the kind as
suffix; the name the uploader's file had is only stored in the database.
"""

import hashlib
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kb.auth.models import User
from kb.errors import ValidationError
from kb.training import extract
from kb.training.models import Attachment, Course, Lesson

logger = logging.getLogger(__name__)

ATTACHMENT_FOLDER = "attachments"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KIND_LABELS = {
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "pptx": "PowerPoint (.pptx)",
    "xlsx": "Excel (.xlsx)",
}
ACCEPTED_TYPES_TEXT = "PDF、Word（.docx）、PowerPoint（.pptx）、Excel（.xlsx）"
# Characters, not bytes; the column has room for 255.
NAME_MAX_CHARS = 200
# Only stored names of this shape are ever opened.
STORED_NAME_HEX = 32


def attachment_folder(instance_path: str) -> Path:
    return Path(instance_path) / ATTACHMENT_FOLDER


def clean_filename(raw: str) -> str:
    """Return the file name a browser sent without folders and control characters.

    Chinese and other letters are kept. A name longer than NAME_MAX_CHARS loses
    characters at the end of its stem, so the extension stays.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        char for char in name if unicodedata.category(char) not in ("Cc", "Cf")
    ).strip()
    if name in (".", ".."):
        name = ""
    elif name.startswith(".") and not PurePosixPath(name).suffix:
        # A name that is only an extension, such as ".pdf", gets a stem.
        name = "附件" + name
    if len(name) > NAME_MAX_CHARS:
        suffix = PurePosixPath(name).suffix
        if len(suffix) > 10:
            suffix = ""
        name = name[: NAME_MAX_CHARS - len(suffix)] + suffix
    return name


def check_upload(filename: str, data: bytes) -> str:
    """Return the kind of an uploaded file; raise ValidationError naming the file.

    The content decides. The name must end in the extension of that kind, so a
    download never offers a name that promises another type.
    """
    display_name = filename or _l("（未命名）")
    if not data:
        raise ValidationError(
            _l("文件 %(name)s 是空的。", name=display_name), field="file"
        )
    try:
        kind = extract.sniff_kind(data)
    except extract.ZipTooLarge:
        raise ValidationError(
            _l(
                "文件 %(name)s 解压后过大或包含的文件过多，已拒绝。"
                "可接受的类型：%(types)s。",
                name=display_name,
                types=ACCEPTED_TYPES_TEXT,
            ),
            field="file",
        ) from None
    if kind is None:
        raise ValidationError(
            _l(
                "文件 %(name)s 的类型不受支持。可接受的类型：%(types)s；"
                "旧版 .doc、.ppt、.xls、图片和网页请先另存为上述格式。",
                name=display_name,
                types=ACCEPTED_TYPES_TEXT,
            ),
            field="file",
        )
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix != f".{kind}":
        raise ValidationError(
            _l(
                "文件 %(name)s 的扩展名与内容不符：内容是 %(kind)s，"
                "请把扩展名改为 .%(ext)s 后重新上传。",
                name=display_name,
                kind=KIND_LABELS[kind],
                ext=kind,
            ),
            field="file",
        )
    return kind


@dataclass(frozen=True)
class PreparedUpload:
    """An accepted upload and its extracted text, not yet stored."""

    name: str
    kind: str
    text: str
    extract_error: str


def prepare_upload(filename: str, data: bytes) -> PreparedUpload:
    """Check an upload and extract its text; raise ValidationError if rejected.

    Uses no database, so callers can run it outside a transaction: extraction
    may take up to ``extract.EXTRACT_MAX_SECONDS``.
    """
    name = clean_filename(filename)
    kind = check_upload(name, data)
    text, error = extract.extract_text(data, kind)
    return PreparedUpload(name, kind, text, error[:500])


def store_attachment(
    session: Session,
    instance_path: str,
    course: Course,
    lesson: Lesson | None,
    prepared: PreparedUpload,
    data: bytes,
    uploader: User,
) -> Attachment:
    """Write a prepared upload under a random name and add its Attachment row.

    The file is on disk when this returns. If the caller's commit fails, it must
    call ``remove_file`` with the attachment's ``stored_name``.
    """
    folder = attachment_folder(instance_path)
    folder.mkdir(exist_ok=True)
    stored_name = f"{secrets.token_hex(STORED_NAME_HEX // 2)}.{prepared.kind}"
    with open(folder / stored_name, "xb") as handle:
        handle.write(data)
    attachment = Attachment(
        course=course,
        lesson=lesson,
        original_name=prepared.name,
        stored_name=stored_name,
        kind=prepared.kind,
        content_type=CONTENT_TYPES[prepared.kind],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        text=prepared.text,
        extract_error=prepared.extract_error,
        uploaded_by=uploader,
    )
    session.add(attachment)
    try:
        session.flush()
    except Exception:
        remove_file(instance_path, stored_name)
        raise
    logger.info(
        "Stored attachment %s of course %s as %s (%s bytes)",
        attachment.id,
        course.id,
        stored_name,
        len(data),
    )
    return attachment


def stored_path(instance_path: str, stored_name: str) -> Path | None:
    """Return the path of a stored file, or None for a name this module never made."""
    stem, _dot, kind = stored_name.partition(".")
    valid_stem = len(stem) == STORED_NAME_HEX and all(
        char in "0123456789abcdef" for char in stem
    )
    if not valid_stem or kind not in CONTENT_TYPES:
        return None
    return attachment_folder(instance_path) / stored_name


def remove_file(instance_path: str, stored_name: str) -> None:
    """Delete a stored file; a file already gone is not an error."""
    path = stored_path(instance_path, stored_name)
    if path is None:
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        logger.error("Could not delete attachment file %s: %s", path, error)
