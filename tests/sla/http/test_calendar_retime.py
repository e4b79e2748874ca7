"""Clocks follow the calendar (issue 16): an official 2027 entered while clocks are open re-times them once.

2027 is beyond chinesecalendar 1.11.0, so SLA starts on the estimate: 春节 除夕 Fri 02-05 to 初三 Mon 02-08 off,
no make-up workday. The entry below is a made-up notice of the usual shape: 02-05 (Fri) to 02-12 (Fri) off,
Saturday 02-20 worked. Hand-derived instants (09:00-17:00 working hours, shipped policy):

* R, ``difficult`` (30 working days) reported Mon 01-25 09:00. Estimate: Jan 25-29 (5), Feb 1-4 (9), Feb 9-12
  (13), 15-19 (18), 22-26 (23), Mar 1-5 (28), Mar 8-9 (30) -> Tue 03-09 17:00. Official: Feb 1-4 (9),
  15-19 (14), Sat 20 (15), 22-26 (20), Mar 1-5 (25), 8-12 (30) -> Fri 03-12 17:00.
* F, first response (1 working day = 8 h) reported Thu 02-04 16:00: 1 h that day, 7 h the next working day.
  Estimate: Tue 02-09 16:00. Official: Mon 02-15 16:00.
* B, first response reported Thu 02-04 16:00 as well, with "now" Tue 02-09 10:00 (before the estimate's
  02-09 16:00). A correction entering 02-05 as a working day moves it to Fri 02-05 16:00, already past: it
  breaches at once, once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from shared.calendar import BusinessCalendar
from shared.calendar_store import CalendarStore
from shared.config import Settings
from sla_service.model import ClockRow
from sla_service.reference import load_policy
from tests.sla.conftest import SHIPPED_POLICY, FakeNow, Rules, SlaHarness, sh

NOTICE = {"holidays": ["2027-01-01", *(f"2027-02-{d:02d}" for d in range(5, 13)), "2027-04-05", "2027-05-01",
                       "2027-05-02", "2027-05-03", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02",
                       "2027-10-03", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07"],
          "workdays": ["2027-02-20", "2027-09-26", "2027-10-09"]}


@pytest.fixture
def followed(env, harness_factory, request) -> tuple[SlaHarness, Rules, CalendarStore]:
    """SLA on China's calendar following the platform store of ``env``, "now" set by the test."""
    store = CalendarStore.open(Settings.from_env(env).auth_database_url)
    calendar = BusinessCalendar(source=store)
    rules = Rules(calendar, load_policy(SHIPPED_POLICY, calendar.seconds_per_working_day), FakeNow(sh(2027, 2, 1, 9)))
    sla = harness_factory(env, ("sla",), cls=SlaHarness, sla=rules.overrides())
    return sla, rules, store


def targets(sla: SlaHarness, demand_id: str) -> dict[str, datetime]:
    with sla.sessions() as session:
        rows = session.scalars(select(ClockRow).where(ClockRow.demand_id == demand_id)).all()
        return {row.kind: row.target_at for row in rows}


def sources(sla: SlaHarness, demand_id: str) -> dict[str, str]:
    """What each clock's deadline rests on, as the SLA API's clock view says."""
    view = sla.client.get(f"/api/v1/sla/demands/{demand_id}", headers=sla.auth("admin")).get_json()
    return {c["kind"]: c["calendar_source"] for c in view["clocks"]}


