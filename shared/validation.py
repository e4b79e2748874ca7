"""Pure validators for the identifiers enterprises type into intake forms.

Each check comes in two shapes: a ``*_problem`` function returning a human-readable reason (so forms
can tell the caller *why* a value was refused) or ``None``, and a boolean/normalising helper built on
it. Nothing here touches I/O, so the functions are safe to use anywhere, including marshmallow schemas.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "CHECKSUM_MISMATCH",
    "EARLIEST",
    "LATEST",
    "USCC_CHARSET",
    "USCC_WEIGHTS",
    "mask_phone",
    "normalize_phone",
    "normalize_uscc",
    "moment_problem",
    "phone_problem",
    "text_problem",
    "uscc_is_valid",
    "uscc_problem",
    "uscc_with_check",
]

# --- Unified social credit code (统一社会信用代码), GB 32100-2015 --------------------------------------

# 31 characters: digits and upper-case letters without I, O, S, V, Z (easily misread).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_CHARSET)}
CHECKSUM_MISMATCH = "checksum mismatch: the code does not check out, a character is probably mistyped"


def normalize_uscc(code: str) -> str:
    """Strip surrounding whitespace and upper-case, because people paste codes in lower case."""
    return code.strip().upper()


def _uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def _uscc_body_problem(body: str) -> str | None:
    """Problems in the first 17 characters (shared by validation and by ``uscc_with_check``)."""
    for pos, ch in enumerate(body, start=1):
        if ch not in _USCC_VALUE:
            return (
                f"illegal character {ch!r} at position {pos}: only digits and the letters "
                f"A-Y without I, O, S, V, Z are allowed"
            )
    division = body[2:8]
    if not division.isdigit():
        return f"positions 3-8 (administrative division code) must be digits, got {division!r}"
    return None


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid 18-character USCC, or ``None`` if it is.

    Positions 1-2 (registration authority, organisation type) are only checked against the
    charset; positions 3-8 must be digits; position 18 must match the GB 32100-2015 checksum.
    ``static/validation.js`` (shared.webkit) is the same rules for the pages; keep the two in step
    (``tests/e2e/test_grid_offline.py`` runs both on one table of cases).
    Surrounding whitespace and lower-case letters are tolerated (see ``normalize_uscc``).
    """
    norm = normalize_uscc(code)
    if len(norm) != 18:
        return f"a unified social credit code has 18 characters, got {len(norm)}"
    problem = _uscc_body_problem(norm[:17])
    if problem:
        return problem
    if norm[17] not in _USCC_VALUE:
        return f"illegal check character {norm[17]!r} at position 18"
    if norm[17] != _uscc_check_char(norm[:17]):
        # Never say which check character would fit: a worker would "fix" position 18 and file a wrong
        # code; the mistake is as likely in the other 17.
        return CHECKSUM_MISMATCH
    return None


def uscc_is_valid(code: str) -> bool:
    """True when ``code`` passes every check of ``uscc_problem``."""
    return uscc_problem(code) is None


def uscc_with_check(first17: str) -> str:
    """Append the check character to 17 characters, to make valid demo and test codes.

    Raises ValueError with the reason if the 17 characters could never form a valid code.
    """
    body = normalize_uscc(first17)
    if len(body) != 17:
        raise ValueError(f"expected the first 17 characters of a USCC, got {len(body)}")
    problem = _uscc_body_problem(body)
    if problem:
        raise ValueError(problem)
    return body + _uscc_check_char(body)


# --- Mainland China phone numbers ------------------------------------------------------------------

_EXT_RE = re.compile(r"(?:\s*(?:ext\.?|x|转)\s*)(\d{1,6})\s*$", re.IGNORECASE)
_INTL_RE = re.compile(r"^(?:\+\s*86|0086|\(\s*\+?\s*86\s*\))[\s-]*")
_ALLOWED_RE = re.compile(r"[\d\s\-()]")
_AREA_RE = re.compile(r"0\d{2,3}")


