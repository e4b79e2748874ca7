"""Department clocks (OLA): the pure holder-span rule against the resolution clock it partitions.

China's calendar (chinesecalendar): March 2026 has no holidays (03-02 is a Monday); one working day is
09:00-17:00 Asia/Shanghai, 28,800 business seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import SHANGHAI, BusinessCalendar
from sla_service.domain import holder
from sla_service.domain.clock import Clock
from sla_service.domain.holder import HolderSpan

HOUR = 3600
DAY = 28_800


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


class Demand:
    """The resolution clock and its spans driven as sla_service.commands.TrackedDemand drives them."""

    def __init__(self, reported_at: datetime, cal: BusinessCalendar) -> None:
        self.cal = cal
        self.clock = Clock.start("resolution", 30 * DAY, reported_at, cal)
        self.spans: list[HolderSpan] = []

    def holder(self, officer: str, at: datetime, kind: str = "street_commissioner", dept: str | None = None) -> None:
        group = holder.holder_group(kind, dept)
        if not self.spans:
            self.spans.append(holder.first_span(officer, kind, group, self.clock, at, self.cal))
        elif self.spans[-1].officer_id != officer:
            self.spans.append(holder.hand_over(self.spans[-1], officer, kind, group, self.clock, at, self.cal))

    def clock_does(self, transition, at: datetime) -> None:
        if transition(self.clock, at, self.cal) and self.spans:
            following = holder.follow(self.spans[-1], self.clock, at, self.cal)
            if following is not None:
                self.spans.append(following)

    def held(self, at: datetime) -> float:
        return sum(span.used_at(at, self.cal) for span in self.spans)


def test_holder_groups():
    assert holder.holder_group("department_specialist", "tax") == "tax"
    assert holder.holder_group("street_commissioner", None) == holder.STREET_GROUP
    assert holder.holder_group("supervisor", "") == "street"
    assert holder.holder_group(None, None) == holder.UNKNOWN_GROUP


def test_two_transfers_and_a_materials_pause_sum_to_the_resolution_clock(cal):
    """Hand-worked: reported Mon 03-02 09:00, first assigned at 10:00 (the hour before counts for A), to B
    Tue 09:00, materials awaited Wed 13:00 .. Mon 03-09 09:00, to C Mon 13:00, resolved Tue 03-10 11:00."""
    d = Demand(sh(2026, 3, 2, 9), cal)
    d.holder("com-a", sh(2026, 3, 2, 10))
    assert d.spans[0].started_at == sh(2026, 3, 2, 9) and d.spans[0].business_seconds_used == HOUR
    d.holder("spec-tax", sh(2026, 3, 3, 9), "department_specialist", "tax")
    d.clock_does(Clock.pause, sh(2026, 3, 4, 13))
    d.clock_does(Clock.resume, sh(2026, 3, 9, 9))
    d.holder("spec-commerce", sh(2026, 3, 9, 13), "department_specialist", "commerce")
    d.clock_does(Clock.stop, sh(2026, 3, 10, 11))

    a, b, c = d.spans
    assert (a.department, a.business_seconds_used, a.ended_at, a.end_reason) == (
        "street", DAY, sh(2026, 3, 3, 9), "handed_over")
    assert (b.department, b.business_seconds_used) == ("tax", DAY + 4 * HOUR + 4 * HOUR)  # Tue, Wed a.m., Mon a.m.
    assert (c.department, c.business_seconds_used, c.end_reason) == ("commerce", 4 * HOUR + 2 * HOUR, "stopped")
    assert d.clock.business_seconds_used == 30 * HOUR
    assert d.held(sh(2026, 3, 12, 9)) == d.clock.business_seconds_used


def test_a_pause_counts_for_no_holder_and_a_transfer_while_paused_starts_paused(cal):
    d = Demand(sh(2026, 3, 2, 9), cal)
    d.holder("com-a", sh(2026, 3, 2, 9))
    d.clock_does(Clock.pause, sh(2026, 3, 2, 11))
    d.holder("spec-tax", sh(2026, 3, 3, 9), "department_specialist", "tax")  # handed over while awaiting
    a, b = d.spans
    assert a.business_seconds_used == 2 * HOUR and b.running_since is None
    assert b.used_at(sh(2026, 3, 4, 9), cal) == 0
    d.clock_does(Clock.resume, sh(2026, 3, 4, 9))
    assert b.used_at(sh(2026, 3, 4, 12), cal) == 3 * HOUR
    assert d.held(sh(2026, 3, 4, 12)) == d.clock.used_at(sh(2026, 3, 4, 12), cal) == 5 * HOUR


def test_a_reopen_starts_the_same_holders_next_span_and_leaves_the_ended_one(cal):
    d = Demand(sh(2026, 3, 2, 9), cal)
    d.holder("spec-tax", sh(2026, 3, 2, 9), "department_specialist", "tax")
    d.clock_does(Clock.stop, sh(2026, 3, 2, 12))
    d.clock_does(Clock.reopen, sh(2026, 3, 3, 9))
    first, again = d.spans
    assert (first.business_seconds_used, first.ended_at) == (3 * HOUR, sh(2026, 3, 2, 12))
    assert (again.officer_id, again.started_at, again.running_since) == ("spec-tax", sh(2026, 3, 3, 9),
                                                                          sh(2026, 3, 3, 9))
    d.clock_does(Clock.stop, sh(2026, 3, 3, 10))
    assert first.business_seconds_used == 3 * HOUR and again.business_seconds_used == HOUR
    assert d.held(sh(2026, 3, 5, 9)) == d.clock.business_seconds_used == 4 * HOUR


def test_the_first_holder_takes_the_time_before_the_assignment_even_across_a_weekend(cal):
    d = Demand(sh(2026, 3, 6, 16), cal)  # Friday 16:00: one business hour that day
    d.holder("com-a", sh(2026, 3, 9, 10))  # assigned Monday 10:00
    assert d.spans[0].business_seconds_used == 2 * HOUR and d.spans[0].started_at == sh(2026, 3, 6, 16)
    # An assignment outside working hours, before the clock starts: the span runs from the clock's start.
    late = Demand(sh(2026, 3, 7, 10), cal)  # Saturday: the clock starts Monday 09:00
    late.holder("com-a", sh(2026, 3, 7, 10, 5))
    late.holder("spec-tax", sh(2026, 3, 7, 11), "department_specialist", "tax")
    assert late.spans[0].business_seconds_used == 0
    assert late.held(sh(2026, 3, 9, 12)) == late.clock.used_at(sh(2026, 3, 9, 12), cal) == 3 * HOUR


def test_transitions_are_idempotent(cal):
    span = HolderSpan("com-a", "street_commissioner", "street", sh(2026, 3, 2, 9), running_since=sh(2026, 3, 2, 9))
    assert span.pause(sh(2026, 3, 2, 10), cal) and not span.pause(sh(2026, 3, 2, 11), cal)
    assert span.resume(sh(2026, 3, 2, 12)) and not span.resume(sh(2026, 3, 2, 13))
    assert span.end(sh(2026, 3, 2, 13), cal, "stopped") and not span.end(sh(2026, 3, 2, 14), cal, "stopped")
    assert not span.resume(sh(2026, 3, 2, 15))
    assert span.business_seconds_used == 2 * HOUR
    with pytest.raises(ValueError, match="end reason"):
        HolderSpan("x", None, "unknown", sh(2026, 3, 2, 9)).end(sh(2026, 3, 2, 9), cal, "lunch")


def test_a_holder_learnt_after_the_clock_stopped_gets_an_ended_span(cal):
    d = Demand(sh(2026, 3, 2, 9), cal)
    d.clock_does(Clock.stop, sh(2026, 3, 2, 10))
    d.holder("com-a", sh(2026, 3, 2, 11))
    assert d.spans[0].is_ended and d.spans[0].business_seconds_used == HOUR == d.clock.business_seconds_used


STEPS = st.lists(st.tuples(st.sampled_from(["transfer", "pause", "resume", "stop", "reopen", "extend"]),
                           st.integers(min_value=0, max_value=40 * 60)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS, first_after=st.integers(min_value=0, max_value=20 * 60))
def test_the_spans_always_sum_to_the_resolution_clock(steps, first_after):
    """Any sequence of holder changes and clock transitions (minutes apart, across nights and weekends)."""
    cal = BusinessCalendar()
    at = sh(2026, 3, 6, 15)
    d = Demand(at, cal)
    at += timedelta(minutes=first_after)
    d.holder("officer-0", at)
    transitions = {"pause": Clock.pause, "resume": Clock.resume, "stop": Clock.stop, "reopen": Clock.reopen,
                   "extend": lambda clock, when, c: clock.extend(DAY, when, c)}
    for n, (step, minutes) in enumerate(steps, start=1):
        at += timedelta(minutes=minutes)
        if step == "transfer":
            d.holder(f"officer-{n}", at, "department_specialist", "tax")
        else:
            d.clock_does(transitions[step], at)
        assert d.held(at) == pytest.approx(d.clock.used_at(at, cal), abs=1e-6)
    later = at + timedelta(days=3)
    assert d.held(later) == pytest.approx(d.clock.used_at(later, cal), abs=1e-6)
    assert sum(1 for span in d.spans if not span.is_ended) <= 1