@pytest.mark.both_backends
def test_the_estimate_is_used_until_an_official_2027_is_entered_then_open_clocks_are_retimed_once(followed):
    sla, rules, _store = followed
    r = sla.submit(reported_at=sh(2027, 1, 25, 9), complexity="difficult")
    f = sla.submit(reported_at=sh(2027, 2, 4, 16))
    sla.pump()
    assert targets(sla, r)["resolution"] == sh(2027, 3, 9, 17)
    assert targets(sla, f)["first_response"] == sh(2027, 2, 9, 16)
    assert sources(sla, r) == {"first_response": "estimate", "resolution": "estimate"}

    answer = sla.client.put("/api/v1/calendar/2027", json=NOTICE, headers=sla.auth("admin", "admin-01"))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["source"], body["estimated"], body["entered_by"]) == ("official", False, "admin-01")
    assert body["revision"] >= 1 and body["entered_at"].endswith("Z")
    rules.calendar.refresh()  # the worker's calendar looks at the store at most every second; now, for the test
    sla.pump()

    assert targets(sla, r)["resolution"] == sh(2027, 3, 12, 17)
    assert targets(sla, f)["first_response"] == sh(2027, 2, 15, 16)
    assert sources(sla, r) == {"first_response": "official", "resolution": "official"}
    updates = [e.data for e in sla.events("clock_retimed")]
    assert sorted((u["demand_id"], u["kind"]) for u in updates) == sorted(
        [(r, "resolution"), (f, "first_response"), (f, "resolution")])
    by_key = {(u["demand_id"], u["kind"]): u for u in updates}
    assert by_key[(r, "resolution")]["previous_target_at"] == sh(2027, 3, 9, 17).astimezone(UTC)
    assert by_key[(r, "resolution")]["calendar_revision"] == body["revision"]
    # R's first response (due Tue 01-26 09:00+8h = 17:00 01-25... long past, breached) has no instant to move.
    assert (r, "first_response") not in by_key

    for _ in range(3):  # more rounds, a sweep: nothing is re-timed twice
        sla.pump()
    again = sla.events("clock_retimed")
    assert len(again) == len(updates)


def test_a_clock_whose_new_target_is_already_past_breaches_at_once_and_once(followed):
    sla, rules, store = followed
    rules.set(sh(2027, 2, 9, 10))
    b = sla.submit(reported_at=sh(2027, 2, 4, 16))
    sla.pump()
    assert targets(sla, b)["first_response"] == sh(2027, 2, 9, 16)
    assert not sla.events("breached", demand_id=b)

    holidays = [date(2027, 1, 1), *(date(2027, 2, d) for d in range(6, 9))]  # 02-05 works in this notice
    store.enter(2027, holidays, [], "admin-01")
    rules.calendar.refresh()
    sla.pump()

    breaches = sla.events("breached", demand_id=b, clock="first_response")
    assert len(breaches) == 1
    with sla.sessions() as session:
        row = session.get(ClockRow, (b, "first_response"))
        assert row.breached_at == sh(2027, 2, 5, 16)
        assert row.status == "breached" and row.next_fire_at is None
    for _ in range(3):
        sla.pump()
    assert len(sla.events("breached", demand_id=b, clock="first_response")) == 1


def test_a_refused_entry_changes_nothing_and_names_the_field(followed):
    sla, _rules, store = followed
    bad = {"holidays": ["2027-02-05", "2026-12-31"], "workdays": ["2027-02-09"]}  # other year; a Tuesday
    answer = sla.client.put("/api/v1/calendar/2027", json=bad, headers=sla.auth("admin"))
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert "2026-12-31 not in 2027" in " ".join(errors["holidays"])
    assert "2027-02-09 is a weekday" in " ".join(errors["workdays"])
    assert store.revision() == 0
    supervisor = sla.auth("supervisor", street="wujiaochang")
    not_admin = sla.client.put("/api/v1/calendar/2027", json=NOTICE, headers=supervisor)
    assert not_admin.status_code == 403 and store.revision() == 0
    assert sla.client.put("/api/v1/calendar/2027", json={"holidays": "soon"},
                          headers=sla.auth("admin")).status_code == 422
    assert sla.client.get("/api/v1/calendar/1800", headers=sla.auth("officer")).status_code == 422


