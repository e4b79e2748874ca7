"""Alertmanager's configuration, generated from the accounts: who hears of which alert (issue 18).

The people to tell are accounts in the identity store (:mod:`shared.accounts`), so the receivers cannot be
written by hand: this command reads them and writes ``alertmanager.yml`` plus ``templates/site.tmpl`` (the
streets' Chinese names and the services' public URLs, which the e-mail templates use) into a directory.

* an alert with ``street="<code>"`` goes to ``street-<code>``: that street's supervisors (enabled accounts);
  a street without one falls back to the admins, so no street's breach goes unheard;
* an alert without a street (the pipeline, the calendar, dead letters) goes to ``district``: the admins;
* every alert also goes to the suite's webhook on routing (``POST /api/v1/alerts/webhook``), which keeps
  the active alerts for the pages; the webhook's bearer token is read from a file, never written here.

SMTP settings come from the command line (a password only as a file path), so no secret is in the output.
Run it again after adding or disabling a supervisor or admin, then reload Alertmanager (SIGHUP or
``POST /-/reload``).

Usage::

    python -m shared.alerting config --out var/alertmanager --smtp-smarthost smtp.example.cn:587 \\
        --smtp-from alerts@example.cn --smtp-username alerts --smtp-password-file /run/secrets/smtp \\
        --webhook-token-file /run/secrets/alertmanager.token
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.accounts import Account
from shared.config import PROJECT_ROOT, Settings
from shared.contracts.reference import STREETS

TEMPLATES_DIR = PROJECT_ROOT / "deploy" / "alertmanager" / "templates"
WEBHOOK_RECEIVER = "suite-webhook"
DISTRICT_RECEIVER = "district"
WEBHOOK_PATH = "/api/v1/alerts/webhook"
# Alerts that mean the pipeline itself is broken (deploy/prometheus/rules/*.yml). While one fires, the
# SLA rates fall because demands are not being routed or their events not handled: the rate alerts are
# consequences, and mailing them too would send supervisors after a cause that is not theirs.
PIPELINE_ALERTS = ("ServiceDown", "ConsumerHalted", "ConsumerLagGrowing", "WorkerLoopStale",
                   "OutboxRelayStalled", "OutboxBacklogGrowing", "DemandsUnrouted")
SLA_RATE_ALERTS = ("FirstResponseBudgetFastBurn", "FirstResponseComplianceLow", "ResolutionRateLow")
# Which service shows a page (the `page` annotation of the rules); any other page is intake's.
PAGE_SERVICES = {"/compliance": "sla", "/supervisor": "routing", "/admin": "routing"}


@dataclass(frozen=True)
class Smtp:
    """Where Alertmanager sends mail; ``password_file`` is a path as Alertmanager sees it (not the secret)."""

    smarthost: str
    sender: str
    username: str = ""
    password_file: str = ""
    require_tls: bool = True


@dataclass(frozen=True)
class Recipients:
    """E-mail addresses per street (supervisors, or the admins when a street has none) and the admins'."""

    streets: dict[str, list[str]]
    admins: list[str]


def recipients(accounts: Iterable[Account], streets: Iterable[str] = STREETS) -> Recipients:
    """Who is told: enabled supervisors per street; a street without one gets the admins."""
    active = [a for a in accounts if not a.disabled]
    admins = sorted({a.email for a in active if a.role == "admin"})
    by_street: dict[str, list[str]] = {}
    for street in streets:
        supervisors = sorted({a.email for a in active if a.role == "supervisor" and a.street == street})
        by_street[street] = supervisors or admins
    return Recipients(by_street, admins)


def _email_receiver(name: str, addresses: list[str]) -> dict[str, Any]:
    """One mail per notification to all the receiver's addresses; none configured when nobody is there."""
    if not addresses:
        return {"name": name}
    return {"name": name, "email_configs": [{
        "to": ", ".join(addresses),
        "headers": {"Subject": '{{ template "yangpu.email.subject" . }}'},
        "html": '{{ template "yangpu.email.html" . }}',
        "text": '{{ template "yangpu.email.text" . }}',
        # One mail per problem: the pages show when it is over, a second mail would only add noise.
        "send_resolved": False,
    }]}


