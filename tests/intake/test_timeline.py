"""The timeline in the reader's language (issue 14 item 8): reasons routing writes itself are kept as codes and
said in the page's language, SLA entries carry the deadline that passed, English dates are ISO-like."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from intake_service.domain.policy import timeline_details
from shared.webkit.pages import SESSION_COOKIE
from tests.helpers import demand_body
from tests.signin import session_for

STREET = "wujiaochang"
OFFICER = "com-wujiaochang-1"
WORKER = "grid-wujiaochang-01"
BREACHED = "the resolution deadline was breached"


def test_routings_own_reasons_become_codes_and_typed_reasons_stay_as_typed():
    assert timeline_details("escalated", {"reason": BREACHED, "automatic": True, "to_officer_id": "sup"}) == {
        "reason_code": "resolution_breached", "automatic": True, "to_officer_id": "sup"}
    assert timeline_details("reopened", {"reason": "the enterprise was not satisfied"}) == {
        "reason_code": "enterprise_unsatisfied"}
    typed = timeline_details("transferred", {"reason": "需要税务专员", "to_department": "tax"})
    assert typed["reason"] == "需要税务专员"
    assert timeline_details("transferred", {"reason": BREACHED})["reason"] == BREACHED  # a person's words, kept
    assert timeline_details("feedback_received", {"satisfaction": "satisfied"}) == {"satisfaction": "satisfied"}
    assert timeline_details("feedback_received", {"satisfaction": "satisfied", "comment": "快"})["comment"] == "快"


def _page(intake: Any, demand_id: str, lang: str) -> str:
    client = intake.client.application.test_client()
    client.set_cookie(SESSION_COOKIE, session_for(client.application, "grid_worker", WORKER, STREET))
    resp = client.get(f"/grid/demands/{demand_id}?lang={lang}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_the_timeline_speaks_the_readers_language_and_sla_entries_show_their_deadline(intake):
    resp = intake.client.post("/api/v1/demands", json=demand_body(), headers=intake.grid(STREET, WORKER))
    demand_id = resp.get_json()["id"]
    base = {"demand_id": demand_id, "street": STREET}
    deadline = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai; noticed much later
    intake.publish("yangpu.sla.breached.v1", {
        **base, "channel": "grid", "category": "taxation", "kind": "resolution", "status": "breached",
        "target_at": deadline, "business_seconds_used": 200000.0, "business_seconds_target": 144000,
        "key_enterprise": False, "at": datetime(2026, 11, 28, 3, 7, tzinfo=UTC)})
    intake.publish("yangpu.demand.escalated.v1", {**base, "actor_id": "routing", "to_officer_id": "sup-wujiaochang",
                                                  "reason": BREACHED, "automatic": True})
    intake.until(lambda: "2026-11-27 17:00" in _page(intake, demand_id, "en"))

    english = _page(intake, demand_id, "en")
    assert f"Reason: {BREACHED}" in english
    assert "2026-11-28 11:07" not in english  # when sla noticed is not the deadline that passed
    times = re.findall(r"<time [^>]*>([^<]+)</time>", english)
    assert times and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", t) for t in times), times

    chinese = _page(intake, demand_id, "zh_Hans_CN")
    assert "原因: 已超过办结时限" in chinese
    assert BREACHED not in chinese and "Reason" not in chinese
    assert "2026/11/27 17:00" in chinese and "2026/11/28 11:07" not in chinese  # Chinese dates as before


def test_migration_0005_turns_stored_english_reasons_into_codes_and_matches_the_models(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from devstack.migrate import alembic_config
    from intake_service.model import metadata

    url = f"sqlite:///{tmp_path}/intake.db"
    command.upgrade(alembic_config("intake", url), "0004")
    engine = sa.create_engine(url)
    rows = [(1, "escalated", {"reason": BREACHED, "automatic": True}),
            (2, "reopened", {"reason": "the enterprise was not satisfied"}),
            (3, "transferred", {"reason": "the resolution deadline was breached"}),  # a person's words: kept
            (4, "escalated", {"reason": "企业多次来电"})]
    timeline = sa.table("timeline", sa.column("id"), sa.column("demand_id"), sa.column("event_id"),
                        sa.column("kind"), sa.column("at"), sa.column("details", sa.JSON()))
    with engine.begin() as conn:
        conn.execute(timeline.insert(), [{"id": i, "demand_id": "d", "event_id": f"e{i}", "kind": kind,
                                          "at": datetime(2026, 11, 30, tzinfo=UTC), "details": details}
                                         for i, kind, details in rows])
    command.upgrade(alembic_config("intake", url), "head")
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(timeline.c.id, timeline.c.details).order_by(timeline.c.id)).all())
        assert stored == {1: {"automatic": True, "reason_code": "resolution_breached"},
                          2: {"reason_code": "enterprise_unsatisfied"}, 3: rows[2][2], 4: rows[3][2]}
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert not [d for d in differences if "enterprise_links" in repr(d)], differences
    engine.dispose()


def test_a_deadline_a_new_working_calendar_moved_is_a_timeline_entry_and_other_clock_updates_are_not(intake):
    resp = intake.client.post("/api/v1/demands", json=demand_body(), headers=intake.grid(STREET, WORKER))
    demand_id = resp.get_json()["id"]
    clock = {"demand_id": demand_id, "street": STREET, "channel": "grid", "category": "taxation",
             "kind": "resolution", "status": "running", "business_seconds_used": 3600.0,
             "business_seconds_target": 144000, "key_enterprise": False, "at": datetime(2026, 12, 1, 2, tzinfo=UTC)}
    intake.publish("yangpu.sla.clock_updated.v1", {**clock, "target_at": datetime(2027, 2, 9, 9, tzinfo=UTC)})
    intake.publish("yangpu.sla.clock_retimed.v1", {
        **clock, "target_at": datetime(2027, 2, 16, 9, tzinfo=UTC),
        "previous_target_at": datetime(2027, 2, 9, 9, tzinfo=UTC), "calendar_revision": 3})
    intake.until(lambda: "2027-02-16 17:00" in _page(intake, demand_id, "en"))

    english = _page(intake, demand_id, "en")
    assert english.count("Deadline moved by the new working calendar") == 1  # the lifecycle's update is no entry
    assert "before <time" in english and "2027-02-09 17:00" in english
    view = intake.client.get(f"/api/v1/demands/{demand_id}", headers=intake.grid(STREET, WORKER)).get_json()
    retimed = [t for t in view["timeline"] if t["kind"] == "sla_retimed"]
    assert len(retimed) == 1 and retimed[0]["details"]["calendar_revision"] == 3
