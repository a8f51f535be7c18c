"""iCalendar (RFC 5545) files for lectures."""

from datetime import datetime
from urllib.parse import urlsplit

from kb.training.models import Lecture

PRODID = "-//kb//Training lectures//ZH"
# RFC 5545 section 3.1: lines longer than 75 octets are folded.
LINE_MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and line breaks."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\n", "\\n")


def fold_line(line: str) -> str:
    """Fold a content line into parts of at most 75 octets joined by CRLF and a space.

    Parts end on a character boundary, so a UTF-8 character is never split.
    """
    parts: list[str] = []
    current = ""
    size = 0
    limit = LINE_MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current = ""
            # A continuation line starts with a space, which counts.
            size = 1
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def format_utc(value: datetime) -> str:
    """Format a naive UTC datetime as an iCalendar UTC DATE-TIME (``...Z``)."""
    return value.strftime("%Y%m%dT%H%M%SZ")


def uid_host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def lecture_calendar(lecture: Lecture, base_url: str) -> str:
    """Return the iCalendar text of ``lecture`` with CRLF line endings.

    ``base_url`` (KB_BASE_URL) gives the host part of the UID and the link to
    the lecture page.
    """
    page_url = f"{base_url.rstrip('/')}/training/lectures/{lecture.id}"
    description_parts = []
    if lecture.description:
        description_parts.append(lecture.description)
    if lecture.online_url:
        description_parts.append(f"线上链接 Online: {lecture.online_url}")
    speaker = lecture.speaker.display_name if lecture.speaker else ""
    if lecture.speaker_name:
        speaker = f"{speaker} {lecture.speaker_name}".strip()
    if speaker:
        description_parts.append(f"主讲 Speaker: {speaker}")
    description_parts.append(f"详情 Details: {page_url}")
    location = lecture.place or lecture.online_url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT",
        f"UID:lecture-{lecture.id}@{uid_host(base_url)}",
        # Without a METHOD, DTSTAMP is when the event was last changed.
        f"DTSTAMP:{format_utc(lecture.updated_at)}",
        f"DTSTART:{format_utc(lecture.starts_at)}",
        f"DTEND:{format_utc(lecture.ends_at)}",
        f"SEQUENCE:{lecture.sequence or 0}",
        f"SUMMARY:{escape_text(lecture.title)}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    lines.append(f"URL:{lecture.online_url or page_url}")
    lines.append(f"DESCRIPTION:{escape_text(chr(10).join(description_parts))}")
    lines.append(f"STATUS:{'CANCELLED' if lecture.cancelled else 'CONFIRMED'}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold_line(line) + "\r\n" for line in lines)
