"""docker-compose.yml and the Dockerfile, checked without a Docker engine (there is none in CI).

Structure (services, healthchecks, start order), and that every environment key set for our services is
one the code reads: shared/config.py's ENV_KEYS, or the few read by gunicorn's config and prometheus_client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from shared.config import ENV_KEYS, PROJECT_ROOT, SERVICES, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES_BY_NAME: dict[str, Any] = COMPOSE["services"]
OURS = ["migrate", *[f"{s}-{p}" for s in SERVICES for p in ("web", "worker")]]
# Keys read outside shared/config.py, each with the file that reads it (checked below).
PROCESS_KEYS = {
    "GUNICORN_BIND": "deploy/gunicorn.conf.py",
    "WEB_CONCURRENCY": "deploy/gunicorn.conf.py",
    "PROMETHEUS_MULTIPROC_DIR": "shared/metrics.py",
}
WEB_PORTS = {"intake": 8001, "routing": 8002, "sla": 8003}
WORKER_PORTS = {"intake": 9101, "routing": 9102, "sla": 9103}


def env_of(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES_BY_NAME[name].get("environment", {}).items()}


def interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:?message} and ${VAR:-default}, with stand-in secrets."""
    return re.sub(r"\$\{(\w+)(?::[?-][^}]*)?\}", lambda m: f"test-{m.group(1).lower()}-0123456789abcdef", value)


def test_the_stack_has_every_piece():
    assert set(SERVICES_BY_NAME) == {"kafka", "postgres", "prometheus", "alertmanager", "grafana", "proxy", *OURS}


