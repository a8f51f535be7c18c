"""The unified social credit code (统一社会信用代码) of GB 32100-2015.

A code has 18 characters from a 31-character set (digits and capital letters
without I, O, Z, S and V):

- 1: registration authority (for example 9 for market regulation);
- 2: organisation type;
- 3-8: administrative division code (GB/T 2260);
- 9-17: organisation code (GB 11714);
- 18: check character over the first 17.

The check character is C18 = 31 - (sum of value(Ci) * Wi for i = 1..17) mod 31,
with weights Wi = 3^(i-1) mod 31, and 31 written as 0.
"""

import unicodedata

from flask_babel import lazy_gettext as _l

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {char: value for value, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def normalize(raw: str) -> str:
    """Upper-case, full-width to ASCII, without spaces, dashes and control characters.

    Dropping control characters keeps NUL, which PostgreSQL rejects in text
    parameters, out of the queries that look a code up.
    """
    text = raw.translate(_FULL_WIDTH).upper()
    return "".join(
        char
        for char in text
        if not char.isspace() and char != "-" and unicodedata.category(char) != "Cc"
    )


_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def check_character(first17: str) -> str:
    """Compute the check character for the first 17 characters of a code."""
    total = sum(
        VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True)
    )
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str):
    """Why ``code`` (already normalised) is invalid, as a message; None if valid."""
    if len(code) != LENGTH:
        return _l(
            "统一社会信用代码 %(code)s 应为 18 位，实际 %(n)s 位。",
            code=code[:40],
            n=len(code),
        )
    bad = sorted({char for char in code if char not in VALUES})
    if bad:
        return _l(
            "统一社会信用代码 %(code)s 含有不允许的字符：%(chars)s"
            "（不使用 I、O、Z、S、V）。",
            code=code,
            chars=" ".join(bad),
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        return _l(
            "统一社会信用代码 %(code)s 校验位错误：第 18 位为 %(got)s，"
            "按 GB 32100-2015 应为 %(expected)s。",
            code=code,
            got=code[17],
            expected=expected,
        )
    return None


def is_valid(code: str) -> bool:
    return problem(normalize(code)) is None
