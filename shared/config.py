"""One configuration loader for every service, read from environment variables (12-factor).

The defaults give the embedded mode: SQLite files under ``var/`` and an event log kept in SQLite, so
nothing needs installing. Production sets ``YANGPU_MODE=production`` plus PostgreSQL URLs and Kafka.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JWT_SECRET = "dev-insecure-secret-change-me-before-production"  # noqa: S105 - refused in production mode
SERVICES = ("intake", "routing", "sla")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a process of the suite needs to know about its environment."""

    mode: str = "embedded"
    var_dir: Path = PROJECT_ROOT / "var"
    database_urls: Mapping[str, str] = field(default_factory=dict)
    event_bus: str = "sqlite"
    event_log_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How long one attempt to reach the brokers may take before the worker's loop backs off and tries again.
    kafka_bootstrap_timeout_ms: int = 10_000
    # The N-th event in a row that a consumer cannot handle halts it instead of going to the dead-letter topic.
    dead_letter_limit: int = 5
    # A worker loop whose last successful pass is older than this makes the worker's /readyz answer 503.
    worker_stale_after_s: int = 30
    topic_prefix: str = ""
    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_ttl_seconds: int = 12 * 3600
    # No token may live longer (exp - iat) than this, whoever issued it: a stolen token's useful life is bounded.
    jwt_max_ttl_seconds: int = 12 * 3600
    # The platform's identity store (token deny list, sign-in rate limits), shared by every service.
    auth_database_url: str = ""
    # A page session ends after this long without a request (shared.accounts); at the latest after JWT_MAX_TTL_SECONDS.
    session_idle_seconds: int = 30 * 60
    ports: Mapping[str, int] = field(default_factory=dict)
    worker_metrics_ports: Mapping[str, int] = field(default_factory=dict)
    worker_metrics_host: str = "127.0.0.1"
    service_urls: Mapping[str, str] = field(default_factory=dict)
    # Where a process reaches a service when its public URL (above) is a TLS proxy: {SVC}_INTERNAL_URL.
    internal_urls: Mapping[str, str] = field(default_factory=dict)
    # Proxies in front of the web process whose X-Forwarded-For/-Proto/-Host are believed (0: none).
    trusted_proxy_hops: int = 0
    roster_path: Path = PROJECT_ROOT / "deploy" / "roster.yaml"
    enterprises_path: Path = PROJECT_ROOT / "deploy" / "enterprises.yaml"
    sla_policy_path: Path = PROJECT_ROOT / "deploy" / "sla_policy.yaml"
    calendar_overrides_path: Path = PROJECT_ROOT / "deploy" / "calendar_overrides.yaml"
    service_hours: str = "09:00-17:00"  # Asia/Shanghai wall clock; business time runs only inside them
    log_level: str = "INFO"
    grafana_url: str = ""  # where the supervisor's page links its dashboards (none linked when empty)
    # A demand still `submitted` in intake this long after it was received gets its event re-published.
    unrouted_resend_after_s: int = 60

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def database_url(self, service: str) -> str:
        return self.database_urls[service]

    def topic(self, name: str) -> str:
        """The physical topic for a logical one (tests isolate runs with a prefix)."""
        return f"{self.topic_prefix}{name}"

    def check_production_ready(self) -> None:
        """Refuse to run production with a secret anyone could guess: the development default (even padded
        with spaces), blank, or shorter than HS256's 32 bytes (RFC 7518 3.2)."""
        if self.jwt_ttl_seconds > self.jwt_max_ttl_seconds:
            raise ConfigError(f"JWT_TTL_SECONDS ({self.jwt_ttl_seconds}) exceeds JWT_MAX_TTL_SECONDS "
                              f"({self.jwt_max_ttl_seconds})")
        secret = self.jwt_secret.strip()
        if not secret:  # every mode: an empty HMAC key signs tokens anyone can forge
            raise ConfigError("JWT_SECRET must not be empty")
        if not self.production:
            return
        if secret == DEFAULT_JWT_SECRET:
            raise ConfigError("JWT_SECRET must be set to a private value in production mode")
        if len(secret.encode()) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 bytes in production mode")

    @classmethod
    def for_command(cls) -> Settings:
        """The settings of a command-line tool: a configuration error ends it with its message and status 2."""
        try:
            settings = cls.from_env()
            settings.check_production_ready()
        except ConfigError as exc:
            print(f"configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        return settings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        mode = env.get("YANGPU_MODE", "embedded")
        if mode not in ("embedded", "production"):
            raise ConfigError(f"YANGPU_MODE must be 'embedded' or 'production', got {mode!r}")
        var_dir = Path(env.get("VAR_DIR", str(PROJECT_ROOT / "var"))).resolve()
        database_urls = {
            svc: env.get(f"{svc.upper()}_DATABASE_URL") or f"sqlite:///{var_dir / (svc + '.db')}"
            for svc in SERVICES
        }
        event_bus = env.get("EVENT_BUS", "kafka" if mode == "production" else "sqlite")
        if event_bus not in ("sqlite", "kafka"):
            raise ConfigError(f"EVENT_BUS must be 'sqlite' or 'kafka', got {event_bus!r}")
        default_ports = {"intake": 8001, "routing": 8002, "sla": 8003}
        ports = {svc: _int(env, f"{svc.upper()}_PORT", default_ports[svc]) for svc in SERVICES}
        worker_metrics_ports = {
            svc: _int(env, f"{svc.upper()}_WORKER_METRICS_PORT", 9100 + i + 1) for i, svc in enumerate(SERVICES)
        }
        service_urls = {
            svc: env.get(f"{svc.upper()}_URL") or f"http://127.0.0.1:{ports[svc]}" for svc in SERVICES
        }
        deploy = PROJECT_ROOT / "deploy"
        return cls(
            mode=mode,
            var_dir=var_dir,
            database_urls=database_urls,
            event_bus=event_bus,
            event_log_url=env.get("EVENT_LOG_URL") or f"sqlite:///{var_dir / 'events.db'}",
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            kafka_bootstrap_timeout_ms=_positive(env, "KAFKA_BOOTSTRAP_TIMEOUT_MS", 10_000),
            dead_letter_limit=_positive(env, "DEAD_LETTER_LIMIT", 5),
            worker_stale_after_s=_positive(env, "WORKER_STALE_AFTER_S", 30),
            topic_prefix=env.get("TOPIC_PREFIX", ""),
            jwt_secret=env.get("JWT_SECRET", DEFAULT_JWT_SECRET),
            jwt_ttl_seconds=_int(env, "JWT_TTL_SECONDS", 12 * 3600),
            jwt_max_ttl_seconds=_positive(env, "JWT_MAX_TTL_SECONDS", 12 * 3600),
            auth_database_url=env.get("AUTH_DATABASE_URL") or f"sqlite:///{var_dir / 'auth.db'}",
            session_idle_seconds=_positive(env, "SESSION_IDLE_SECONDS", 30 * 60),
            ports=ports,
            worker_metrics_ports=worker_metrics_ports,
            worker_metrics_host=env.get("WORKER_METRICS_HOST", "127.0.0.1"),
            service_urls=service_urls,
            internal_urls={svc: env.get(f"{svc.upper()}_INTERNAL_URL") or service_urls[svc] for svc in SERVICES},
            trusted_proxy_hops=_int(env, "TRUSTED_PROXIES", 0),
            roster_path=Path(env.get("ROSTER_PATH", str(deploy / "roster.yaml"))),
            enterprises_path=Path(env.get("ENTERPRISES_PATH", str(deploy / "enterprises.yaml"))),
            sla_policy_path=Path(env.get("SLA_POLICY_PATH", str(deploy / "sla_policy.yaml"))),
            calendar_overrides_path=Path(
                env.get("CALENDAR_OVERRIDES_PATH", str(deploy / "calendar_overrides.yaml"))
            ),
            service_hours=env.get("SERVICE_HOURS", "09:00-17:00"),
            log_level=env.get("LOG_LEVEL", "INFO"),
            grafana_url=env.get("GRAFANA_URL", "").strip(),
            unrouted_resend_after_s=_positive(env, "UNROUTED_RESEND_AFTER_S", 60),
        )


# Every environment variable the services read; docker-compose is checked against this list.
ENV_KEYS = (
    "YANGPU_MODE", "VAR_DIR", "INTAKE_DATABASE_URL", "ROUTING_DATABASE_URL", "SLA_DATABASE_URL",
    "EVENT_BUS", "EVENT_LOG_URL", "KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PREFIX", "JWT_SECRET",
    "KAFKA_BOOTSTRAP_TIMEOUT_MS", "DEAD_LETTER_LIMIT", "WORKER_STALE_AFTER_S",
    "JWT_MAX_TTL_SECONDS", "AUTH_DATABASE_URL", "SESSION_IDLE_SECONDS",
    "JWT_TTL_SECONDS", "INTAKE_PORT", "ROUTING_PORT", "SLA_PORT", "INTAKE_WORKER_METRICS_PORT",
    "ROUTING_WORKER_METRICS_PORT", "SLA_WORKER_METRICS_PORT", "WORKER_METRICS_HOST", "INTAKE_URL", "ROUTING_URL",
    "SLA_URL", "ROSTER_PATH", "ENTERPRISES_PATH", "SLA_POLICY_PATH", "CALENDAR_OVERRIDES_PATH",
    "SERVICE_HOURS", "LOG_LEVEL", "GRAFANA_URL", "UNROUTED_RESEND_AFTER_S",
    "INTAKE_INTERNAL_URL", "ROUTING_INTERNAL_URL", "SLA_INTERNAL_URL", "TRUSTED_PROXIES",
)
