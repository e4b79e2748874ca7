"""Intake's rules, pure: who may log and read what, how events move a demand, when to re-publish one.

Nothing in this package touches Flask, SQL, YAML or the bus (``tests/platform/test_layout.py`` checks it), so
every rule is unit-testable on its own. :class:`IntakeRefused` is how intake's use cases say no.
"""

from __future__ import annotations

from shared.refusals import Refused

# A refusal of kind "invalid" reads like the input layer's answer to a body that fails its schema.
INVALID = "some fields are invalid; see errors"


class IntakeRefused(Refused):
    """A use case of intake refused (see :class:`shared.refusals.Refused`): a log line or a test says whose rule."""
