"""Actions registered with after_commit run once on commit, and never for a rolled-back savepoint."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData

from shared.db import after_commit, make_engine, session_factory, unit_of_work


def test_after_commit_skips_rolled_back_savepoints_and_transactions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sessions = session_factory(engine, MetaData())
    ran: list[str] = []
    with unit_of_work(sessions) as session:
        after_commit(session, lambda: ran.append("outer"))
        with pytest.raises(RuntimeError), session.begin_nested():
            after_commit(session, lambda: ran.append("failed savepoint"))
            raise RuntimeError("handler failed")
        with session.begin_nested():
            after_commit(session, lambda: ran.append("kept savepoint"))
        assert ran == []
    assert ran == ["outer", "kept savepoint"]
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        after_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError("whole transaction fails")
    assert ran == ["outer", "kept savepoint"]
