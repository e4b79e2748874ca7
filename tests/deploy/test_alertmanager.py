"""Alertmanager's configuration (shared/alerting.py, deploy/alertmanager/): who receives which alert.

The generator's choices (supervisors per street, the admins' fallback, disabled accounts left out), then
Alertmanager's own tools on what it writes and on the shipped example: `amtool check-config` must load it
with its templates, `amtool config routes test` must send a street's alert to that street and everything
else to the district, each also to the suite's webhook, and the e-mail templates must render in Chinese.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from shared import alerting
from shared.accounts import Account
from shared.config import PROJECT_ROOT, Settings
from shared.contracts.reference import STREETS
from tests.deploy.support import ALERTMANAGER_DIR, alert_rules, require_tool

EXAMPLE_ENV = {"INTAKE_URL": "https://localhost", "ROUTING_URL": "https://localhost:8444",
               "SLA_URL": "https://localhost:8445", "ROUTING_INTERNAL_URL": "http://routing-web:8002"}
# How deploy/alertmanager/ was rendered (see docs/operations.md); the test below renders it again.
EXAMPLE_ARGS = ["config", "--example", "--out", "{out}", "--mounted-at", "/etc/alertmanager",
                "--smtp-smarthost", "smtp.example.cn:587", "--smtp-from", "alerts@example.cn",
                "--smtp-username", "alerts", "--smtp-password-file", "/run/secrets/yangpu/smtp.password",
                "--webhook-token-file", "/run/secrets/yangpu/alertmanager.token"]


def account(username: str, role: str, street: str | None = None, *, disabled: bool = False) -> Account:
    return Account(username=username, role=role, street=street, email=f"{username}@example.cn", officer_id=None,
                   must_change_password=False, failed_count=0, locked_until=None, disabled=disabled,
                   created_at=0, updated_at=0)


ACCOUNTS = [
    account("admin.li", "admin"),
    account("admin.old", "admin", disabled=True),
    account("sup.yinhang", "supervisor", "yinhang"),
    account("sup.yinhang2", "supervisor", "yinhang"),
    account("sup.wujiaochang", "supervisor", "wujiaochang"),
    account("sup.gone", "supervisor", "dinghai", disabled=True),
    account("grid.yinhang", "grid_worker", "yinhang"),
]


# --- the generator -----------------------------------------------------------------------------------------


def test_a_street_is_told_through_its_enabled_supervisors_only():
    people = alerting.recipients(ACCOUNTS)
    assert people.streets["yinhang"] == ["sup.yinhang2@example.cn", "sup.yinhang@example.cn"]
    assert people.streets["wujiaochang"] == ["sup.wujiaochang@example.cn"]


def test_a_street_without_an_enabled_supervisor_falls_back_to_the_admins():
    people = alerting.recipients(ACCOUNTS)
    assert people.admins == ["admin.li@example.cn"]  # the disabled admin is not told
    assert people.streets["dinghai"] == ["admin.li@example.cn"]  # its only supervisor is disabled
    assert set(people.streets) == set(STREETS)


def test_nobody_to_tell_leaves_the_receiver_without_e_mail():
    """Alertmanager accepts a receiver without e-mail; the webhook still gets the alert."""
    config = build(alerting.recipients([account("sup.yinhang", "supervisor", "yinhang")]))
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["district"] == {"name": "district"}
    assert receivers["street-dinghai"] == {"name": "street-dinghai"}
    assert receivers["street-yinhang"]["email_configs"][0]["to"] == "sup.yinhang@example.cn"


def build(people: alerting.Recipients, **smtp: object) -> dict:
    return alerting.build_config(people, alerting.Smtp("mail.example.cn:25", "alerts@example.cn", **smtp),
                                 webhook_url="http://routing/api/v1/alerts/webhook",
                                 webhook_token_file="/secrets/token", templates_dir="/etc/am/templates")


def test_the_config_routes_each_street_and_names_no_secret():
    config = build(alerting.recipients(ACCOUNTS), username="alerts", password_file="/secrets/smtp")
    routes = config["route"]["routes"]
    assert routes[0] == {"receiver": "suite-webhook", "continue": True, "group_interval": "1m",
                         "repeat_interval": "1h"}
    assert routes[-1] == {"receiver": "district"}
    assert {r["receiver"]: r["matchers"] for r in routes[1:-1]} == {
        f"street-{code}": [f'street="{code}"'] for code in STREETS}
    assert config["route"]["group_by"] == ["alertname", "street"]
    assert config["global"]["smtp_auth_password_file"] == "/secrets/smtp"
    assert "smtp_auth_password" not in config["global"]
    email = next(r for r in config["receivers"] if r["name"] == "street-yinhang")["email_configs"][0]
    assert email["to"] == "sup.yinhang2@example.cn, sup.yinhang@example.cn"  # one mail to both
    assert email["send_resolved"] is False
    webhook = next(r for r in config["receivers"] if r["name"] == "suite-webhook")["webhook_configs"][0]
    assert webhook["http_config"] == {"authorization": {"type": "Bearer", "credentials_file": "/secrets/token"}}
    assert webhook["send_resolved"] is True


def test_the_inhibited_and_inhibiting_alerts_are_alerts_the_rules_define():
    """A renamed rule must not silently break the inhibition: every name must exist, the targets carry a street."""
    names = {rule["alert"]: rule for rule in alert_rules()}
    assert set(alerting.PIPELINE_ALERTS) <= set(names)
    assert set(alerting.SLA_RATE_ALERTS) <= set(names)
    assert "KeyEnterpriseBreach" not in alerting.SLA_RATE_ALERTS  # a real enterprise's breach is always told


def test_every_page_an_alert_links_is_served_by_the_service_the_generator_names():
    for rule in alert_rules():
        page = rule["annotations"].get("page")
        if page is None:
            continue
        prefix = next((p for p in alerting.PAGE_SERVICES if page.startswith(p)), None)
        assert prefix, f"{rule['alert']}: no service known for {page}"
        pages = (PROJECT_ROOT / f"{alerting.PAGE_SERVICES[prefix]}_service" / "http").glob("*pages.py")
        assert any(f'get("{page}")' in p.read_text(encoding="utf-8") for p in pages), (rule["alert"], page)


def test_street_alerts_say_how_many_demands_and_link_a_page():
    for rule in alert_rules():
        if "street" in rule["annotations"]["summary"]:
            assert {"demands", "page"} <= set(rule["annotations"]), rule["alert"]


def test_the_shipped_example_is_what_the_generator_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    assert alerting.main([a.replace("{out}", str(tmp_path)) for a in EXAMPLE_ARGS]) == 0
    for name in ("alertmanager.yml", "templates/site.tmpl", "templates/email.tmpl"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (ALERTMANAGER_DIR / name).read_text(
            encoding="utf-8"), f"deploy/alertmanager/{name} is stale: render it again (EXAMPLE_ARGS)"


def test_the_command_reads_the_identity_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from shared.accounts import Accounts
    from shared.auth_store import ensure_schema, open_engine

    monkeypatch.setenv("AUTH_DATABASE_URL", f"sqlite:///{tmp_path / 'auth.db'}")
    engine = open_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    ensure_schema(engine)
    store = Accounts(engine)
    store.create("sup.siping", "supervisor", "wang@example.cn", "siping")
    store.create("sup.siping2", "supervisor", "old@example.cn", "siping")
    store.disable("sup.siping2")
    store.create("admin.zhao", "admin", "zhao@example.cn")
    engine.dispose()
    assert alerting.main(["config", "--out", str(tmp_path / "am"), "--smtp-smarthost", "127.0.0.1:25",
                          "--smtp-from", "a@example.cn", "--smtp-no-tls", "--webhook-token-file", "/t"]) == 0
    config = yaml.safe_load((tmp_path / "am" / "alertmanager.yml").read_text(encoding="utf-8"))
    receivers = {r["name"]: r.get("email_configs", [{}])[0].get("to") for r in config["receivers"]}
    assert receivers["street-siping"] == "wang@example.cn"
    assert receivers["street-yinhang"] == receivers["district"] == "zhao@example.cn"
    assert config["global"]["smtp_require_tls"] is False
    assert config["templates"] == [f"{(tmp_path / 'am').resolve()}/templates/*.tmpl"]
    assert (tmp_path / "am" / "templates" / "email.tmpl").exists()


# --- Alertmanager's own tools ------------------------------------------------------------------------------


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("amtool"), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("alertmanager")
    config = build(alerting.recipients(ACCOUNTS))
    config["templates"] = [f"{out}/templates/*.tmpl"]
    alerting.write(out, config, Settings.from_env(EXAMPLE_ENV).service_urls)
    return out / "alertmanager.yml"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example with its templates where this machine has them (the container's path otherwise)."""
    path = tmp_path_factory.mktemp("example") / "alertmanager.yml"
    text = (ALERTMANAGER_DIR / "alertmanager.yml").read_text(encoding="utf-8")
    path.write_text(text.replace("/etc/alertmanager/templates", str(ALERTMANAGER_DIR / "templates")), "utf-8")
    return path


