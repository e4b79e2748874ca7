"""One running suite per backend for the security module: its cases only read, or are refused before
anything is written, so they share it (building a suite per case would cost minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

import pytest

from devstack import environments
from tests.conftest import _on_the_servers
from tests.harness import Harness, make_harness
from tests.helpers import demand_body

STREET = "wujiaochang"


class Secured(Harness):
    """The suite with one demand logged and routed, and the callers the cases need."""

    demand_id: str = ""
    officer_id: str = ""

    def caller(self, role: str) -> dict[str, str]:
        street = STREET if role in ("grid_worker", "supervisor") else None
        return self.auth(role, {"grid_worker": "grid-wujiaochang-01", "supervisor": "sup-wujiaochang",
                                "officer": self.officer_id}.get(role, f"{role}-1"), street)


@pytest.fixture(scope="module", params=["embedded", pytest.param("production", marks=pytest.mark.production)])
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp(request.param)
    servers: AbstractContextManager[dict[str, str]] = (
        nullcontext(environments.embedded(tmp)) if request.param == "embedded" else _on_the_servers(tmp))
    with pytest.MonkeyPatch.context() as monkeypatch, servers as env:
        suite = make_harness(env, monkeypatch, cls=Secured)
        try:
            created = suite.clients["intake"].post("/api/v1/demands", json=demand_body(),
                                                   headers=suite.auth("grid_worker", "grid-wujiaochang-01", STREET))
            assert created.status_code == 201, created.get_json()
            suite.demand_id = created.get_json()["id"]
            supervisor = suite.auth("supervisor", "sup-wujiaochang", STREET)
            path = f"/api/v1/demands/{suite.demand_id}/assignment"
            assignment = suite.until(lambda: (r := suite.clients["routing"].get(path, headers=supervisor))
                                     .status_code == 200 and r.get_json().get("officer_id") and r.get_json())
            suite.officer_id = assignment["officer_id"]
            yield suite
        finally:
            suite.close()