def build_config(people: Recipients, smtp: Smtp, *, webhook_url: str, webhook_token_file: str,
                 templates_dir: str) -> dict[str, Any]:
    """The alertmanager.yml content; ``templates_dir`` is where Alertmanager finds the ``*.tmpl`` files."""
    smtp_global: dict[str, Any] = {"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.sender,
                                   "smtp_require_tls": smtp.require_tls}
    if smtp.username:
        smtp_global["smtp_auth_username"] = smtp.username
    if smtp.password_file:
        smtp_global["smtp_auth_password_file"] = smtp.password_file
    street_routes = [{"matchers": [f'street="{code}"'], "receiver": f"street-{code}"} for code in people.streets]
    return {
        "global": {**smtp_global, "resolve_timeout": "5m"},
        "templates": [f"{templates_dir.rstrip('/')}/*.tmpl"],
        "route": {
            "receiver": DISTRICT_RECEIVER,
            # One notification per alert and street: a supervisor reads about their street's problem only.
            "group_by": ["alertname", "street"],
            # Wait half a minute for the alert's companions (both clocks of a demand breach together, a
            # deploy trips several checks) so a person gets one mail, not a burst.
            "group_wait": "30s",
            # A new alert joining a group already announced waits up to 5 minutes: batched, still prompt.
            "group_interval": "5m",
            # A problem still unresolved is mailed again twice a working day, not every few minutes:
            # reminders people read rather than filter away.
            "repeat_interval": "4h",
            "routes": [
                # First and continuing: every alert reaches the suite's own list, whichever person it mails.
                {"receiver": WEBHOOK_RECEIVER, "continue": True,
                 "group_interval": "1m", "repeat_interval": "1h"},
                *street_routes,
                # The rest (no street, or one the reference data does not know): the admins. The root's own
                # receiver would not do: a child route matched already (the webhook's).
                {"receiver": DISTRICT_RECEIVER},
            ],
        },
        "inhibit_rules": [{
            "source_matchers": [f'alertname=~"{"|".join(PIPELINE_ALERTS)}"'],
            "target_matchers": [f'alertname=~"{"|".join(SLA_RATE_ALERTS)}"'],
        }],
        "receivers": [
            _email_receiver(DISTRICT_RECEIVER, people.admins),
            *(_email_receiver(f"street-{code}", addresses) for code, addresses in people.streets.items()),
            {"name": WEBHOOK_RECEIVER, "webhook_configs": [{
                "url": webhook_url,
                "send_resolved": True,  # routing drops an alert from its active list when it resolves
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": webhook_token_file}},
            }]},
        ],
    }


