"""Validators: USCC (GB 32100-2015) and mainland phone numbers."""

import pytest

from shared.validation import (
    CHECKSUM_MISMATCH,
    USCC_CHARSET,
    mask_phone,
    normalize_phone,
    normalize_uscc,
    phone_problem,
    uscc_is_valid,
    uscc_problem,
    uscc_with_check,
)

# The example code commonly quoted for GB 32100-2015, and a code from the demo registry.
KNOWN_VALID = ["91350100M000100Y43", "91310110MA4PFF8Q3P"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_are_valid(code):
    assert uscc_is_valid(code)
    assert uscc_problem(code) is None


def test_with_check_roundtrip_and_every_wrong_check_char_refused():
    code = uscc_with_check("91310110MA1G8XXX1")
    assert len(code) == 18 and uscc_is_valid(code)
    for ch in USCC_CHARSET:
        if ch != code[-1]:
            problem = uscc_problem(code[:-1] + ch)
            # One message whatever was typed: it says the code does not check out, never which character
            # would fit (a worker would "fix" position 18 when the typo is elsewhere).
            assert problem == CHECKSUM_MISMATCH and "does not check out" in problem


def test_check_char_zero_when_sum_divisible():
    # (31 - sum % 31) % 31 must give 0, not 31, for a sum divisible by 31.
    assert uscc_with_check("00000000000000000") == "000000000000000000"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "18 characters, got 0"),
        ("91310110MA1G8XXX1", "18 characters, got 17"),
        ("91310110MA1G8XXX123", "18 characters, got 19"),
        ("91310110MA1G8XIX18", "illegal character 'I' at position 15"),
        ("9131011OMA1G8XXX18", "illegal character 'O' at position 8"),
        ("91310110MA1G8X-X18", "illegal character '-'"),
        ("9131A110MA1G8XXX18", "positions 3-8"),
    ],
)
def test_problem_messages_say_why(code, fragment):
    problem = uscc_problem(code)
    assert problem is not None and fragment in problem
    assert not uscc_is_valid(code)


def test_lower_case_and_whitespace_tolerated():
    code = uscc_with_check("91310110MA1G8XXX1")
    assert uscc_is_valid(f"  {code.lower()} ")
    assert normalize_uscc(f" {code.lower()}\n") == code


def test_uscc_with_check_refuses_impossible_bodies():
    with pytest.raises(ValueError, match="17"):
        uscc_with_check("9131")
    with pytest.raises(ValueError, match="illegal character"):
        uscc_with_check("91310110MA1G8XXZ1")
    with pytest.raises(ValueError, match="positions 3-8"):
        uscc_with_check("91AB0110MA1G8XXX1")


@pytest.mark.parametrize(
    ("raw", "normal", "masked"),
    [
        ("13812345678", "13812345678", "138****5678"),
        ("138 1234 5678", "13812345678", "138****5678"),
        ("138-1234-5678", "13812345678", "138****5678"),
        ("+86 138 1234 5678", "13812345678", "138****5678"),
        ("+8613812345678", "13812345678", "138****5678"),
        ("8613812345678", "13812345678", "138****5678"),
        ("0086-19912345678", "19912345678", "199****5678"),
        ("021-65432100", "021-65432100", "021-****2100"),
        ("02165432100", "021-65432100", "021-****2100"),
        ("021 6543 2100", "021-65432100", "021-****2100"),
        ("(021) 6543-2100", "021-65432100", "021-****2100"),
        ("+86 21 6543 2100", "021-65432100", "021-****2100"),
        ("021-65432100-8001", "021-65432100-8001", "021-****2100"),
        ("021-65432100 ext 8001", "021-65432100-8001", "021-****2100"),
        ("021-65432100 EXT. 12", "021-65432100-12", "021-****2100"),
        ("0571-8888888", "0571-8888888", "0571-****8888"),
        ("057188888888", "0571-88888888", "0571-****8888"),
        ("010-62345678", "010-62345678", "010-****5678"),
    ],
)
def test_valid_phones(raw, normal, masked):
    assert phone_problem(raw) is None
    assert normalize_phone(raw) == normal
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1381234567", "11 digits, got 10"),
        ("138123456789", "11 digits, got 12"),
        ("12812345678", "13-19"),
        ("13812345678 ext 12", "no extension"),
        ("65432100", "area code"),
        ("021-6543210", None),  # 7 digits is a valid length: must be accepted
        ("021-654321", "7-8 digits, got 6"),
        ("021-654321000", "7-8 digits"),
        ("021-05432100", "cannot start with 0"),
        ("138abc45678", "illegal character 'a'"),
        ("+1 650 555 0100", "illegal character '+'"),
        ("5551234", "area code"),
    ],
)
def test_phone_problems(raw, fragment):
    problem = phone_problem(raw)
    if fragment is None:
        assert problem is None
        return
    assert problem is not None and fragment in problem
    with pytest.raises(ValueError):
        normalize_phone(raw)
    assert mask_phone(raw) == "****"


def test_mask_never_echoes_invalid_input():
    assert "secret" not in mask_phone("secret-13812345678")


@pytest.mark.parametrize("raw", ["0", "(0)", "0-", "+86 0"])
def test_degenerate_landline_input_is_a_problem_not_a_crash(raw):
    assert phone_problem(raw) is not None
