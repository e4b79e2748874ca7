"""Reference data and the demo deploy files agree with each other."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from shared.contracts.reference import (
    CATEGORIES,
    DEPARTMENTS,
    STREETS,
    Category,
    Department,
    Street,
    department_for,
)
from shared.validation import uscc_problem

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KINDS = {"supervisor", "chief_service_officer", "street_commissioner", "department_specialist"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(scope="module")
def officers():
    return yaml.safe_load((DEPLOY / "roster.yaml").read_text(encoding="utf-8"))["officers"]


@pytest.fixture(scope="module")
def enterprises():
    return yaml.safe_load((DEPLOY / "enterprises.yaml").read_text(encoding="utf-8"))["enterprises"]


def test_twelve_streets():
    assert len(STREETS) == 12
    assert {"dinghai", "wujiaochang", "xinjiangwan", "changbai"} <= set(STREETS)
    for code, street in STREETS.items():
        assert isinstance(street, Street) and street.code == code
        assert street.name_zh.endswith("街道") and street.name_en and street.local_service


def test_every_category_has_a_known_department():
    assert len(CATEGORIES) == 15 and len(DEPARTMENTS) == 12
    for code, cat in CATEGORIES.items():
        assert isinstance(cat, Category) and cat.code == code
        assert cat.department in DEPARTMENTS
        assert department_for(code) == cat.department
    assert all(isinstance(d, Department) and d.name_zh.startswith("区") for d in DEPARTMENTS.values())
    # every department receives at least one category
    assert {c.department for c in CATEGORIES.values()} == set(DEPARTMENTS)


def test_department_for_examples_and_unknown():
    assert department_for("taxation") == "tax"
    assert department_for("intellectual_property") == "market_regulation"
    assert department_for("other") == "business_office"
    with pytest.raises(KeyError):
        department_for("no_such_category")


def test_reference_records_are_frozen():
    with pytest.raises(AttributeError):
        STREETS["dinghai"].name_en = "x"  # type: ignore[misc]


def _minutes(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    assert len(hh) == 2 and len(mm) == 2
    value = int(hh) * 60 + int(mm)
    assert 0 <= int(mm) < 60 and 0 <= value <= 24 * 60
    return value


def test_roster_codes_are_known(officers):
    ids = [o["id"] for o in officers]
    assert len(ids) == len(set(ids)), "officer ids are unique"
    for o in officers:
        assert o["kind"] in KINDS, o["id"]
        assert o["name"] and isinstance(o["capacity"], int) and o["capacity"] > 0
        assert o["streets"] == ["*"] or set(o["streets"]) <= set(STREETS), o["id"]
        assert o["skills"] and set(o["skills"]) <= set(CATEGORIES), o["id"]
        if o["kind"] == "department_specialist":
            assert o["department"] in DEPARTMENTS
            assert set(o["skills"]) == {c for c, cat in CATEGORIES.items() if cat.department == o["department"]}
        else:
            assert "department" not in o
        duty = o["duty"]
        assert duty["days"] and set(duty["days"]) <= set(DAYS)
        assert _minutes(duty["from"]) < _minutes(duty["to"])


def test_roster_covers_every_street_and_department(officers):
    by_id = {o["id"]: o for o in officers}
    for street in STREETS:
        assert by_id[f"sup-{street}"]["kind"] == "supervisor"
        assert by_id[f"cso-{street}"]["kind"] == "chief_service_officer"
        com1, com2 = by_id[f"com-{street}-1"], by_id[f"com-{street}-2"]
        assert com1["kind"] == com2["kind"] == "street_commissioner"
        assert set(com1["skills"]) | set(com2["skills"]) == set(CATEGORIES)
        assert com1["duty"] == {"days": DAYS, "from": "00:00", "to": "24:00"}
        assert com2["duty"] == {"days": DAYS[:5], "from": "09:00", "to": "17:00"}
    for dept in DEPARTMENTS:
        assert by_id[f"spec-{dept}"]["department"] == dept


def test_enterprise_usccs_valid_and_unique(enterprises):
    assert len(enterprises) == 36
    codes = [e["uscc"] for e in enterprises]
    assert len(set(codes)) == len(codes)
    for e in enterprises:
        assert uscc_problem(e["uscc"]) is None, (e["uscc"], uscc_problem(e["uscc"]))
        assert e["uscc"][2:8] == "310110", "registered in Yangpu district"
        assert e["name"].startswith("上海") and e["name"].endswith("公司")
    assert len({e["name"] for e in enterprises}) == 36


def test_three_enterprises_and_one_key_enterprise_per_street(enterprises, officers):
    ids = {o["id"]: o for o in officers}
    assert Counter(e["street"] for e in enterprises) == dict.fromkeys(STREETS, 3)
    for street in STREETS:
        keys = [e for e in enterprises if e["street"] == street and e["key_enterprise"] is True]
        assert len(keys) == 1, street
        chief = ids.get(keys[0]["chief_officer"])
        assert chief is not None, keys[0]["chief_officer"]
        assert chief["kind"] == "chief_service_officer" and street in chief["streets"]
    for e in enterprises:
        assert isinstance(e["key_enterprise"], bool)
        assert ("chief_officer" in e) == e["key_enterprise"]


def test_the_tests_sla_policy_is_the_shipped_one_without_sampled_reviews():
    """tests/sla_policy.yaml (every test's SLA_POLICY_PATH) may differ from the shipped policy in the review
    sample only, so the tests time demands as production does."""
    shipped = yaml.safe_load((DEPLOY / "sla_policy.yaml").read_text(encoding="utf-8"))
    tests = yaml.safe_load((DEPLOY.parent / "tests" / "sla_policy.yaml").read_text(encoding="utf-8"))
    assert shipped["review"]["sample_share"] > 0 and tests["review"]["sample_share"] == 0
    shipped["review"].pop("sample_share"), tests["review"].pop("sample_share")
    assert tests == shipped
