"""No text a user enters runs as script on any page that shows it.

Each test writes the payload corpus through the real forms into every field
of one area. It then renders each page that shows those fields in headless
Chromium, with and without the Content-Security-Policy. No recorder may run,
and the payloads must show as literal text.
"""

from urllib.parse import quote

from kb.extensions import db
from tests.security.xss_payloads import (
    INLINE,
    START_MARKER,
    TAGS,
    body_markers,
    markdown_bodies,
)
from tests.training.documents import make_docx

BODIES = markdown_bodies()
ALL_MARKERS = [marker for body in BODIES for marker in body_markers(body)]


def body(number: int) -> str:
    """Return one corpus body; fields take different ones to cover them all."""
    return BODIES[number % len(BODIES)]


def markers(number: int) -> list[str]:
    return body_markers(body(number))


TITLES = [payload.text.strip() for payload in INLINE]
TAG_NAMES = [payload.text for payload in TAGS]
# The queries cover each kind of trick without loading a page per payload.
QUERY_IDS = ("html-img", "attr-dq", "attr-sq", "script-close", "js-string", "tpl-js")
QUERIES = [payload.text for payload in INLINE if payload.id in QUERY_IDS]
BOUNDARY = "kb-xss-boundary"
DOCX_TYPE = "application/octet-stream"


def record_id(location: str) -> int:
    return int(location.split("#")[0].rstrip("/").rsplit("/", 1)[-1])


def render_everywhere(probes, live_server, pages: dict[str, list[str]]) -> None:
    """Render every page in both contexts as the viewer."""
    for probe in probes:
        probe.sign_in(live_server, "viewer")
        if probe.name == "bypass_csp":
            probe.check_canary()
        for path, expected in pages.items():
            probe.render(f"{live_server}{path}", expected)


def apply_index(app) -> None:
    with app.app_context():
        app.extensions["kb_indexer"].apply_pending()
        db.session.remove()


def test_forum_risk_inbox_search(app, authors, live_server, probes):
    writer, viewer = authors["writer"], authors["viewer"]
    for tag in TAG_NAMES:
        viewer.post("/notifications/follow", {"kind": "tag", "target": tag})
    tags = ",".join(TAG_NAMES)
    post_form = {"signal_type": "market", "severity": "", "visibility": "all"}
    for title in TITLES:
        writer.post(
            "/forum/new", {**post_form, "title": title, "tags": tags, "body_md": "正文"}
        )
    corpus_post = record_id(
        viewer.post(
            "/forum/new",
            {**post_form, "title": TITLES[0], "tags": tags, "body_md": body(0)},
        )
    )
    writer.post(f"/forum/{corpus_post}/replies", {"body_md": body(1)})
    # The replies together hold the whole corpus on one page.
    for text in BODIES:
        location = viewer.post(f"/forum/{corpus_post}/replies", {"body_md": text})
    reply = int(location.rpartition("#reply-")[2])
    viewer.post(
        f"/forum/{corpus_post}/edit",
        {
            **post_form,
            "title": TITLES[1],
            "tags": tags,
            "body_md": body(0) + "\n\n修订",
        },
    )
    # A browser session may file five anonymous reports.
    for number, title in enumerate(TITLES[:4]):
        writer.post(
            "/risk/report",
            {"title": title, "body_md": body(number), "severity": "high", "tags": tags},
            status=200,
        )
    apply_index(app)

    pages = {
        "/forum/": TITLES + TAG_NAMES,
        f"/forum/{corpus_post}": [TITLES[1], *ALL_MARKERS],
        f"/forum/{corpus_post}/edit": [],
        f"/forum/{corpus_post}/revisions": markers(0),
        f"/forum/replies/{reply}/edit": [],
        "/risk/": TITLES[:4],
        "/notifications/": TITLES,
        "/notifications/subscriptions": TAG_NAMES,
        "/": [],
        f"/search/?q={quote('语料开始')}": [START_MARKER],
        "/search/?q=onerror": [],
        "/search/?q=script": [],
    }
    for query in QUERIES:
        pages[f"/search/?q={quote(query)}"] = []
    render_everywhere(probes, live_server, pages)


