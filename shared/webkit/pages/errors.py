"""Field errors in the user's language.

The services' validators (marshmallow schemas, :mod:`shared.validation`) speak English to API clients;
the pages show the same problems beside each field in the user's language. Each known message shape is
matched here and turned into a gettext message with the same facts (position, character...);
anything unknown still reaches the user, marked as a problem, in the validator's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext

Rule = tuple[re.Pattern[str], str, tuple[str, ...]]


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "translate later")
    """Mark a message for the catalogue; it is translated when a problem is shown."""
    return message


# (the validator's message, the catalogue message, the names of its groups in the template)
_RULES: list[Rule] = [
    (re.compile(r"^Missing data for required field\.$"), N_("Required."), ()),
    (re.compile(r"^Field may not be null\.$"), N_("Required."), ()),
    (re.compile(r"^Not a valid (string|integer|boolean)\.$"), N_("Not a valid value."), ()),
    (re.compile(r"^Not a valid datetime\.$"), N_("Not a valid date and time."), ()),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
     N_("Enter %(min)s to %(max)s characters."), ("min", "max")),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), N_("Enter at most %(max)s characters."), ("max",)),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), N_("Enter at least %(min)s characters."), ("min",)),
    (re.compile(r"^Length must be (\d+)\.$"), N_("Enter exactly %(n)s characters."), ("n",)),
    (re.compile(r"^Must be one of: .*\.$|^unknown .* code"), N_("Choose one of the options."), ()),
    (re.compile(r"^String does not match expected pattern\.$|^printable ASCII only$"),
     N_("Use letters, digits, dots, hyphens and underscores only."), ()),
    # Unified social credit code (shared.validation.uscc_problem)
    (re.compile(r"^a unified social credit code has 18 characters, got (\d+)$"),
     N_("A unified social credit code has 18 characters; this one has %(n)s."), ("n",)),
    (re.compile(r"^illegal character '(.)' at position (\d+)"),
     N_("Character %(ch)s at position %(pos)s is not allowed (digits and capital letters except I, O, S, V, Z)."),
     ("ch", "pos")),
    (re.compile(r"^positions 3-8 \(administrative division code\) must be digits"),
     N_("Positions 3 to 8 (the administrative division code) must be digits."), ()),
    (re.compile(r"^illegal check character '(.)' at position 18$"),
     N_("Check character %(ch)s at position 18 is not allowed."), ("ch",)),
    (re.compile(r"^checksum mismatch"),  # never which character would fit: the typo may be anywhere
     N_("This code does not check out: a character is probably mistyped. Compare it with the business licence "
        "character by character."), ()),
    # Phone numbers (shared.validation.phone_problem)
    (re.compile(r"^phone number is empty$|^phone number has no digits$"), N_("Required."), ()),
    (re.compile(r"^illegal character '(.)' in phone number$"),
     N_("Character %(ch)s is not allowed in a phone number."), ("ch",)),
    (re.compile(r"^mobile numbers have no extension$"), N_("A mobile number has no extension."), ()),
    (re.compile(r"^a mobile number has 11 digits, got (\d+)$"),
     N_("A mobile number has 11 digits; this one has %(n)s."), ("n",)),
    (re.compile(r"^a mobile number starts with 13-19$"), N_("A mobile number starts with 13 to 19."), ()),
    (re.compile(r"^landline number needs its area code"), N_("Add the area code, e.g. 021-65432100."), ()),
    (re.compile(r"^not a mainland mobile .* number$|^area code .* must be 0 followed|^a landline number"),
     N_("Enter a mainland mobile number (13812345678) or a landline with its area code (021-65432100)."), ()),
    # reported_at window (intake schemas)
    (re.compile(r"^must not be more than 5 minutes in the future$"), N_("The time cannot be in the future."), ()),
    (re.compile(r"^must not be more than 30 days in the past$"), N_("The time cannot be more than 30 days ago."), ()),
    (re.compile(r"^required: the enterprise registry does not know this USCC"),
     N_("Required: the registry does not know this code, so enter the enterprise's name."), ()),
]
FALLBACK = N_("Not valid: %(detail)s")


def localize(message: str) -> str:
    """One validator message in the user's language."""
    for pattern, template, names in _RULES:
        match = pattern.search(message)
        if match:
            return gettext(template, **{name: match[i] for i, name in enumerate(names, start=1)})
    return gettext(FALLBACK, detail=message)


def _braced(template: str) -> str:
    return re.sub(r"%\((\w+)\)s", r"{\1}", template)


def script_table() -> dict[str, Any]:
    """The same table for the pages' script (``validation.js``), in the user's language, so a problem
    found on the phone reads exactly as the server would put it."""
    return {"rules": [{"pattern": p.pattern, "template": _braced(gettext(t)), "names": list(names)}
                      for p, t, names in _RULES],
            "fallback": _braced(gettext(FALLBACK))}


def localize_all(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Every field's messages in the user's language, duplicates dropped (order kept)."""
    return {field: list(dict.fromkeys(localize(m) for m in messages)) for field, messages in errors.items()}
