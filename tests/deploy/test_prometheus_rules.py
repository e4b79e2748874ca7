"""Prometheus config, recording and alert rules: promtool's checks and the rules' own unit tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from shared.config import PROJECT_ROOT
from tests.deploy.support import (
    PROMETHEUS_DIR,
    RULE_FILES,
    alert_rules,
    panel_queries,
    require_tool,
    substitute,
)

RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_prometheus_config_passes_promtool_check_config():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # the config really loads our rule files (a typo in the glob would load none and still pass)
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout + result.stderr, result.stdout


def test_rule_files_pass_promtool_check_rules():
    result = promtool("check", "rules", *[str(p) for p in RULE_FILES])
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass():
    assert RULE_TESTS, "no promtool rule tests found"
    result = promtool("test", "rules", *[str(p) for p in RULE_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_shown_firing_and_staying_quiet_by_a_unit_test():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"


def test_every_alert_has_a_severity_and_a_runbook_section():
    text = OPERATIONS.read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+ (\w+)\s*$", text, flags=re.MULTILINE))
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}", name
        assert name in headings, f"docs/operations.md has no runbook heading for {name}"


def test_every_dashboard_query_is_valid_promql(tmp_path):
    """Each panel query, with Grafana's variables filled in, parses (checked as a recording rule)."""
    rules = [{"record": f"dashboard_query_{i}", "expr": substitute(expr)}
             for i, (_, _, expr) in enumerate(panel_queries())]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}), encoding="utf-8")
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
