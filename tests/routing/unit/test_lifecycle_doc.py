"""docs/lifecycle.md's state diagram is the transition table's, so the document cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from routing_service.domain.states import CHINESE, STATES, TRANSITIONS, mermaid

DOC = Path(__file__).resolve().parents[3] / "docs" / "lifecycle.md"


def test_the_document_holds_the_generated_diagram() -> None:
    match = re.search(r"<!-- mermaid:begin[^>]*-->\n```mermaid\n(.*?)```\n<!-- mermaid:end -->", DOC.read_text(
        encoding="utf-8"), re.S)
    assert match, "docs/lifecycle.md lost its mermaid markers"
    assert match.group(1) == mermaid(), "docs/lifecycle.md is stale: paste states.mermaid()'s output"


def test_the_diagram_draws_every_transition_and_names_every_state_in_both_languages() -> None:
    diagram = mermaid()
    for state in STATES:
        assert f'state "{state}<br/>{CHINESE[state]}" as {state}' in diagram
    for (state, _), target in TRANSITIONS.items():
        assert re.search(rf"^    {state} --> {target}: ", diagram, re.M), (state, target)