def _quoted(text: str) -> str:
    """A Go template string literal (the streets' names and URLs contain no quotes; escape anyway)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _choice(cases: Iterable[tuple[str, str]], otherwise: str) -> str:
    """A Go template if / else if chain: the text of the first true condition, else ``otherwise``."""
    branches = "".join(f"{{{{ {'else if' if i else 'if'} {cond} }}}}{text}"
                       for i, (cond, text) in enumerate(cases))
    return f"{branches}{{{{ else }}}}{otherwise}{{{{ end }}}}"


def site_template(service_urls: Mapping[str, str]) -> str:
    """Go template definitions of this site: a street's Chinese name, and a page's full link."""
    names = _choice(((f"eq . {_quoted(code)}", street.name_zh) for code, street in STREETS.items()), "{{ . }}")
    bases = _choice(((f'match "^{prefix}" .', service_urls[service].rstrip("/"))
                     for prefix, service in PAGE_SERVICES.items()), service_urls["intake"].rstrip("/"))
    return (
        "{{/* Generated by `python -m shared.alerting config`: do not edit, run it again. */}}\n"
        f'{{{{ define "yangpu.street_zh" }}}}{names}{{{{ end }}}}\n'
        f'{{{{ define "yangpu.link" }}}}{bases}{{{{ . }}}}{{{{ end }}}}\n'
    )


def write(out: Path, config: Mapping[str, Any], service_urls: Mapping[str, str]) -> list[Path]:
    """``out/alertmanager.yml`` and ``out/templates/`` (the e-mail templates and this site's definitions)."""
    templates = out / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    for source in sorted(TEMPLATES_DIR.glob("*.tmpl")):
        if source.name != "site.tmpl" and source.resolve() != (templates / source.name).resolve():
            shutil.copyfile(source, templates / source.name)
    (templates / "site.tmpl").write_text(site_template(service_urls), encoding="utf-8")
    path = out / "alertmanager.yml"
    header = "# Generated by `python -m shared.alerting config` from the accounts; run it again, do not edit.\n"
    path.write_text(header + yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return [path, templates / "site.tmpl"]


def example_accounts(roster_path: Path) -> list[Account]:
    """Accounts like the roster's supervisors (sup-<street>@example.cn) and one admin: the shipped example."""
    roster = yaml.safe_load(roster_path.read_text(encoding="utf-8"))
    people = [("admin", "admin", None)] + [
        (o["id"], "supervisor", o["streets"][0]) for o in roster["officers"] if o["kind"] == "supervisor"]
    return [Account(username=name, role=role, street=street, email=f"{name}@example.cn", officer_id=None,
                    must_change_password=False, failed_count=0, locked_until=None, disabled=False,
                    created_at=0, updated_at=0) for name, role, street in people]


def stored_accounts(settings: Settings) -> list[Account]:
    """Every account of the identity store."""
    from shared.accounts import Accounts
    from shared.auth_store import ensure_schema, open_engine

    engine = open_engine(settings.auth_database_url)
    try:
        ensure_schema(engine)
        return Accounts(engine).list()
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Write Alertmanager's configuration for the accounts of this environment's identity store."""
    parser = argparse.ArgumentParser(prog="python -m shared.alerting", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    config = sub.add_parser("config", help="write alertmanager.yml and templates/ into --out")
    config.add_argument("--out", type=Path, required=True, help="directory to write into")
    config.add_argument("--mounted-at", default=None,
                        help="where Alertmanager sees --out (a container's mount); default: --out itself")
    config.add_argument("--smtp-smarthost", required=True, help="host:port of the mail relay")
    config.add_argument("--smtp-from", required=True, help="the sender address")
    config.add_argument("--smtp-username", default="")
    config.add_argument("--smtp-password-file", default="", help="a file holding the SMTP password")
    config.add_argument("--smtp-no-tls", action="store_true", help="allow a relay without STARTTLS")
    config.add_argument("--webhook-token-file", required=True,
                        help="file with routing's bearer token (python -m shared.auth issue --role alertmanager)")
    config.add_argument("--example", action="store_true",
                        help="the roster's supervisors and an admin at example.cn instead of the identity store")
    args = parser.parse_args(argv)
    settings = Settings.for_command()
    accounts = example_accounts(settings.roster_path) if args.example else stored_accounts(settings)
    people = recipients(accounts)
    for code, addresses in people.streets.items():
        if not addresses:
            print(f"warning: nobody receives alerts of street {code} (no supervisor, no admin)", file=sys.stderr)
    seen_at = (args.mounted_at or str(args.out.resolve())).rstrip("/")
    smtp = Smtp(args.smtp_smarthost, args.smtp_from, args.smtp_username, args.smtp_password_file,
                require_tls=not args.smtp_no_tls)
    built = build_config(people, smtp, webhook_url=settings.internal_urls["routing"].rstrip("/") + WEBHOOK_PATH,
                         webhook_token_file=args.webhook_token_file, templates_dir=f"{seen_at}/templates")
    for path in write(args.out, built, settings.service_urls):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
