"""The GB 32100-2015 check character of unified social credit codes."""

import pytest

from kb.clients import creditcode

# Codes printed on business licences and in GB 32100-2015 itself.
VALID = (
    "91350100M000100Y43",
    "91440300708461136T",
    "91310000MA1FL6QJ5C",
)


@pytest.mark.parametrize("code", VALID)
def test_published_codes_are_valid(code):
    assert creditcode.problem(code) is None
    assert creditcode.is_valid(code)


def test_weights_are_powers_of_three_mod_31():
    assert creditcode.WEIGHTS == (
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    )  # fmt: skip


@pytest.mark.parametrize("code", VALID)
def test_every_wrong_check_character_is_caught(code):
    for char in creditcode.ALPHABET:
        if char == code[-1]:
            continue
        message = str(creditcode.problem(code[:-1] + char))
        assert f"应为 {code[-1]}" in message


def test_single_changed_character_is_caught():
    code = VALID[0]
    for position in range(17):
        for char in "0A":
            if code[position] == char:
                continue
            changed = code[:position] + char + code[position + 1 :]
            assert creditcode.problem(changed) is not None, changed


def test_check_of_remainder_zero_is_written_0():
    # A body whose weighted sum is a multiple of 31 gets "0", not "31".
    body = "0" * 17
    assert creditcode.check_character(body) == "0"


def test_length_and_letters_are_reported():
    assert "18" in str(creditcode.problem("9135010"))
    message = str(creditcode.problem("91350100M000100I43"))
    assert "I" in message


def test_normalize_reads_typed_codes_leniently():
    assert creditcode.normalize(" 9135-0100m000 100y43 ") == "91350100M000100Y43"
    assert creditcode.normalize("９１３５０１００Ｍ０００１００Ｙ４３") == VALID[0]
    assert creditcode.is_valid("91350100m000100y43")
