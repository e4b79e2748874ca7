"""The Grafana dashboards: generated from deploy/grafana/generate.py, committed, and consistent."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from types import ModuleType

from shared.config import PROJECT_ROOT
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import CHANNELS
from tests.deploy.support import DASHBOARD_DIR, dashboards

GENERATOR = PROJECT_ROOT / "deploy" / "grafana" / "generate.py"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
GRAFANA_BUILTINS = {"__range", "__rate_interval", "__interval", "__all"}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def titles(board: dict) -> list[str]:
    return [p["title"] for p in board["panels"] if p["type"] != "row"]


def test_regenerating_gives_the_committed_json():
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_check_mode_fails_when_the_committed_json_differs(tmp_path, monkeypatch, capsys):
    generator = load_generator()
    for path in DASHBOARD_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    stale = tmp_path / "pipeline.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace("Consumer lag", "Consumer lag (edited by hand)"),
                     encoding="utf-8")
    monkeypatch.setattr(generator, "OUT_DIR", tmp_path)
    assert generator.main(["--check"]) == 1
    assert "edited by hand" in capsys.readouterr().out
    assert generator.main([]) == 0  # regenerating repairs it
    assert generator.main(["--check"]) == 0


def test_two_dashboards_with_fixed_uids():
    uids = {name: board["uid"] for name, board in dashboards().items()}
    assert uids == {"sla-overview.json": "yangpu-sla-overview", "pipeline.json": "yangpu-pipeline"}


def test_sla_overview_variables_offer_every_street_channel_and_category():
    board = dashboards()["sla-overview.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"street", "channel", "category"}
    for name, codes in (("street", STREETS), ("channel", CHANNELS), ("category", CATEGORIES)):
        var = variables[name]
        assert var["includeAll"] and var["multi"] and var["allValue"] == ".*"
        assert [o["value"] for o in var["options"]] == ["$__all", *codes], name
        assert [part.split(" : ")[1] for part in var["query"].split(",")] == list(codes)


def test_sla_overview_shows_what_supervisors_read():
    shown = " | ".join(titles(dashboards()["sla-overview.json"])).lower()
    for wanted in ("first-response compliance", "within 1 minute", "resolution rate", "breaches by street",
                   "warnings by street", "open demands per street", "oldest unanswered", "top breaching categories",
                   "key-enterprise breaches", "unassigned"):
        assert wanted in shown, wanted


def test_pipeline_shows_what_operators_read():
    shown = " | ".join(titles(dashboards()["pipeline.json"])).lower()
    for wanted in ("per second", "end-to-end event latency", "consumer lag", "outbox depth", "dead letters",
                   "server errors", "processes down"):
        assert wanted in shown, wanted


def test_panels_use_the_provisioned_data_source_and_only_defined_variables():
    for board in dashboards().values():
        defined = {v["name"] for v in board["templating"]["list"]} | GRAFANA_BUILTINS
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{board['uid']}: duplicate panel ids"
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
                used = set(re.findall(r"\$(\w+)", target["expr"]))
                assert used <= defined, f"{panel['title']}: undefined {used - defined}"


def test_every_panel_is_explained_in_the_operations_guide():
    guide = OPERATIONS.read_text(encoding="utf-8")
    for board in dashboards().values():
        for title in titles(board):
            assert f"**{title}**" in guide, f"docs/operations.md does not explain the panel {title!r}"