@pytest.mark.parametrize("which", ["generated", "example"])
def test_amtool_check_config_loads_the_config_and_its_templates(which: str, request: pytest.FixtureRequest):
    result = amtool("check-config", str(request.getfixturevalue(which)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "1 inhibit rules" in result.stdout
    assert "0 templates" not in result.stdout, result.stdout


ROUTE_CASES = [
    # a street's alert: that street's supervisors, and the suite's webhook
    (["alertname=KeyEnterpriseBreach", "street=yinhang", "severity=page"], "suite-webhook,street-yinhang"),
    (["alertname=FirstResponseComplianceLow", "street=wujiaochang"], "suite-webhook,street-wujiaochang"),
    # a street without a supervisor still has its own route (its receiver mails the admins)
    (["alertname=DemandsUnassigned", "street=dinghai"], "suite-webhook,street-dinghai"),
    # district-wide alerts: the admins, and the webhook
    (["alertname=ServiceDown", "app=sla", "severity=page"], "suite-webhook,district"),
    (["alertname=CalendarEstimated", "year=2027"], "suite-webhook,district"),
    (["alertname=DeadLetterArrived", "service=routing"], "suite-webhook,district"),
    # a street the reference data does not know is not lost
    (["alertname=KeyEnterpriseBreach", "street=atlantis"], "suite-webhook,district"),
]


@pytest.mark.parametrize("which", ["generated", "example"])
@pytest.mark.parametrize(("labels", "receivers"), ROUTE_CASES)
def test_amtool_routes_each_alert_to_its_people_and_the_webhook(which: str, labels: list[str], receivers: str,
                                                                request: pytest.FixtureRequest):
    config = str(request.getfixturevalue(which))
    result = amtool("config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receivers}",
                    *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


def test_the_e_mail_renders_in_chinese_with_the_street_and_a_link(generated: Path):
    """amtool renders the templates on its example data; the street's name and link come from site.tmpl."""
    templates = f"{generated.parent}/templates/*.tmpl"
    text = ('{{ template "yangpu.street_zh" "yinhang" }}|{{ template "yangpu.link" "/supervisor" }}|'
            '{{ template "yangpu.link" "/compliance" }}|{{ template "yangpu.alert_zh" "KeyEnterpriseBreach" }}|'
            '{{ template "yangpu.email.subject" . }}')
    result = amtool("template", "render", f"--template.glob={templates}", f"--template.text={text}")
    assert result.returncode == 0, result.stdout + result.stderr
    street, supervisor, compliance, meaning, subject = result.stdout.strip().split("|")
    assert street == "殷行街道"
    assert supervisor == "https://localhost:8444/supervisor"
    assert compliance == "https://localhost:8445/compliance"
    assert meaning == "重点企业诉求超时"
    assert subject.startswith("【杨浦营商诉求告警】")


def test_recipients_do_not_depend_on_the_order_of_the_accounts():
    assert alerting.recipients(list(reversed(ACCOUNTS))) == alerting.recipients(ACCOUNTS)
    assert alerting.recipients([replace(a, disabled=True) for a in ACCOUNTS]).admins == []
