"""What the deploy tests share: finding the tools (promtool, prometheus, amtool, alertmanager), the queries the
dashboards and rules run, and the live tests' helpers (free ports, HTTP, waiting)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from shared.config import PROJECT_ROOT, SERVICES
from tests.conftest import unavailable

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
ALERTMANAGER_DIR = PROJECT_ROOT / "deploy" / "alertmanager"
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
        script = "alertmanager" if name in ("amtool", "alertmanager") else "prometheus"
        unavailable(f"{name} is not installed; run deploy/{script}/install.sh")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """(status, JSON answer or text) of a request; an HTTP error status is returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """The first truthy value of ``check`` (polled every 0.5 s; OSError/ValueError count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.5)


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


def prometheus_config(path: Path, rules: list[Path], web: dict[str, int], workers: dict[str, int],
                      alertmanager_port: int | None = None) -> Path:
    """The production config's jobs and labels, pointed at a live run's ports, scraping every second; alerts
    go to the Alertmanager on ``alertmanager_port`` if given."""
    def targets(ports: dict[str, int]) -> list[dict[str, Any]]:
        return [{"targets": [f"127.0.0.1:{ports[s]}"], "labels": {"app": s}} for s in SERVICES]

    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(r) for r in rules],
        "scrape_configs": [{"job_name": "yangpu-web", "static_configs": targets(web)},
                           {"job_name": "yangpu-worker", "static_configs": targets(workers)}],
    }
    if alertmanager_port is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
