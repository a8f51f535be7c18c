"""Hypothesis settings, strategies and shared checks for the fuzz tests.

The ``kb-fuzz`` profile (``FUZZ``, applied to each test as a decorator) is
derandomized, so CI replays the same examples on every run.
``KB_FUZZ_EXAMPLES`` raises the number of examples per test for a longer
local run, for example ``KB_FUZZ_EXAMPLES=500``.
"""

import os
import random
import re
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("KB_FUZZ_EXAMPLES", "25"))

# Each test shares one app and database among its examples: the examples only
# read, or add records that later examples may see, which is harmless here.
settings.register_profile(
    "kb-fuzz",
    derandomize=True,
    deadline=None,
    max_examples=EXAMPLES,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ = settings.get_profile("kb-fuzz")


def reseed_random() -> None:
    """Reseed the global ``random`` module from the system at an example's start.

    Hypothesis seeds ``random`` alike for every example, and Whoosh names new
    index segments with it, so two examples would write segments of one name
    and damage the search index. Hypothesis restores the state afterwards.
    """
    random.seed()


# Names of exception classes that would show up in a leaked error page.
LEAK_RE = re.compile(
    r"Traceback|\b(?:[A-Z][A-Za-z]*(?:Error|Exception)|IntegrityError|"
    r"DataError|OperationalError|StatementError)\b"
)


def assert_handled(response, label: str = "") -> None:
    """Assert the response is no server error and leaks no exception text."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{label}: {response.status_code}\n{body[:800]}"
    leak = LEAK_RE.search(body)
    assert leak is None, f"{label}: body shows {leak.group(0)!r}\n{body[:800]}"


# Whoosh query syntax, field prefixes and wildcards that a reader may type.
QUERY_TOKENS = [
    "AND",
    "OR",
    "NOT",
    "ANDNOT",
    "ANDMAYBE",
    "*",
    "?",
    "~",
    "~2",
    "^",
    "^3",
    ":",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    "\\",
    "/",
    "-",
    "+",
    "title:",
    "body:",
    "type:",
    "acl:",
    "industry:",
    "tags:",
    "published_at:",
    "title:钢*",
    "*:*",
    "钢?",
    "[a TO z]",
    "{1 TO}",
    "[TO 2020]",
    "date:today",
    "<",
    ">",
    "=",
    "钢材",
    "价格",
    "授信",
    "风险",
    "steel",
    "price",
]
SPECIAL_CHARACTERS = [
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\t",
    "\n",
    "\r",
    "\u200f",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\U0001f600",
    "\U0001f1e8\U0001f1f3",
    "\u0301",
    "\uffff",
    "\U0010ffff",
]

words = st.one_of(
    st.sampled_from(QUERY_TOKENS),
    st.sampled_from(SPECIAL_CHARACTERS),
    st.text(
        alphabet=st.characters(codec="utf-8") | st.sampled_from("钢材煤炭银行"),
        max_size=12,
    ),
)

# Any text a parameter may carry, lone surrogates included: ``encode_query``
# sends them as the percent-encoded bytes a browser or script would send.
any_text = st.one_of(
    st.lists(words, max_size=12).map(" ".join),
    st.lists(words, max_size=12).map("".join),
    st.text(max_size=40),
    st.builds(lambda part, count: part * count, words, st.integers(100, 3000)),
)

number_text = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 10**4).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "0", "-1", "1e3", "0x10", "1_0", "１", "²", "٣", " 2 "]),
    any_text,
)


def encode_query(params: dict) -> str:
    """Percent-encode ``params`` as UTF-8, passing lone surrogates through."""
    parts = []
    for name, value in params.items():
        data = value.encode("utf-8", "surrogatepass")
        parts.append(f"{quote(name)}={quote(data, safe='')}")
    return "&".join(parts)
