"""The officer roster, routing's operator-edited reference data: one validation for the YAML file in
``deploy/`` and for the admin API, and the loader.

``deploy/roster.yaml`` is loaded on start-up (``devstack.seed`` calls :func:`seed`): new officers are inserted
and existing ones updated from the file, except officers an admin has edited through the API since — the
API is where the roster is maintained day to day, and a restart must not silently undo an admin's change.
Open-demand counts and the on/off duty switch are operational state and are never taken from the file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from routing_service.domain.policy import DAYS, EVERY_STREET, KINDS, LifecyclePolicy, parse_minutes
from routing_service.model import Officer
from routing_service.repository import apply_roster_entry, new_officer
from shared.calendar import load_calendar
from shared.config import Settings
from shared.contracts.reference import CATEGORIES, DEPARTMENTS, STREETS
from shared.fields import Phone, Text, count
from shared.sla_policy import read_policy
from shared.validation import flatten_errors

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
TIME = r"^\d{1,2}:\d{2}$"


class RosterError(ValueError):
    """The roster file is not valid; the message lists every problem by path (``officers.3.streets.0``)."""


def _time_of_day(value: str) -> None:
    try:
        parse_minutes(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class DutySchema(Schema):
    days = fields.List(fields.String(validate=validate.OneOf(DAYS, error="unknown day {input!r}; use {choices}")),
                       required=True, validate=validate.Length(min=1, max=7, error="one to seven days"))
    start = fields.String(data_key="from", required=True, validate=[validate.Regexp(TIME), _time_of_day])
    end = fields.String(data_key="to", required=True, validate=[validate.Regexp(TIME), _time_of_day])

    @validates_schema  # runs only when every field is valid on its own
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        if parse_minutes(data["start"]) >= parse_minutes(data["end"]):
            raise ValidationError("must be later than 'from' (shifts do not cross midnight)", "to")


STREET_CODES = validate.OneOf([*STREETS, EVERY_STREET], error="unknown street code {input!r}")
CATEGORY_CODES = validate.OneOf(list(CATEGORIES), error="unknown category code {input!r}")
DEPARTMENT_CODES = validate.OneOf(list(DEPARTMENTS), error="unknown department code {input!r}")


class OfficerFields(Schema):
    """Everything about an officer an admin may set (the id excepted)."""

    name = Text(required=True, validate=validate.Length(min=1, max=100))
    phone = Phone(load_default=None, allow_none=True,
                  metadata={"description": "Office phone the enterprise and grid workers may call"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error="unknown kind {input!r}; use {choices}"))
    streets = fields.List(fields.String(validate=STREET_CODES), required=True,
                          validate=validate.Length(min=1, max=len(STREETS) + 1, error="at least one street (or \"*\")"))
    department = fields.String(allow_none=True, load_default=None, validate=DEPARTMENT_CODES)
    skills = fields.List(fields.String(validate=CATEGORY_CODES), load_default=list,
                         validate=validate.Length(max=len(CATEGORIES)))
    capacity = count(0, 100_000, required=True, strict=True)
    duty = fields.Nested(DutySchema, required=True)


class OfficerIn(OfficerFields):
    id = fields.String(required=True, validate=validate.Regexp(
        ID_PATTERN, error="lower-case letters, digits, '-' and '_', 2-64 characters"))


def officer_problems(entry: dict[str, Any]) -> dict[str, list[str]]:
    """Rules across fields, checked on the complete officer (after a partial update is merged)."""
    problems: dict[str, list[str]] = {}
    kind, streets = entry.get("kind"), entry.get("streets") or []
    if kind == "department_specialist" and not entry.get("department"):
        problems["department"] = ["a department specialist needs a department"]
    if kind != "department_specialist" and entry.get("department"):
        problems["department"] = [f"only department specialists have a department, not a {kind}"]
    if EVERY_STREET in streets and (kind != "department_specialist" or len(streets) > 1):
        problems["streets"] = ['"*" (every street) is for department specialists only, on its own']
    return problems


def validate_officer(raw: Any, schema: Schema | None = None) -> dict[str, Any]:
    """A valid officer dict in the roster's shape, or ValidationError with messages by field."""
    data = (schema or OfficerIn()).load(raw)
    problems = officer_problems(data)
    if problems:
        raise ValidationError(problems)
    return normalise(data)


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Loaded schema data in storage shape: de-duplicated code lists, duty as in the YAML."""
    out = dict(data)
    for key in ("streets", "skills"):
        if key in out:
            out[key] = sorted(set(out[key]))
    if "duty" in out:
        out["duty"] = DutySchema().dump(out["duty"])
    return out


def read_roster(path: Path) -> list[dict[str, Any]]:
    """Parse and validate the whole file; RosterError naming every bad field otherwise."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"{path}: cannot read the roster: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("officers"), list):
        raise RosterError(f"{path}: expected a mapping with an 'officers' list")
    errors: list[str] = []
    officers: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["officers"]):
        try:
            entry = validate_officer(raw)
        except ValidationError as exc:
            errors += [f"officers.{i}.{field}: {'; '.join(msgs)}"
                       for field, msgs in flatten_errors(exc.messages).items()]
            continue
        if entry["id"] in seen:
            errors.append(f"officers.{i}.id: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        officers.append(entry)
    if errors:
        raise RosterError(f"{path}: invalid roster:\n  " + "\n  ".join(errors))
    return officers


def load_roster(session: Session, path: Path) -> int:
    """Insert or update every officer in the file (see the module docstring); returns how many it lists."""
    officers = read_roster(path)
    for entry in officers:
        officer = session.get(Officer, entry["id"])
        if officer is None:
            officer = new_officer(entry["id"])
            session.add(officer)
        elif officer.edited_at is not None:
            continue
        apply_roster_entry(officer, entry)
    return len(officers)


def seed(session: Session, settings: Settings) -> int:
    """Load the roster named by ``ROSTER_PATH``; returns how many officers it lists."""
    return load_roster(session, settings.roster_path)


# --- the SLA policy's lifecycle sections (sla owns and validates the file; routing only reads it) ------------


def read_lifecycle_policy(path: Path, seconds_per_working_day: int) -> LifecyclePolicy:
    """The extension cap and review sample of the SLA policy file, with the defaults where it says nothing."""
    targets = read_policy(path, seconds_per_working_day)
    return LifecyclePolicy(
        max_extensions=targets.max_extensions, max_share_of_target=targets.max_share_of_target,
        review_sample_share=targets.review_sample_share, resolution_seconds=targets.resolution,
        seconds_per_working_day=seconds_per_working_day)


def lifecycle_policy(settings: Settings) -> LifecyclePolicy:
    """This deployment's lifecycle policy (read once per process and file)."""
    return _lifecycle_policy(settings.sla_policy_path, settings.calendar_overrides_path, settings.service_hours)


@functools.cache
def _lifecycle_policy(policy_path: Path, calendar_path: Path, hours: str) -> LifecyclePolicy:
    return read_lifecycle_policy(policy_path, load_calendar(calendar_path, hours).seconds_per_working_day)