def test_kafka_is_a_single_kraft_node():
    env = env_of("kafka")
    assert SERVICES_BY_NAME["kafka"]["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert not any("zookeeper" in k.lower() for k in env)


def test_every_long_running_service_has_a_healthcheck():
    for name, service in SERVICES_BY_NAME.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_start_order_waits_for_health_and_for_the_migration():
    for name, service in SERVICES_BY_NAME.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES_BY_NAME, (name, dependency)
            if dependency == "migrate":
                assert rule == {"condition": "service_completed_successfully"}, name
            elif name == "prometheus" and dependency.endswith("-worker"):
                # Prometheus must come up to report a worker that is not ready (e.g. its consumer halted)
                assert rule == {"condition": "service_started"}, dependency
            else:
                assert rule == {"condition": "service_healthy"}, (name, dependency)
                assert "healthcheck" in SERVICES_BY_NAME[dependency], dependency
    for name in OURS:
        needs = set(SERVICES_BY_NAME[name]["depends_on"])
        assert needs == ({"postgres"} if name == "migrate" else {"postgres", "kafka", "migrate"}), name
    assert set(SERVICES_BY_NAME["prometheus"]["depends_on"]) == set(OURS) - {"migrate"}
    assert set(SERVICES_BY_NAME["grafana"]["depends_on"]) == {"prometheus"}
    assert set(SERVICES_BY_NAME["proxy"]["depends_on"]) == {f"{s}-web" for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_a_worker_is_healthy_only_when_ready(service: str):
    """The healthcheck asks the worker's /readyz (loops passing, consumer not halted), not just /metrics."""
    test = SERVICES_BY_NAME[f"{service}-worker"]["healthcheck"]["test"]
    assert test[0] == "CMD" and f"http://127.0.0.1:{WORKER_PORTS[service]}/readyz" in test[-1]


def test_every_service_has_a_restart_policy():
    """A worker exits non-zero when a loop cannot go on: the restart policy is what brings it back."""
    for name, service in SERVICES_BY_NAME.items():
        assert service.get("restart") == ("no" if name == "migrate" else "unless-stopped"), name


def test_the_one_shot_migrates_and_seeds_every_database():
    migrate = SERVICES_BY_NAME["migrate"]
    assert migrate["command"] == ["python", "-m", "devstack.seed"]
    assert migrate["restart"] == "no"
    for service in SERVICES:
        assert f"{service.upper()}_DATABASE_URL" in env_of("migrate")


def test_every_environment_key_of_our_services_is_one_the_code_reads():
    for key, reader in PROCESS_KEYS.items():
        assert key in (PROJECT_ROOT / reader).read_text(encoding="utf-8"), f"{reader} does not read {key}"
    for name in OURS:
        unknown = set(env_of(name)) - set(ENV_KEYS) - set(PROCESS_KEYS)
        assert not unknown, f"{name} sets keys nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", OURS)
def test_each_process_gets_a_complete_production_environment(name: str):
    env = env_of(name)
    for key in ("YANGPU_MODE", "EVENT_BUS", "KAFKA_BOOTSTRAP_SERVERS", "JWT_SECRET"):
        assert key in env, f"{name} lacks {key}"
    assert env["YANGPU_MODE"] == "production" and env["EVENT_BUS"] == "kafka"
    assert "${JWT_SECRET" in env["JWT_SECRET"], "the JWT secret must come from the operator, not the file"
    service = name.split("-")[0]
    owned = SERVICES if name == "migrate" else (service,)
    own_db = {f"{s.upper()}_DATABASE_URL" for s in owned}
    # a service gets its own database only (no service reads another's tables), plus the platform's identity
    # store (token deny list, sign-in rate limits), which belongs to no service
    assert {k for k in env if k.endswith("_DATABASE_URL")} == own_db | {"AUTH_DATABASE_URL"}, name
    settings = Settings.from_env({k: interpolate(v) for k, v in env.items()})
    settings.check_production_ready()  # raises with the well-known development secret
    for key in own_db:
        url = settings.database_url(key.removesuffix("_DATABASE_URL").lower())
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url, url
    assert settings.auth_database_url.startswith("postgresql+psycopg://")
    assert settings.auth_database_url.endswith("@postgres:5432/yangpu_auth")
    created = COMPOSE["configs"]["postgres-databases"]["content"]
    assert "CREATE DATABASE yangpu_auth OWNER yangpu;" in created
    assert settings.kafka_bootstrap_servers == "kafka:9092"


@pytest.mark.parametrize("service", SERVICES)
def test_web_and_worker_listen_where_prometheus_scrapes(service: str):
    web, worker = SERVICES_BY_NAME[f"{service}-web"], SERVICES_BY_NAME[f"{service}-worker"]
    assert web["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    assert web["command"][3] == f"{service}_service.app:create()"
    assert env_of(f"{service}-web")["GUNICORN_BIND"] == f"0.0.0.0:{WEB_PORTS[service]}"
    multiproc = env_of(f"{service}-web")["PROMETHEUS_MULTIPROC_DIR"]
    assert any(t.split(":")[0] == multiproc for t in web["tmpfs"]), "multiprocess metrics must start empty"
    assert worker["command"] == ["python", "-m", f"{service}_service.worker"]
    worker_settings = Settings.from_env(env_of(f"{service}-worker"))
    assert worker_settings.worker_metrics_host == "0.0.0.0"  # reachable from the prometheus container
    assert worker_settings.worker_metrics_ports[service] == WORKER_PORTS[service]

    prometheus = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = {(job, t, group["labels"]["app"]) for job in ("yangpu-web", "yangpu-worker")
               for group in jobs[job]["static_configs"] for t in group["targets"]}
    assert ("yangpu-web", f"{service}-web:{WEB_PORTS[service]}", service) in targets
    assert ("yangpu-worker", f"{service}-worker:{WORKER_PORTS[service]}", service) in targets


def test_prometheus_and_grafana_get_our_configuration_mounted():
    prometheus = SERVICES_BY_NAME["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    grafana = SERVICES_BY_NAME["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_dir = mounts["./deploy/grafana/dashboards"]
    provider = yaml.safe_load((PROJECT_ROOT / "deploy/grafana/provisioning/dashboards/yangpu.yml").read_text("utf-8"))
    assert provider["providers"][0]["options"]["path"] == dashboards_dir
    assert env_of("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == f"{dashboards_dir}/sla-overview.json"
    datasources = PROJECT_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml"
    source = yaml.safe_load(datasources.read_text("utf-8"))
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    assert source["datasources"][0]["uid"] == "prometheus"


def test_alertmanager_gets_its_configuration_and_prometheus_sends_to_it():
    """The shipped config (or the operator's, by ALERTMANAGER_CONFIG_DIR) is where the command reads it, its
    templates where the config looks, its secrets where the config names them; Prometheus alerts it."""
    alertmanager = SERVICES_BY_NAME["alertmanager"]
    assert alertmanager["image"].startswith("prom/alertmanager:v0.25")
    assert "${ALERTMANAGER_CONFIG_DIR:-./deploy/alertmanager}:/etc/alertmanager:ro" in alertmanager["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    config = yaml.safe_load((PROJECT_ROOT / "deploy/alertmanager/alertmanager.yml").read_text(encoding="utf-8"))
    assert config["templates"] == ["/etc/alertmanager/templates/*.tmpl"]
    secrets = "${ALERTMANAGER_SECRETS_DIR:-./var/alertmanager}:/run/secrets/yangpu:ro"
    assert secrets in alertmanager["volumes"]
    webhook = next(r for r in config["receivers"] if r["name"] == "suite-webhook")["webhook_configs"][0]
    assert webhook["url"] == f"http://routing-web:{WEB_PORTS['routing']}/api/v1/alerts/webhook"
    assert webhook["http_config"]["authorization"]["credentials_file"].startswith("/run/secrets/yangpu/")
    assert config["global"]["smtp_auth_password_file"].startswith("/run/secrets/yangpu/")
    assert alertmanager["ports"] == ["127.0.0.1:9093:9093"]  # no authentication: the host only
    prometheus = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_the_dockerfile_builds_the_services_from_python_slim():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert "pip install --no-deps -e ." in dockerfile
    assert re.search(r"^USER \d+", dockerfile, flags=re.MULTILINE), "the services must not run as root"
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for path in (".git", ".venv", "var", ".env"):
        assert path in ignored


# --- the TLS proxy (deploy/nginx/) -------------------------------------------------------------------

PROXY_TLS_PORTS = {"intake": 443, "routing": 8444, "sla": 8445}
NGINX_SH = (PROJECT_ROOT / "deploy/nginx/nginx.sh").read_text(encoding="utf-8")


def test_only_the_proxy_publishes_the_web_services():
    """Browsers reach the services through TLS only: no web process publishes a port, the proxy publishes its
    HTTPS ports and port 80 (a redirect), each under the number it listens on (redirects name that port)."""
    for service in SERVICES:
        assert "ports" not in SERVICES_BY_NAME[f"{service}-web"], f"{service}-web must not be published"
    env = env_of("proxy")
    published = {tuple(p.split(":")) for p in SERVICES_BY_NAME["proxy"]["ports"]}
    listens = {env["PROXY_HTTP_PORT"], *(env[f"{s.upper()}_TLS_PORT"] for s in SERVICES)}
    assert published == {(port, port) for port in listens}
    assert {int(env[f"{s.upper()}_TLS_PORT"]) for s in SERVICES} == set(PROXY_TLS_PORTS.values())
    assert env["PROXY_HTTP_PORT"] == "80" and env["PROXY_HOST"] == "0.0.0.0"
    for service in SERVICES:
        assert env[f"{service.upper()}_UPSTREAM"] == f"{service}-web:{WEB_PORTS[service]}"


def test_the_proxy_is_built_and_configured_by_the_scripts_of_the_repository():
    proxy = SERVICES_BY_NAME["proxy"]
    assert proxy["build"] == {"context": ".", "dockerfile": "deploy/nginx/Dockerfile"}
    assert proxy["command"] == ["deploy/nginx/nginx.sh", "run"]
    dockerfile = (PROJECT_ROOT / "deploy/nginx/Dockerfile").read_text(encoding="utf-8")
    assert "RUN deploy/nginx/install.sh" in dockerfile
    for key in env_of("proxy"):
        assert re.search(rf"\b{key}\b", NGINX_SH), f"deploy/nginx/nginx.sh does not read {key}"
    template = (PROJECT_ROOT / "deploy/nginx/nginx.conf.template").read_text(encoding="utf-8")
    substituted = set(re.findall(r"\$\{([A-Z_]+)\}", NGINX_SH.split("TEMPLATE_KEYS=", 1)[1].split("SCRIPT=", 1)[0]))
    assert set(re.findall(r"\$\{([A-Z_]+)\}", template)) == substituted
    # the generated CA and certificate survive a restart: clients that trust the CA keep trusting it
    assert f"proxy-data:{env_of('proxy')['VAR_DIR']}" in proxy["volumes"]


@pytest.mark.parametrize("service", SERVICES)
def test_web_processes_trust_the_proxy_and_link_each_other_through_it(service: str):
    settings = Settings.from_env({k: interpolate(v) for k, v in env_of(f"{service}-web").items()})
    assert settings.trusted_proxy_hops == 1  # X-Forwarded-Proto from the proxy: Secure cookies
    for other in SERVICES:  # pages link the public HTTPS address; processes call each other directly
        public = settings.service_urls[other]
        assert public.startswith("https://"), public
        assert public.endswith(f":{PROXY_TLS_PORTS[other]}") or PROXY_TLS_PORTS[other] == 443, public
        assert settings.internal_urls[other] == f"http://{other}-web:{WEB_PORTS[other]}"
    for name in OURS:  # no other process believes forwarded headers
        if not name.endswith("-web"):
            assert "TRUSTED_PROXIES" not in env_of(name), name
