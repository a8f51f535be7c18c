"""Every ``next`` parameter redirects only to a path on this site.

The Location header is resolved the way a browser resolves it (WHATWG URL
parsing for http and https): leading and trailing spaces and control
characters are stripped, tabs and newlines inside are removed, and a
backslash counts as a slash.
"""

import re
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import HOST, PASSWORD, csrf_token, login

BASE = f"http://{HOST}"

OFF_SITE = [
    "https://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,x",
    "\t//evil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "//evil.example@kb",
    "https://kb.localhost.evil.example",
    "http://localhost@evil.example",
    "／／evil.example",
    "/／evil.example",
    "\uff0f\uff0fevil.example",
    "/" + "a" * 10_000,
    "//" + "a" * 10_000 + ".example",
    "/forum\r\nSet-Cookie: session=attacker",
    "/forum\nLocation: https://evil.example",
    "/%0d%0aSet-Cookie:%20x=y",
]

SAME_SITE = "/forum/?signal_type=risk&tag=钢材"


SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)


def browser_resolve(base: str, location: str) -> str:
    """Resolve ``location`` against ``base`` as a browser would.

    Follows the WHATWG URL parser for http and https bases, where Python's
    urljoin differs: any run of two or more slashes starts a host, and
    ``http:/x`` means a host when the base is https.
    """
    cleaned = location.strip("".join(chr(code) for code in range(33)))
    cleaned = re.sub(r"[\t\n\r]", "", cleaned)
    cleaned = cleaned.replace("\\", "/")
    base_scheme = urlsplit(base).scheme
    match = SCHEME_RE.match(cleaned)
    if match:
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in ("http", "https"):
            return cleaned
        if scheme == base_scheme and not rest.startswith("//"):
            return urljoin(base, rest)
        return f"{scheme}://{rest.lstrip('/')}"
    if cleaned.startswith("//"):
        return f"{base_scheme}://{cleaned.lstrip('/')}"
    return urljoin(base, cleaned)


def assert_same_site(response, target: str, request_url: str) -> None:
    assert response.status_code == 302, (target[:60], response.status_code)
    location = response.headers["Location"]
    assert "\r" not in location, target[:60]
    assert "\n" not in location, target[:60]
    resolved = urlsplit(browser_resolve(request_url, location))
    assert resolved.scheme in ("http", "https"), (target[:60], location[:80])
    assert resolved.hostname == HOST, (target[:60], location[:80])
    assert resolved.username is None, (target[:60], location[:80])
    for header in response.headers.getlist("Set-Cookie"):
        assert "attacker" not in header, target[:60]
        assert "x=y" not in header, target[:60]


@pytest.mark.parametrize(
    "location, host",
    [
        ("///evil.example", "evil.example"),
        ("/\\evil.example", "evil.example"),
        ("\t//evil.example", "evil.example"),
        ("https:evil.example", "evil.example"),
        ("http:/evil.example", HOST),
        ("/forum/1", HOST),
        ("forum/1", HOST),
    ],
)
def test_browser_resolve(location, host):
    assert urlsplit(browser_resolve(f"{BASE}/login", location)).hostname == host


@pytest.fixture
def staff(make_user):
    make_user("manager")
    return "manager"


def test_login_query_next_when_signed_in(client, staff):
    login(client)
    for target in OFF_SITE:
        response = client.get("/login", query_string={"next": target})
        assert_same_site(response, target, f"{BASE}/login")
    response = client.get("/login", query_string={"next": SAME_SITE})
    assert response.headers["Location"] == SAME_SITE.replace(
        "钢材", "%E9%92%A2%E6%9D%90"
    )


def test_login_form_next(app, staff):
    for target in [*OFF_SITE, SAME_SITE]:
        browser = app.test_client()
        data = {
            "username": "manager",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_token(browser),
        }
        response = browser.post("/login", data=data)
        assert_same_site(response, target, f"{BASE}/login")
    assert (
        urlsplit(browser_resolve(BASE, response.headers["Location"])).path == "/forum/"
    )
    assert "signal_type=risk" in response.headers["Location"]


def test_sign_in_returns_to_requested_page(client, staff):
    response = client.get("/forum/?tag=钢材")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert urlsplit(browser_resolve(BASE, login_url)).path == "/login"
    page = client.get(login_url)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True))
    # The sign-in form's own field; the language switch above it has one too.
    next_value = re.search(r'id="next"[^>]*value="([^"]*)"', page.get_data(True))
    assert next_value is not None
    response = client.post(
        login_url,
        data={
            "username": "manager",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": next_value.group(1).replace("&amp;", "&"),
        },
    )
    resolved = urlsplit(browser_resolve(BASE, response.headers["Location"]))
    assert resolved.hostname == HOST
    assert resolved.path == "/forum/"
    assert "tag=" in resolved.query


def test_language_switch_next(client, staff):
    for signed_in in (False, True):
        if signed_in:
            login(client)
        for target in OFF_SITE:
            token = csrf_token(client, "/login" if not signed_in else "/")
            response = client.post(
                "/language", data={"locale": "en", "next": target, "csrf_token": token}
            )
            assert_same_site(response, target, f"{BASE}/language")
        token = csrf_token(client, "/login" if not signed_in else "/")
        response = client.post(
            "/language",
            data={"locale": "zh_CN", "next": SAME_SITE, "csrf_token": token},
        )
        resolved = urlsplit(browser_resolve(BASE, response.headers["Location"]))
        assert resolved.path == "/forum/"
        assert "signal_type=risk" in resolved.query


@pytest.mark.parametrize(
    "path, data",
    [
        ("/notifications/read", {}),
        ("/notifications/follow", {"kind": "industry", "target": "36"}),
        ("/notifications/unfollow", {"kind": "industry", "target": "36"}),
    ],
)
def test_notification_forms_next(client, staff, path, data):
    login(client)
    token = csrf_token(client, "/")
    for target in OFF_SITE:
        response = client.post(path, data={**data, "next": target, "csrf_token": token})
        assert_same_site(response, target, f"{BASE}{path}")
    response = client.post(path, data={**data, "next": SAME_SITE, "csrf_token": token})
    resolved = urlsplit(browser_resolve(BASE, response.headers["Location"]))
    assert resolved.path == "/forum/"
    assert "signal_type=risk" in resolved.query
