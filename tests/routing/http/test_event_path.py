"""An event crosses each of routing's floors once: the handler makes ONE command call, which goes down to the
rows (repository), the rules (domain) and the announcement (announce), and returns the events it announced.

A profiler records, while the real worker handles the event, every entry into a routing module — a call from
another routing module (or from outside routing) — collapsing consecutive repeats; no module may be entered
twice. Before the renovation one ``submitted`` went handlers → dispatch → policy ⇄ roster (once per officer) →
sla_projection, back up to handlers, then across to the officers' actions module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from shared.contracts import events
from tests.routing.conftest import clock, submitted

PREFIX = "routing_service."


def _module(frame: FrameType | None) -> str:
    return frame.f_globals.get("__name__", "") if frame is not None else ""


class ModuleEntries:
    """A profile function: ``path`` is the routing modules entered, in order, consecutive repeats collapsed;
    ``calls`` the same entries with the function each began in."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.calls: list[str] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not _module(frame).startswith(PREFIX):
            return
        module, caller = _module(frame), frame.f_back
        while caller is not None and not _module(caller).startswith(PREFIX):
            caller = caller.f_back
        if _module(caller) == module:
            return  # a call inside the module: not an entry
        short = module.removeprefix(PREFIX)
        if not self.path or self.path[-1] != short:
            self.path.append(short)
            self.calls.append(f"{short}.{frame.f_code.co_name}")


def _traced(routing: Any, type_: str, publish: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> tuple[
        ModuleEntries, list[Any]]:
    """Publish an event and let the worker handle it with the profiler on; the entries and what the handler
    returned."""
    handlers = routing.worker.spec.handlers
    handler, entries, returned = handlers[type_], ModuleEntries(), []

    def profiled(session: Any, event: Any, data: dict[str, Any]) -> Any:
        sys.setprofile(entries)
        try:
            result = handler(session, event, data)
        finally:
            sys.setprofile(None)
        returned.append(result)
        return result

    monkeypatch.setitem(handlers, type_, profiled)
    publish()
    routing.pump()
    monkeypatch.setitem(handlers, type_, handler)
    return entries, returned


def _check(entries: ModuleEntries, *floors: str) -> None:
    print(f"\nmodules entered: {' -> '.join(entries.path)}\n  by: {' -> '.join(entries.calls)}")
    assert entries.path[:2] == ["handlers", "commands"], entries.calls
    assert len(entries.path) == len(set(entries.path)), f"a module entered twice: {entries.calls}"
    assert set(entries.path) <= {"handlers", "commands", *floors}, entries.calls


@pytest.mark.parametrize("warm", [False, True], ids=["first-event", "roster-cached"])
def test_a_submitted_event_enters_each_module_once(routing, monkeypatch, warm):
    if warm:
        routing.submit()
    data = submitted()
    entries, returned = _traced(routing, events.SUBMITTED, lambda: routing.publish(events.SUBMITTED, data),
                                monkeypatch)
    _check(entries, "repository", "domain.policy", "announce")
    [announced] = returned  # one handler call, one command call: it returned the events it announced
    assert [(e.get_type(), e.get_subject()) for e in announced] == [(events.ASSIGNED, data["demand_id"])]
    assert [e.get_id() for e in routing.read(events.ASSIGNED, data["demand_id"])] == [announced[0].get_id()]


def test_a_clock_event_enters_each_module_once(routing, monkeypatch):
    demand_id = routing.submit()
    entries, returned = _traced(routing, events.CLOCK_UPDATED,
                                lambda: routing.publish(events.CLOCK_UPDATED, clock(demand_id, "first_response")),
                                monkeypatch)
    _check(entries, "repository", "domain.policy")
    assert returned == [[]]  # nothing to announce: no breach
