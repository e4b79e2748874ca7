"""Field errors in the user's language.

The services' validators (marshmallow schemas, :mod:`shared.validation`) speak English to API clients;
the pages show the same problems beside each field in the user's language. Each known message shape is
matched here and turned into a gettext message with the same facts (position, expected character...);
anything unknown still reaches the user, marked as a problem, in the validator's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from flask_babel import gettext

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_RULES: list[Rule] = [
    (re.compile(r"^Missing data for required field\.$"), lambda m: gettext("Required.")),
    (re.compile(r"^Field may not be null\.$"), lambda m: gettext("Required.")),
    (re.compile(r"^Not a valid (string|integer|boolean)\.$"), lambda m: gettext("Not a valid value.")),
    (re.compile(r"^Not a valid datetime\.$"), lambda m: gettext("Not a valid date and time.")),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
     lambda m: gettext("Enter %(min)s to %(max)s characters.", min=m[1], max=m[2])),
    (re.compile(r"^Longer than maximum length (\d+)\.$"),
     lambda m: gettext("Enter at most %(max)s characters.", max=m[1])),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"),
     lambda m: gettext("Enter at least %(min)s characters.", min=m[1])),
    (re.compile(r"^Length must be (\d+)\.$"), lambda m: gettext("Enter exactly %(n)s characters.", n=m[1])),
    (re.compile(r"^Must be one of: .*\.$|^unknown .* code"), lambda m: gettext("Choose one of the options.")),
    (re.compile(r"^String does not match expected pattern\.$|^printable ASCII only$"),
     lambda m: gettext("Use letters, digits, dots, hyphens and underscores only.")),
    # Unified social credit code (shared.validation.uscc_problem)
    (re.compile(r"^a unified social credit code has 18 characters, got (\d+)$"),
     lambda m: gettext("A unified social credit code has 18 characters; this one has %(n)s.", n=m[1])),
    (re.compile(r"^illegal character '(.)' at position (\d+)"),
     lambda m: gettext("Character %(ch)s at position %(pos)s is not allowed (digits and capital letters "
                       "except I, O, S, V, Z).", ch=m[1], pos=m[2])),
    (re.compile(r"^positions 3-8 \(administrative division code\) must be digits"),
     lambda m: gettext("Positions 3 to 8 (the administrative division code) must be digits.")),
    (re.compile(r"^illegal check character '(.)' at position 18$"),
     lambda m: gettext("Check character %(ch)s at position 18 is not allowed.", ch=m[1])),
    (re.compile(r"^checksum mismatch: expected (.) at position 18, got (.)$"),
     lambda m: gettext("The check character (position 18) should be %(expected)s, not %(got)s: please "
                       "check the code for a typo.", expected=m[1], got=m[2])),
    # Phone numbers (shared.validation.phone_problem)
    (re.compile(r"^phone number is empty$|^phone number has no digits$"), lambda m: gettext("Required.")),
    (re.compile(r"^illegal character '(.)' in phone number$"),
     lambda m: gettext("Character %(ch)s is not allowed in a phone number.", ch=m[1])),
    (re.compile(r"^mobile numbers have no extension$"), lambda m: gettext("A mobile number has no extension.")),
    (re.compile(r"^a mobile number has 11 digits, got (\d+)$"),
     lambda m: gettext("A mobile number has 11 digits; this one has %(n)s.", n=m[1])),
    (re.compile(r"^a mobile number starts with 13-19$"),
     lambda m: gettext("A mobile number starts with 13 to 19.")),
    (re.compile(r"^landline number needs its area code"),
     lambda m: gettext("Add the area code, e.g. 021-65432100.")),
    (re.compile(r"^not a mainland mobile .* number$|^area code .* must be 0 followed|^a landline number"),
     lambda m: gettext("Enter a mainland mobile number (13812345678) or a landline with its area code "
                       "(021-65432100).")),
    # reported_at window (intake schemas)
    (re.compile(r"^must not be more than 5 minutes in the future$"),
     lambda m: gettext("The time cannot be in the future.")),
    (re.compile(r"^must not be more than 30 days in the past$"),
     lambda m: gettext("The time cannot be more than 30 days ago.")),
    (re.compile(r"^required: the enterprise registry does not know this USCC"),
     lambda m: gettext("Required: the registry does not know this code, so enter the enterprise's name.")),
]


def localize(message: str) -> str:
    """One validator message in the user's language."""
    for pattern, render in _RULES:
        match = pattern.search(message)
        if match:
            return render(match)
    return gettext("Not valid: %(detail)s", detail=message)


def localize_all(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Every field's messages in the user's language, duplicates dropped (order kept)."""
    return {field: list(dict.fromkeys(localize(m) for m in messages)) for field, messages in errors.items()}
