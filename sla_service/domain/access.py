"""Who may read what of SLA's figures (the token's role and street).

* ``admin`` (the district office): everything, every street;
* ``supervisor``: their own street -- asking for another street is refused, leaving ``street`` out means theirs;
* ``officer``: the clocks of any demand (officers are assigned across streets and departments, and a clock
  holds no personal data), nothing else (the routes say which roles may call them).
"""

from __future__ import annotations

from shared.auth import Principal
from shared.contracts.reference import STREETS
from sla_service.domain import SlaRefused


def scoped_street(principal: Principal, asked: str | None) -> str | None:
    """The street a caller may see: a supervisor only theirs (refused for another), an admin any or all."""
    if principal.role == "supervisor":
        if asked is not None and asked != principal.street:
            raise SlaRefused("forbidden", f"a supervisor of {principal.street} may not read street {asked}")
        return principal.street
    return asked


def report_streets(principal: Principal) -> list[str]:
    """The streets of a monthly report: a supervisor's own (a supervisor's token always names it), or all."""
    if principal.role == "supervisor":
        return [str(principal.street)]
    return list(STREETS)
