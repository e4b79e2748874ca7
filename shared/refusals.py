"""A use case's "no": the one exception the service layers raise, in domain words, never an HTTP status.

Each service subclasses :class:`Refused` (``IntakeRefused``, ``RoutingRefused``, ``SlaRefused``) so a log line
or a test says whose rule refused. ``kind`` says why; :mod:`shared.webkit.errors` is the one place a kind
becomes a status code, and a page turns the same refusal into a message. A refusal is raised before
anything is committed, so it changes nothing.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["forbidden", "not_found", "conflict", "invalid", "unsupported", "unavailable"]
KINDS: tuple[Kind, ...] = ("forbidden", "not_found", "conflict", "invalid", "unsupported", "unavailable")


class Refused(Exception):
    """``kind``: forbidden (not yours to do), not_found, conflict (the state does not allow it now),
    invalid (a field is wrong: ``errors`` maps field paths to problems), unsupported (a file of a type not
    accepted, judged by its contents), unavailable (try again later)."""

    def __init__(self, kind: Kind, message: str, errors: dict[str, list[str]] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown refusal kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.errors = errors or {}
