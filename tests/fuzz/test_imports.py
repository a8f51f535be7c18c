"""Fuzz the Markdown brief import, the client import and attachment uploads.

Every generated file is either imported or rejected with a message naming the
file or field, never with a traceback or a 5xx.
"""

import io

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from tests.conftest import csrf_token, login
from tests.fuzz.conftest import FUZZ, any_text, assert_handled, reseed_random

# A CLI run and an upload cost more than a GET, so these take fewer examples.
IMPORT_FUZZ = settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 2))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    st.text(max_size=30),
    st.sampled_from(["C", "36", "制造业", "2024-06-30", "2024-13-45", "yes"]),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
FRONT_MATTER_KEYS = [
    "id", "title", "summary", "description", "industries", "tags",
    "publishedAt", "date", "source", "sourceUrl", "category", "author",
]  # fmt: skip
front_matter = st.dictionaries(
    st.one_of(st.sampled_from(FRONT_MATTER_KEYS), st.text(max_size=10)),
    yaml_values,
    max_size=8,
)


def dump_front_matter(meta: dict) -> str:
    return yaml.safe_dump(meta, allow_unicode=True, default_flow_style=False)


# Most generated files get a usable title and body, so that the other keys
# reach the brief service instead of stopping at the missing title.
titled_front_matter = st.builds(
    lambda title, meta: {"title": title, **meta},
    st.one_of(st.just("钢铁行业简报"), yaml_values),
    front_matter,
)
front_matter_text = st.one_of(
    titled_front_matter.map(dump_front_matter),
    titled_front_matter.map(dump_front_matter),
    front_matter.map(dump_front_matter),
    st.text(max_size=200),
    st.sampled_from(
        [
            "title: [unclosed\n",
            "title: a\n  b: c\n",
            "- just\n- a list\n",
            "title: x\npublishedAt: 2024-02-30\n",
            "title: x\ndate: 99999-01-01\n",
            "title: &a [*a]\n",
            "title: !!python/object:os.system x\n",
            "title: x\ntitle: y\n",
            "title: " + "长" * 5000 + "\n",
        ]
    ),
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"])


@st.composite
def markdown_files(draw) -> bytes:
    """Bytes of a Markdown file with generated (often broken) front matter."""
    if draw(st.booleans()):
        meta = draw(front_matter_text)
        body = draw(st.one_of(st.just("正文。"), any_text))
        text = f"---\n{meta}---\n{body}"
        encoding = draw(encodings)
        return text.encode(
            encoding, "surrogatepass" if "utf-8" in encoding else "replace"
        )
    return draw(st.binary(max_size=400))


@pytest.fixture
def admin(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    return client


def assert_cli_handled(result, label: str) -> None:
    assert result.exit_code in (0, 1), f"{label}: exit {result.exit_code}"
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"{label}: {result.exception!r}"
    assert "Traceback" not in result.output, f"{label}\n{result.output}"


def test_markdown_import_handles_any_file(runner, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    path = folder / "report.md"

    @IMPORT_FUZZ
    @given(data=markdown_files())
    def check(data):
        reseed_random()
        path.write_bytes(data)
        result = runner.invoke(args=["import", "markdown", str(folder)])
        label = f"kb import markdown {data[:300]!r}"
        assert_cli_handled(result, label)
        if result.exit_code == 1:
            assert "rejected  report.md: " in result.output, label

    check()


CLIENT_HEADERS = [
    "客户名称", "统一社会信用代码", "行业", "客户经理", "所属机构",
    "客户分层", "客户状态", "持有产品", "备注", "name", "unknown",
]  # fmt: skip
cells = st.one_of(
    st.text(max_size=30).map(lambda text: text.encode("utf-8", "replace").decode()),
    st.sampled_from(["91110000100000000X", "有流失风险", "C", "", " ", "=1+1"]),
    st.integers(-(2**70), 2**70).map(str),
)
sheets = st.tuples(
    st.lists(st.sampled_from(CLIENT_HEADERS) | cells, max_size=6),
    st.lists(st.lists(cells, max_size=7), max_size=5),
)


def csv_bytes(header: list[str], rows: list[list[str]], separator: str, encoding):
    lines = [separator.join(header), *(separator.join(row) for row in rows)]
    return "\n".join(lines).encode(encoding, "replace")


def xlsx_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append([cell.replace("\x00", "") for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@st.composite
def client_files(draw) -> tuple[str, bytes]:
    """A CRM export: CSV or XLSX with generated cells, or garbage bytes."""
    header, rows = draw(sheets)
    kind = draw(st.sampled_from(["csv", "xlsx", "garbage", "truncated"]))
    if kind == "csv":
        separator = draw(st.sampled_from([",", ";", "\t", "，"]))
        data = csv_bytes(header, rows, separator, draw(encodings))
        return "clients.csv", data
    if kind == "xlsx":
        try:
            return "clients.xlsx", xlsx_bytes(header, rows)
        except IllegalCharacterError:
            # openpyxl refuses some control characters in cells.
            return "clients.xlsx", b"PK\x03\x04"
    if kind == "truncated":
        data = xlsx_bytes(["客户名称"], [["甲公司"]])
        return "clients.xlsx", data[: draw(st.integers(0, len(data)))]
    name = draw(st.sampled_from(["clients.csv", "clients.xlsx", "clients.txt"]))
    return name, draw(st.binary(max_size=400))


def test_client_import_cli_handles_any_file(runner, tmp_path):
    @IMPORT_FUZZ
    @given(upload=client_files())
    def check(upload):
        reseed_random()
        name, data = upload
        path = tmp_path / name
        path.write_bytes(data)
        result = runner.invoke(args=["import", "clients", "--dry-run", str(path)])
        label = f"kb import clients {name} {data[:300]!r}"
        assert_cli_handled(result, label)

    check()


def test_client_import_page_handles_any_file(admin):
    token = csrf_token(admin, "/admin/clients/import")

    @IMPORT_FUZZ
    @given(upload=client_files(), dry_run=st.booleans())
    def check(upload, dry_run):
        reseed_random()
        name, data = upload
        form = {"csrf_token": token, "file": (io.BytesIO(data), name)}
        if dry_run:
            form["dry_run"] = "y"
        response = admin.post(
            "/admin/clients/import", data=form, content_type="multipart/form-data"
        )
        assert_handled(response, f"import {name} {data[:300]!r}")

    check()


file_names = st.one_of(
    st.sampled_from(
        ["a.pdf", "a.docx", "a.pptx", "a.xlsx", "a.txt", "a.md", "a.exe", ".pdf"]
    ),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "replace").decode()),
)


def test_attachment_upload_handles_any_file(admin):
    token = csrf_token(admin, "/training/courses/new")
    created = admin.post(
        "/training/courses/new",
        data={"csrf_token": token, "title": "供应链金融", "description_md": ""},
    )
    assert created.status_code == 302
    path = f"{created.headers['Location']}/attachments/new"

    @IMPORT_FUZZ
    @given(
        name=file_names,
        data=st.one_of(
            st.binary(max_size=400), st.just(b"%PDF-1.4\n"), st.just(b"PK\x03\x04")
        ),
        lesson_id=st.one_of(st.just(""), st.text(max_size=12)),
    )
    def check(name, data, lesson_id):
        reseed_random()
        form = {
            "csrf_token": token,
            "file": (io.BytesIO(data), name),
            "lesson_id": lesson_id.encode("utf-8", "replace").decode(),
        }
        response = admin.post(path, data=form, content_type="multipart/form-data")
        assert_handled(response, f"upload {name!r} {data[:200]!r}")

    check()
