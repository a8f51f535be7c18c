"""A headless Chromium that records any script a payload manages to run.

Every page is rendered twice: once in the context of the ``page`` fixture,
which obeys the Content-Security-Policy, and once in a context created with
``bypass_csp=True``, so a payload stopped only by the policy still counts.
"""

import re
from dataclasses import dataclass, field

import pytest

from kb.auth.models import Department
from kb.extensions import db
from tests.browser.conftest import live_server, page  # noqa: F401
from tests.conftest import PASSWORD, csrf_token, login

# Runs in every frame before the page's own scripts. The recorders are
# read-only properties, so an element with id="__xss" cannot replace them.
RECORDER_JS = """
(() => {
  let sink;
  try { sink = window.top.__xssCalls; } catch (error) { sink = undefined; }
  if (!sink) { sink = []; }
  Object.defineProperty(window, '__xssCalls', {value: sink});
  const recorder = (name) => function (...args) {
    sink.push(name + '(' + args.map(String).join(',') + ')');
  };
  for (const name of ['__xss', 'alert', 'confirm', 'prompt']) {
    Object.defineProperty(window, name, {value: recorder(name)});
  }
})();
"""

# Image errors, autofocus and the toggle event of <details open> fire after
# "load" in a later task. Waiting for three animation frames lets them run, and
# unlike evaluate, wait_for_function times out on a page that stopped running.
SETTLE_JS = "() => (window.__xssFrames = (window.__xssFrames || 0) + 1) > 3"

CANARY_JS = """
() => {
  const img = document.createElement('img');
  img.setAttribute('onerror', "__xss('canary')");
  img.src = 'data:,not-an-image';
  document.body.append(img);
}
"""

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse whitespace runs, as ``inner_text`` and title trimming do."""
    return _SPACE.sub(" ", text).strip()


@dataclass
class Probe:
    """A page of one browser context and what it recorded so far."""

    page: object
    name: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.context.add_init_script(RECORDER_JS)
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._on_console)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.policy_violations.append(message.text)

    def sign_in(self, base: str, username: str) -> None:
        self.page.goto(f"{base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("main button[type=submit]")
        self.page.wait_for_url(f"{base}/")

    def calls(self) -> list[str]:
        """Return the recorder calls and the frames a payload managed to create.

        Frames of the same origin record into the top window. No page of the
        product has a frame, and one that does not run could hang an evaluate,
        so any child frame is reported instead of read.
        """
        handle = self.page.wait_for_function("() => Array.from(window.__xssCalls)")
        found = handle.json_value()
        found.extend(f"frame {frame.url}" for frame in self.page.frames[1:])
        return sorted(set(found))

    def render(self, url: str, expected: list[str]) -> None:
        """Load ``url``, assert nothing ran, and that ``expected`` shows as text."""
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, (self.name, url)
        self.page.wait_for_function(SETTLE_JS, polling="raf")
        assert self.calls() == [], (self.name, url)
        assert self.dialogs == [], (self.name, url)
        assert self.errors == [], (self.name, url)
        assert self.policy_violations == [], (self.name, url)
        text = squash(self.page.inner_text("body"))
        missing = [item for item in expected if squash(item) not in text]
        assert missing == [], (self.name, url)

    def check_canary(self) -> None:
        """Prove the recorder catches an inline handler; only without the policy."""
        self.page.evaluate(CANARY_JS)
        self.page.wait_for_function("() => window.__xssCalls.length > 0")
        assert self.calls() == ["__xss(canary)"]
        self.page.evaluate("() => { window.__xssCalls.length = 0; }")


@pytest.fixture
def probes(page):  # noqa: F811
    """The CSP-obeying page and a second page in a context that bypasses CSP."""
    browser = page.context.browser
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=True
    )
    bypass = context.new_page()
    bypass.set_default_timeout(15_000)
    yield [Probe(page, "csp"), Probe(bypass, "bypass_csp")]
    context.close()


class Author:
    """A test client signed in as one user, posting real forms with CSRF tokens."""

    def __init__(self, app, username: str):
        self.client = app.test_client()
        response = login(self.client, username)
        assert response.status_code == 302, username
        self.token = csrf_token(self.client, "/forum/new")

    def post(self, path: str, data: dict, status: int = 302) -> str:
        """POST a form; return the redirect target, or the page when not 302."""
        response = self.client.post(path, data={"csrf_token": self.token, **data})
        assert response.status_code == status, (path, response.get_data(as_text=True))
        if status == 302:
            return response.headers["Location"]
        return response.get_data(as_text=True)

    def post_raw(self, path: str, body: bytes, content_type: str) -> str:
        response = self.client.post(path, data=body, content_type=content_type)
        assert response.status_code == 302, (path, response.get_data(as_text=True))
        return response.headers["Location"]


@pytest.fixture
def authors(app, make_user, live_server):  # noqa: F811
    """A writer (expert) and a viewer (admin in the risk department) signed in.

    It depends on ``live_server``, which clears ``SERVER_NAME``, so the test
    clients keep their session cookies for the host the server listens on.
    """
    make_user("writer", role="expert", department="公司金融部", display_name="王专家")
    viewer_id = make_user(
        "viewer", role="admin", department="风险管理部", display_name="钱风控"
    )
    with app.app_context():
        department = db.session.query(Department).filter_by(name="风险管理部").one()
        department.handles_risk = True
        db.session.commit()
    app.config["KB_PER_PAGE"] = 500
    return {
        "writer": Author(app, "writer"),
        "viewer": Author(app, "viewer"),
        "viewer_id": viewer_id,
    }
