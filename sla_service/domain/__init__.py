"""SLA's pure rules: the policy, the business-time clock, the compliance counts and who may read what.

Nothing here reads a file, opens a session or knows the web: the rest of the service feeds these rules
rows and requests, and they answer in values or with an :class:`SlaRefused`.
"""

from __future__ import annotations

from shared.refusals import Refused


class SlaRefused(Refused):
    """A read or a change the SLA service will not do (another street's figures, an unknown demand …)."""
