"""What the deploy tests share: finding promtool/prometheus, and the queries the dashboards and rules run."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from shared.config import PROJECT_ROOT
from tests.conftest import unavailable

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
DASHBOARD_DIR = PROJECT_ROOT / "deploy" / "grafana" / "dashboards"

# How the live test stands in for Grafana's variables: "All" is `.*`; the ranges are short because the
# live run lasts seconds, not days.
SUBSTITUTIONS = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "10m",
    "$street": ".*",
    "$channel": ".*",
    "$category": ".*",
    "$service": ".*",
}


def require_tool(name: str) -> str:
    """The tool's path; skip without it on a developer's machine, fail in CI (as tests/conftest.py does)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed; run deploy/prometheus/install.sh")
    return path


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL with Grafana's variables) for every query of every panel."""
    found = []
    for board in dashboards().values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((board["uid"], f"{panel['title']} [{target['refId']}]", target["expr"]))
    return found


def substitute(expr: str) -> str:
    """Replace Grafana's variables (longest names first, so $__range is not read as $__r...)."""
    for name in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(name, SUBSTITUTIONS[name])
    leftover = re.findall(r"\$\w+", expr)
    assert not leftover, f"unknown variable(s) {leftover} in {expr}"
    return expr


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in RULE_FILES:
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def recording_rules() -> list[str]:
    return [rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def write_rules_for_fast_evaluation(target: Path) -> list[Path]:
    """Copies of the rule files whose groups use the global evaluation interval (the live test's 1 s)."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in RULE_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in data["groups"]:
            group.pop("interval", None)
        out = target / path.name
        out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(out)
    return written
