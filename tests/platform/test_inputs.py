"""The input layer holds by construction: every API reads bodies through it, every input field is bounded.

A new endpoint or field cannot slip past the rules of :mod:`shared.fields` (free text checked, numbers,
moments and lists bounded) or past :mod:`shared.webkit.inputs` (size, media type, depth): this test walks
every argument schema of the three apps and fails naming the field that is not.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
import pytest
from marshmallow import Schema, fields, validate

import shared.fields as suite_fields
from shared.webkit.inputs import ApiBlueprint, loads

CHECKED_STRINGS = (suite_fields.Text, suite_fields.Token, suite_fields.Uscc, suite_fields.Phone)


def _validators(field: fields.Field) -> list[Any]:
    return list(field.validators)


def _bounded_length(field: fields.Field) -> bool:
    return any(isinstance(v, validate.Length) and v.max is not None for v in _validators(field))


def problems_of(field: fields.Field, path: str) -> list[str]:
    """Why ``field`` is not bounded and checked by the input layer ([] when it is)."""
    kinds = _validators(field)
    if isinstance(field, fields.Nested):
        return unbounded(field.schema, f"{path}.")
    if isinstance(field, fields.List):
        found = problems_of(field.inner, f"{path}[]")
        return found if _bounded_length(field) else [*found, f"{path}: a list without a maximum length"]
    if isinstance(field, suite_fields.Text):
        return [] if _bounded_length(field) else [f"{path}: Text without a maximum length"]
    if isinstance(field, CHECKED_STRINGS):
        return []
    if isinstance(field, fields.String):
        ok = any(isinstance(v, validate.OneOf | validate.Regexp | validate.Equal) for v in kinds)
        return [] if ok else [f"{path}: a String that is not Text/Token/Uscc/Phone nor a choice or pattern"]
    if isinstance(field, fields.Integer | fields.Float):
        ok = any(isinstance(v, validate.Range) and v.min is not None and v.max is not None for v in kinds)
        return [] if ok else [f"{path}: a number without both bounds (use shared.fields.count)"]
    if isinstance(field, fields.DateTime | fields.Date):
        ok = any(getattr(v, "__module__", "") == suite_fields.__name__ for v in kinds)
        return [] if ok else [f"{path}: a date or time not bounded by shared.fields (moment/day)"]
    if isinstance(field, fields.Boolean):
        return []
    return [f"{path}: {type(field).__name__} is not an input field type of the suite"]


def unbounded(schema: Schema | type[Schema], prefix: str = "") -> list[str]:
    instance = schema() if isinstance(schema, type) else schema
    return [p for name, field in instance.fields.items() if not field.dump_only
            for p in problems_of(field, f"{prefix}{field.data_key or name}")]


def argument_schemas(app: Any) -> list[tuple[str, Any]]:
    found = []
    for endpoint, view in app.view_functions.items():
        for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            found.append((f"{endpoint} ({parameter['in']})", parameter["schema"]))
    return found


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from devstack import environments
    from tests.harness import make_harness

    with pytest.MonkeyPatch.context() as monkeypatch:
        suite = make_harness(environments.embedded(tmp_path_factory.mktemp("inputs")), monkeypatch)
        try:
            yield {name: client.application for name, client in suite.clients.items()}
        finally:
            suite.close()


def test_every_api_blueprint_reads_bodies_through_the_input_layer(apps: dict[str, Any]) -> None:
    plain = [f"{service}: {name}" for service, app in apps.items() for name, bp in app.blueprints.items()
             if isinstance(bp, flask_smorest.Blueprint) and not isinstance(bp, ApiBlueprint)]
    assert plain == []


def test_every_input_field_is_checked_and_bounded(apps: dict[str, Any]) -> None:
    schemas = [(f"{service} {where}", schema) for service, app in apps.items()
               for where, schema in argument_schemas(app)]
    assert len(schemas) >= 15  # the walk found the endpoints
    problems = [f"{where}: {p}" for where, schema in schemas for p in unbounded(schema)]
    assert problems == [], "\n".join(problems)


def test_a_hand_written_unbounded_field_is_caught() -> None:
    class Careless(Schema):
        note = fields.String()
        page = fields.Integer()
        since = fields.Date()
        tags = fields.List(suite_fields.Text(validate=validate.Length(max=10)))

    assert len(unbounded(Careless)) == 4


@pytest.mark.parametrize(("raw", "ok"), [("[" * 400 + "]" * 400, True), ("[" * 401 + "]" * 401, False),
                                         ('{"a": "' + "[" * 5000 + '"}', True), ('{"a": 1}', True)])
def test_the_depth_limit_counts_brackets_outside_strings_only(raw: str, ok: bool) -> None:
    if ok:
        loads(raw)
    else:
        with pytest.raises(ValueError, match="nests more than 400"):
            loads(raw)
