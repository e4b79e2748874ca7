"""The clock rules of issue 15 on their own: an extension is a new segment (warning and breach re-timed, a
breach already reached kept), and a cancelled clock (withdrawn, rejected, merged) never fires again.

China's calendar, hand-worked in March 2026 (no holidays; Mon 03-02 is a working day, 09:00-17:00).
"""

from __future__ import annotations

from shared.calendar import BusinessCalendar
from sla_service.domain.clock import Clock
from tests.sla.conftest import sh

CAL = BusinessCalendar()
HOUR, DAY = 3600, 28_800


def resolution(days: int = 5) -> Clock:
    return Clock.start("resolution", days * DAY, sh(2026, 3, 2, 9), CAL)


def test_an_extension_moves_the_warning_and_the_target_by_business_time():
    clock = resolution()
    assert clock.target_at(CAL) == sh(2026, 3, 6, 17)
    assert clock.warning_at(CAL) == sh(2026, 3, 5, 17)  # 4 working days
    assert clock.extend(2 * DAY, sh(2026, 3, 4, 10), CAL)
    assert clock.business_seconds_target == 7 * DAY and clock.business_seconds_extended == 2 * DAY
    assert clock.running_since == sh(2026, 3, 4, 10) and clock.business_seconds_used == 2 * DAY + HOUR
    assert clock.target_at(CAL) == sh(2026, 3, 10, 17)  # two working days later (the weekend skipped)
    assert clock.warning_at(CAL) == sh(2026, 3, 9, 13, 48)  # 80 % of 7 days = 44.8 h
    assert clock.next_fire_at(CAL) == sh(2026, 3, 9, 13, 48)
    assert clock.due_events(sh(2026, 3, 6, 17), CAL) == []  # the old target is no deadline any more
    assert clock.stop(sh(2026, 3, 9, 10), CAL) and clock.status == "met"


def test_a_warning_already_given_is_given_again_at_the_new_threshold():
    clock = resolution()
    assert clock.due_events(sh(2026, 3, 6, 9), CAL) == ["warning"]
    assert clock.extend(5 * DAY, sh(2026, 3, 6, 9), CAL)  # 4 days used of 10 now: below 80 %
    assert not clock.warned and clock.warning_at(CAL) == sh(2026, 3, 11, 17)  # 8 days used
    assert clock.due_events(sh(2026, 3, 11, 17), CAL) == ["warning"]
    assert clock.due_events(sh(2026, 3, 13, 17), CAL) == ["breached"]
    assert clock.due_events(sh(2026, 3, 20, 17), CAL) == []  # once


def test_a_breach_already_reached_stays_and_fires_no_second_time():
    clock = resolution()
    assert clock.due_events(sh(2026, 3, 9, 10), CAL) == ["warning", "breached"]
    assert clock.extend(5 * DAY, sh(2026, 3, 9, 10), CAL)
    assert clock.status == "breached" and clock.target_ahead
    assert clock.target_at(CAL) == sh(2026, 3, 13, 17)  # the new target is shown
    assert clock.next_fire_at(CAL) is None and clock.due_events(sh(2026, 3, 20, 9), CAL) == []
    assert clock.stop(sh(2026, 3, 10, 9), CAL) and clock.status == "breached"  # within the new target, still late


def test_a_paused_clock_is_extended_without_running():
    clock = resolution()
    clock.pause(sh(2026, 3, 2, 13), CAL)
    assert clock.extend(DAY, sh(2026, 3, 3, 9), CAL) and clock.running_since is None and clock.status == "paused"
    clock.resume(sh(2026, 3, 4, 9), CAL)
    assert clock.target_at(CAL) == sh(2026, 3, 11, 13)  # 4 h used, 44 h left from Wed 09:00


def test_only_an_open_resolution_clock_is_extended():
    first = Clock.start("first_response", DAY, sh(2026, 3, 2, 9), CAL)
    assert not first.extend(DAY, sh(2026, 3, 2, 10), CAL)
    stopped = resolution()
    stopped.stop(sh(2026, 3, 3, 9), CAL)
    assert not stopped.extend(DAY, sh(2026, 3, 3, 10), CAL) and stopped.business_seconds_target == 5 * DAY
    assert not resolution().extend(0, sh(2026, 3, 3, 10), CAL)


def test_a_cancelled_clock_fires_nothing_and_is_never_reopened():
    clock = resolution()
    assert clock.cancel(sh(2026, 3, 3, 10), CAL)
    assert (clock.status, clock.business_seconds_used, clock.stopped_at) == ("cancelled", DAY + HOUR,
                                                                            sh(2026, 3, 3, 10))
    assert clock.next_fire_at(CAL) is None and clock.due_events(sh(2026, 3, 20, 9), CAL) == []
    assert not clock.reopen(sh(2026, 3, 4, 9), CAL) and not clock.resume(sh(2026, 3, 4, 9), CAL)
    assert not clock.cancel(sh(2026, 3, 4, 9), CAL) and not clock.extend(DAY, sh(2026, 3, 4, 9), CAL)
    met = resolution()
    met.stop(sh(2026, 3, 3, 9), CAL)
    assert not met.cancel(sh(2026, 3, 4, 9), CAL) and met.status == "met"  # what happened stays
