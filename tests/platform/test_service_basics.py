"""What every service offers: probes, metrics, OpenAPI, the error shape, and production safety."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings

SERVICES = ("intake", "routing", "sla")


@pytest.mark.parametrize("service", SERVICES)
def test_probes_metrics_and_openapi(suite, service):
    client = suite.clients[service]
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert b"yangpu_build_info" in metrics.data
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["paths"]


def test_readyz_names_the_failed_dependency(embedded, monkeypatch, tmp_path):
    for k, v in embedded.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("EVENT_BUS", "kafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens there
    from intake_service.app import create

    client = create().test_client()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert set(body["failed"]) == {"bus"}


def test_production_refuses_the_default_secret(monkeypatch):
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        Settings.from_env({"YANGPU_MODE": "production"}).check_production_ready()
    from intake_service.app import create

    with pytest.raises(ConfigError):
        create(Settings.from_env({"YANGPU_MODE": "production"}))


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match="YANGPU_MODE"):
        Settings.from_env({"YANGPU_MODE": "prod"})


def test_missing_token_is_401_with_the_error_shape(suite):
    resp = suite.clients["intake"].post("/api/v1/demands", json={})
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["code"] == "unauthorized" and body["message"] and body["errors"] == {}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