def _parse_phone(s: str) -> tuple[str, str, str, str] | str:
    """Return ``(kind, area, number, ext)`` or a problem message.

    ``kind`` is "mobile" (``area`` and ``ext`` empty) or "landline".
    """
    raw = s.strip()
    if not raw:
        return "phone number is empty"
    ext = ""
    m = _EXT_RE.search(raw)
    if m:
        ext = m.group(1)
        raw = raw[: m.start()].rstrip()
    intl = False
    m = _INTL_RE.match(raw)
    if m:
        intl = True
        raw = raw[m.end():]
    for ch in raw:
        if not _ALLOWED_RE.fullmatch(ch):
            return f"illegal character {ch!r} in phone number"
    # Hyphens may separate area code, number and extension; spaces and brackets are cosmetic.
    groups = [g for g in (re.sub(r"[\s()]", "", part) for part in raw.split("-")) if g]
    digits = "".join(groups)
    if not digits:
        return "phone number has no digits"
    if intl and not digits.startswith(("0", "1")):
        # +86 21 6543 2100: the international form drops the trunk prefix 0 of the area code.
        groups[0] = "0" + groups[0]
        digits = "0" + digits
    if not intl and len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]  # bare country code in front of a mobile number
        groups = [digits]

    if digits.startswith("1"):
        if ext:
            return "mobile numbers have no extension"
        if len(digits) != 11:
            return f"a mobile number has 11 digits, got {len(digits)}"
        if digits[1] not in "3456789":
            return "a mobile number starts with 13-19"
        return ("mobile", "", digits, "")

    if not digits.startswith("0"):
        if 7 <= len(digits) <= 8:
            return "landline number needs its area code, e.g. 021-65432100"
        return "not a mainland mobile (1[3-9] + 9 digits) or landline (0 + area code) number"

    if len(groups) > 1 and _AREA_RE.fullmatch(groups[0]):
        area, rest = groups[0], groups[1:]
    else:
        # No separator: 010 and 02x are three-digit area codes, every other one has four digits.
        n = 3 if len(digits) > 1 and digits[1] in "12" else 4
        head = groups[0]
        area = head[:n]
        rest = ([head[n:]] if head[n:] else []) + groups[1:]
        if not _AREA_RE.fullmatch(area):
            return f"area code {area!r} must be 0 followed by 2-3 digits"
    number = "".join(rest)
    if not ext and len(rest) > 1 and not 7 <= len(number) <= 8:
        # 021-65432100-8001: the last hyphen group is an extension when the rest is a full number.
        if 1 <= len(rest[-1]) <= 6 and 7 <= len("".join(rest[:-1])) <= 8:
            ext, number = rest[-1], "".join(rest[:-1])
    if not 7 <= len(number) <= 8:
        return f"a landline number after area code {area} has 7-8 digits, got {len(number)}"
    if number[0] in "01":
        return f"a landline number cannot start with {number[0]}"
    return ("landline", area, number, ext)


def phone_problem(s: str) -> str | None:
    """Why ``s`` is not a mainland mobile or landline number, or ``None`` if it is one.

    Mobiles: 11 digits starting 1[3-9], optionally prefixed +86/0086/86. Landlines: area code
    (0 + 2-3 digits), a 7-8 digit number, optional extension after "-", "ext", "x" or "转".
    Spaces, hyphens and brackets around the area code are tolerated.
    """
    parsed = _parse_phone(s)
    return parsed if isinstance(parsed, str) else None


def normalize_phone(s: str) -> str:
    """Canonical form, so equal numbers compare equal: "13812345678", "021-65432100[-8001]".

    Raises ValueError with the reason for numbers ``phone_problem`` refuses.
    """
    parsed = _parse_phone(s)
    if isinstance(parsed, str):
        raise ValueError(parsed)
    kind, area, number, ext = parsed
    if kind == "mobile":
        return number
    return f"{area}-{number}" + (f"-{ext}" if ext else "")


def mask_phone(s: str) -> str:
    """Hide the middle digits for display and logs: "138****5678", "021-****2100".

    Extensions are dropped. Invalid input yields "****" so a bad value is never echoed in clear.
    """
    parsed = _parse_phone(s)
    if isinstance(parsed, str):
        return "****"
    kind, area, number, _ext = parsed
    if kind == "mobile":
        return f"{number[:3]}****{number[-4:]}"
    return f"{area}-****{number[-4:]}"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"a.b": [..]}``; list indexes become path parts."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for k, v in flatten_errors(value, path).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = list(messages)
        else:
            for item in messages:
                for k, v in flatten_errors(item, prefix).items():
                    flat.setdefault(k, []).extend(v)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


# --- Free text ----------------------------------------------------------------------------------------

# Characters no person types into a demand: C0/C1 controls but tab and newlines (NUL cannot even be
# stored by PostgreSQL), bidi embeddings, overrides and isolates (they make a title read differently
# from what it holds), and lone surrogates (not text at all: no UTF-8 encoding exists for them).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # blank glyphs outside those categories


def _why(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate, not a character"
    elif 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        kind = "a bidirectional control"
    elif code == 0:
        kind = "a NUL character"
    else:
        kind = "a control character"
    return f"must not contain U+{code:04X} ({kind})"


def text_problem(text: str) -> str | None:
    """Why ``text`` is not acceptable free text, or ``None``: the one rule for every text field."""
    bad = _FORBIDDEN.search(text)
    if bad:
        return _why(bad.group())
    if text and not any(ch not in _FILLERS and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
                        for ch in text):
        return "must contain visible characters"
    return None


# --- Moments ------------------------------------------------------------------------------------------

# Every date and time the suite accepts (in a field or inside a cursor) lies in this range, so UTC and
# Asia/Shanghai arithmetic and every database column can hold it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def moment_problem(value: datetime | date) -> str | None:
    """Why ``value`` is outside the range the suite handles (an aware datetime, or a date), or ``None``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return "needs a UTC offset"
        inside = EARLIEST <= value < LATEST
    else:
        inside = EARLIEST.date() <= value < LATEST.date()
    return None if inside else f"must lie between {EARLIEST.year} and {LATEST.year - 1}"