def test_briefs_and_questions(app, authors, live_server, probes):
    writer, viewer = authors["writer"], authors["viewer"]
    tags = ",".join(TAG_NAMES)
    brief_form = {
        "summary": body(2)[:2000],
        "tags": tags,
        "industries": ["36"],
        "published_on": "2024-06-30",
        "source": TITLES[2],
        "source_url": "",
    }
    for title in TITLES:
        writer.post("/briefs/new", {**brief_form, "title": title, "body_md": "正文"})
    brief = record_id(
        writer.post(
            "/briefs/new", {**brief_form, "title": TITLES[3], "body_md": body(1)}
        )
    )
    writer.post(
        f"/briefs/{brief}/edit",
        {**brief_form, "title": TITLES[4], "body_md": body(1) + "\n\n修订"},
    )
    question_form = {
        "industries": ["36"],
        "skills": tags,
        "expert": str(authors["viewer_id"]),
    }
    for title in TITLES:
        writer.post("/questions/ask", {**question_form, "title": title, "body_md": ""})
    question = record_id(
        writer.post(
            "/questions/ask", {**question_form, "title": TITLES[5], "body_md": body(3)}
        )
    )
    location = viewer.post(f"/questions/{question}/answers", {"body_md": body(4)})
    answer = int(location.rpartition("#answer-")[2])
    apply_index(app)

    pages = {
        "/briefs/": TITLES,
        f"/briefs/{brief}": [TITLES[4], *markers(1), *markers(2), *TAG_NAMES],
        f"/briefs/{brief}/edit": [],
        f"/briefs/{brief}/revisions": [],
        f"/briefs/{brief}/diff": [],
        "/questions/": TITLES,
        "/questions/queue": TITLES,
        f"/questions/{question}": [TITLES[5], *markers(3), *markers(4)],
        f"/questions/answers/{answer}/edit": [],
        "/notifications/": [TITLES[5]],
        f"/search/?q={quote('语料开始')}": [START_MARKER],
    }
    render_everywhere(probes, live_server, pages)


def attachment_upload(token: str, lesson_id: int, filename: str) -> bytes:
    """Return a multipart body that uploads a DOCX named ``filename``."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
        f"{token}\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="lesson_id"\r\n\r\n'
        f"{lesson_id}\r\n"
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {DOCX_TYPE}\r\n\r\n"
    )
    tail = f"\r\n--{BOUNDARY}--\r\n"
    return head.encode() + make_docx(START_MARKER) + tail.encode()


def test_training_and_people(app, authors, live_server, probes):
    writer, viewer = authors["writer"], authors["viewer"]
    for title in TITLES:
        writer.post("/training/courses/new", {"title": title, "description_md": "简介"})
    course = record_id(
        writer.post(
            "/training/courses/new", {"title": TITLES[6], "description_md": body(5)}
        )
    )
    for title in TITLES:
        writer.post(
            f"/training/courses/{course}/lessons/new",
            {"title": title, "body_md": "正文"},
        )
    lesson = record_id(
        writer.post(
            f"/training/courses/{course}/lessons/new",
            {"title": TITLES[9], "body_md": body(6)},
        )
    )
    # A quote would end the multipart file name and a slash starts the base
    # name, so those payloads stay out.
    file_names = [
        f"{title}.docx" for title in TITLES if '"' not in title and "/" not in title
    ][:12]
    for name in file_names:
        writer.post_raw(
            f"/training/courses/{course}/attachments/new",
            attachment_upload(writer.token, lesson, name),
            f"multipart/form-data; boundary={BOUNDARY}",
        )
    lecture_location = ""
    for title in TITLES[:10]:
        lecture_location = writer.post(
            "/training/lectures/new",
            {
                "title": title,
                "course_id": str(course),
                "starts_at": "2030-06-03T14:00",
                "ends_at": "2030-06-03T16:00",
                "place": title,
                "online_url": "",
                "speaker_username": "",
                "speaker_name": TITLES[7][:100],
                "capacity": "",
                "description": body(7),
            },
        )
    lecture = record_id(lecture_location)
    viewer.post(
        "/people/me",
        {
            "headline": TITLES[8],
            "bio_md": body(0),
            "industry_value": ["36"],
            "industry_level": ["2"],
            "skill_value": TAG_NAMES,
            "skill_level": ["1"] * len(TAG_NAMES),
        },
    )
    apply_index(app)

    viewer_page = f"/people/{authors['viewer_id']}"
    pages = {
        "/training/": TITLES,
        f"/training/courses/{course}": [TITLES[6], *markers(5), *file_names],
        f"/training/courses/{course}/edit": [],
        f"/training/lessons/{lesson}": [TITLES[9], *markers(6), *file_names],
        f"/training/lessons/{lesson}/edit": [],
        f"/training/courses/{course}/attachments/new": [],
        "/training/lectures/": TITLES[:10],
        f"/training/lectures/{lecture}": [TITLES[9], TITLES[7][:100], *markers(7)],
        f"/training/lectures/{lecture}/edit": [],
        "/people/": TAG_NAMES,
        viewer_page: [TITLES[8], *markers(0), *TAG_NAMES],
        "/people/me": [],
        f"/search/?q={quote('语料开始')}": [START_MARKER],
    }
    for query in QUERIES:
        pages[f"/people/?q={quote(query)}"] = []
    render_everywhere(probes, live_server, pages)