def test_the_year_view_gives_each_day_its_status_and_source(followed):
    sla, _rules, _store = followed
    body = sla.client.get("/api/v1/calendar/2027", headers=sla.auth("officer")).get_json()
    assert (body["source"], body["estimated"]) == ("estimate", True)
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 365
    assert [days[f"2027-02-0{d}"]["kind"] for d in range(5, 9)] == ["holiday"] * 4  # 除夕 .. 初三
    assert {days[f"2027-02-0{d}"]["name"] for d in range(5, 9)} == {"春节"}
    assert days["2027-02-09"] == {"date": "2027-02-09", "working": True, "kind": "workday",
                                  "source": "estimate", "name": None}
    library = sla.client.get("/api/v1/calendar/2026", headers=sla.auth("officer")).get_json()
    assert library["source"] == "library"
    assert {d["date"]: d["kind"] for d in library["days"]}["2026-02-28"] == "makeup_workday"
    assert sla.client.get("/api/v1/calendar/2027").status_code == 401


@pytest.mark.both_backends
def test_two_admins_entering_at_once_each_get_their_own_revision(followed):
    """Revisions are unique and follow commit order, so a process never skips an entry (see calendar_store)."""
    from concurrent.futures import ThreadPoolExecutor

    _sla, _rules, store = followed
    years = list(range(2027, 2035))

    def enter(year: int) -> int:
        return store.enter(year, [date(year, 1, 1)], [], f"admin-{year}").revision

    with ThreadPoolExecutor(8) as pool:
        revisions = list(pool.map(enter, years))
    assert sorted(revisions) == list(range(1, len(years) + 1))
    revision, schedules = store.schedules()
    assert revision == len(years) and sorted(schedules) == years
    assert datetime.now(UTC) - schedules[2030].entered_at < timedelta(minutes=1)


@pytest.mark.both_backends
def test_four_workers_re_timing_at_once_move_each_clock_exactly_once(followed):
    """Four timer transactions at a time over 300 demands: SKIP LOCKED shares the clocks, the revision stamp
    keeps any from being re-timed twice, and a clock nobody needed to move is stamped without an event."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.db import unit_of_work
    from sla_service import commands

    sla, rules, store = followed
    ctx = sla.ctx
    reported = [sh(2027, 1, 18, 9) + timedelta(minutes=7 * i) for i in range(300)]
    for i, at in enumerate(reported):
        facts = {"demand_id": f"00000000-0000-4000-8000-{i:012d}", "street": "wujiaochang", "channel": "grid",
                 "category": "taxation", "complexity": ("simple", "complex", "difficult")[i % 3], "reported_at": at}
        with unit_of_work(ctx.sessions) as session:
            commands.open_clocks(ctx, session, facts, False)
    sla.pump()  # what falls due before the entry fires first
    before = {}
    with ctx.sessions() as session:
        for row in session.scalars(select(ClockRow)):
            before[(row.demand_id, row.kind)] = (row.target_at, row.next_fire_at)
    store.enter(2027, [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 13))], [date(2027, 2, 20)], "admin-01")
    rules.calendar.refresh()

    def drain(_: int) -> int:
        total = 0
        while handled := commands.retime_clocks(ctx, ctx.sessions):
            total += handled
        return total

    with ThreadPoolExecutor(4) as pool:
        handled = sum(pool.map(drain, range(4)))
    sla.pump()

    with ctx.sessions() as session:
        after = {(r.demand_id, r.kind): (r.target_at, r.next_fire_at, r.calendar_revision)
                 for r in session.scalars(select(ClockRow))}
    stale = [k for k, (_, fire, revision) in after.items() if fire is not None and revision != rules.calendar.revision]
    assert not stale
    moved = sorted(k for k in before if before[k][0] != after[k][0])
    announced = sorted((e.data["demand_id"], e.data["kind"]) for e in sla.events("clock_retimed"))
    assert announced == moved  # each moved clock announced once, none twice, none that did not move
    # Only the difficult demands' deadlines reach 02-05 (simple and complex ones end before it).
    assert moved == sorted((f"00000000-0000-4000-8000-{i:012d}", "resolution") for i in range(2, 300, 3))
    assert handled >= len(moved)
