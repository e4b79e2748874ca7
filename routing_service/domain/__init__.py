"""Routing's rules, pure: who gets a demand (:mod:`.policy`), what an officer may do next (:mod:`.states`).

No YAML, no session, no web framework here: the rules are tested as plain functions, and every "no" they
lead to is a :class:`RoutingRefused` that the http layer alone turns into a status code or a page message.
"""

from __future__ import annotations

from shared.refusals import Refused


class RoutingRefused(Refused):
    """A routing use case said no (not yours, no such demand or officer, not now, a wrong field)."""
