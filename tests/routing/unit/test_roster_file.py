"""The roster file: the demo YAML covers the district, and a bad file is refused naming every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from routing_service.reference import RosterError, read_roster
from shared.config import PROJECT_ROOT
from shared.contracts.reference import DEPARTMENTS, STREETS
from tests.routing.conftest import ROSTER


def test_demo_roster_covers_every_street_and_department():
    officers = read_roster(PROJECT_ROOT / "deploy" / "roster.yaml")
    for street in STREETS:
        kinds = {o["kind"] for o in officers if street in o["streets"]}
        assert {"supervisor", "chief_service_officer", "street_commissioner"} <= kinds, street
    assert {o["department"] for o in officers if o["kind"] == "department_specialist"} == set(DEPARTMENTS)


def test_every_key_enterprise_names_a_chief_officer_of_the_demo_roster():
    ids = {o["id"] for o in read_roster(PROJECT_ROOT / "deploy" / "roster.yaml")}
    enterprises = yaml.safe_load((PROJECT_ROOT / "deploy" / "enterprises.yaml").read_text(encoding="utf-8"))
    chiefs = {e["chief_officer"] for e in enterprises["enterprises"] if e.get("key_enterprise")}
    assert chiefs and chiefs <= ids


def test_a_bad_roster_file_is_refused_naming_every_problem(tmp_path: Path):
    bad = yaml.safe_load(ROSTER.read_text(encoding="utf-8"))
    bad["officers"][1]["streets"] = ["wujiaochang", "atlantis"]
    bad["officers"][2]["skills"] = ["taxation", "astrology"]
    bad["officers"][3]["duty"].update({"from": "17:00", "to": "08:00"})
    bad["officers"][4]["department"] = None
    bad["officers"].append(dict(bad["officers"][0]))
    path = tmp_path / "roster.yaml"
    path.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RosterError) as exc:
        read_roster(path)
    message = str(exc.value)
    for expected in ("officers.1.streets.1: unknown street code 'atlantis'", "officers.2.skills.1",
                     "officers.3.duty.to", "officers.4.department", "officers.7.id: duplicate"):
        assert expected in message
