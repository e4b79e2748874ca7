"""The TLS proxy (deploy/nginx/) in front of the real suite: gunicorn web processes and workers on the embedded
default, Debian's nginx started by ``deploy/nginx/nginx.sh`` with its self-signed certificate.

Checked through the proxy: HTTPS with a certificate our generated CA signed, HSTS, plain HTTP redirected, one
port per service, /metrics, /openapi.json and /readyz refused (also spelled /%6Detrics or //metrics), and a
sign-in whose cookie is Secure because the app believes the proxy's X-Forwarded-Proto (TRUSTED_PROXIES=1,
ProxyFix). Also: each web process's gunicorn control socket lives in its own stack's VAR_DIR.
Without nginx the test is skipped on a developer's machine and FAILS in CI (``deploy/nginx/install.sh``).
Ports 18900-18999 only, so it runs beside any other stack on the machine.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import ssl
import stat
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from flask import jsonify, request

from devstack import environments
from devstack.stack import Stack
from shared.accounts import Accounts
from shared.auth_store import open_engine
from shared.config import PROJECT_ROOT, SERVICES, Settings
from tests.conftest import unavailable
from tests.signin import PASSWORD, ensure_account

NGINX_SH = PROJECT_ROOT / "deploy" / "nginx" / "nginx.sh"
WEB_PORTS = {"intake": 18901, "routing": 18902, "sla": 18903}
WORKER_PORTS = {"intake": 18911, "routing": 18912, "sla": 18913}
HTTP_PORT = 18920
TLS_PORTS = {"intake": 18921, "routing": 18922, "sla": 18923}
HOST = "127.0.0.1"
REFUSED = ("/metrics", "/openapi.json", "/readyz", "/%6Detrics", "//metrics", "/metrics/", "/openapi.json?x=1")


def require_proxy_tools() -> None:
    """nginx, openssl and envsubst, or skip here / fail in CI."""
    missing = [tool for tool in ("nginx", "openssl", "envsubst")
               if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        unavailable(f"{', '.join(missing)} not installed; run deploy/nginx/install.sh")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def cookies(self) -> dict[str, Any]:
        """Set-Cookie headers by name (morsels: value, secure, httponly, samesite)."""
        jar: dict[str, Any] = {}
        for header in self.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            jar.update(cookie)
        return jar


@dataclass
class Proxied:
    settings: Settings
    ca: Path
    var_dir: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def https(self, service: str, method: str, path: str, headers: dict[str, str] | None = None,
              body: bytes | None = None) -> Answer:
        conn = http.client.HTTPSConnection(HOST, TLS_PORTS[service], timeout=10, context=self.context())
        return _send(conn, method, path, headers, body)


def _send(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str] | None = None,
          body: bytes | None = None) -> Answer:
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def plain(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
          body: bytes | None = None) -> Answer:
    return _send(http.client.HTTPConnection(HOST, port, timeout=10), method, path, headers, body)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx and gunicorn: TIME_WAIT is no owner
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    """The suite as processes on 18901-18913, behind nginx on 18920-18923, in a fresh VAR_DIR."""
    require_proxy_tools()
    busy = [p for p in (*WEB_PORTS.values(), *WORKER_PORTS.values(), HTTP_PORT, *TLS_PORTS.values())
            if not _port_free(p)]
    assert not busy, f"ports {busy} are taken: another run of this test?"
    var = tmp_path_factory.mktemp("proxy-var")
    env = {**environments.embedded(var), "WEB_CONCURRENCY": "1", "TRUSTED_PROXIES": "1"}
    for service in SERVICES:
        key = service.upper()
        env |= {f"{key}_PORT": str(WEB_PORTS[service]), f"{key}_WORKER_METRICS_PORT": str(WORKER_PORTS[service]),
                f"{key}_URL": f"https://{HOST}:{TLS_PORTS[service]}",
                f"{key}_INTERNAL_URL": f"http://{HOST}:{WEB_PORTS[service]}"}
    stack = Stack(env)
    for key in [k for k in stack.env if k.endswith("_DATABASE_URL") or k == "EVENT_LOG_URL"]:
        del stack.env[key]  # inherited ones would point at another suite's data
    stack.settings = Settings.from_env(stack.env)
    proxy_env = {**stack.env, "PROXY_HOST": HOST, "PROXY_HTTP_PORT": str(HTTP_PORT),
                 **{f"{s.upper()}_TLS_PORT": str(p) for s, p in TLS_PORTS.items()}}
    for key in ("TLS_CERT_PATH", "TLS_KEY_PATH"):
        proxy_env.pop(key, None)  # the self-signed default is what is under test
    try:
        stack.seed()
        stack.start(timeout_s=90)
        started = subprocess.run([str(NGINX_SH), "start"], env=proxy_env, capture_output=True, text=True,
                                 timeout=120)
        assert started.returncode == 0, started.stderr
        yield Proxied(stack.settings, var / "nginx" / "tls" / "ca.pem", var)
    finally:
        subprocess.run([str(NGINX_SH), "stop"], env=proxy_env, capture_output=True, timeout=60)
        stack.stop()


@pytest.mark.parametrize("service", SERVICES)
def test_https_answers_with_a_certificate_the_generated_ca_signed(proxied: Proxied, service: str):
    answer = proxied.https(service, "GET", "/healthz")
    assert answer.status == 200
    assert json.loads(answer.body)["service"] == service  # one HTTPS port per service
    assert answer.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "nginx/" not in (answer.headers.get("Server") or "")  # no version given away
    with pytest.raises(ssl.SSLCertVerificationError):  # self-signed: unknown to the system's trust store
        _send(http.client.HTTPSConnection(HOST, TLS_PORTS[service], timeout=10,
                                          context=ssl.create_default_context()), "GET", "/healthz")


def test_the_certificate_names_this_host(proxied: Proxied):
    with socket.create_connection((HOST, TLS_PORTS["intake"]), timeout=10) as raw, \
            proxied.context().wrap_socket(raw, server_hostname="localhost") as tls:
        cert = tls.getpeercert()
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    names = {value for _, value in cert["subjectAltName"]}
    assert {"localhost", "127.0.0.1"} <= names


def test_plain_http_is_redirected_to_https(proxied: Proxied):
    answer = plain(HTTP_PORT, "/signin?lang=en")
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{HOST}:{TLS_PORTS['intake']}/signin?lang=en"
    for service, port in TLS_PORTS.items():  # plain HTTP sent to an HTTPS port: to the same port, over TLS
        answer = plain(port, "/healthz")
        assert (answer.status, answer.headers["Location"]) == (301, f"https://{HOST}:{port}/healthz"), service


@pytest.mark.parametrize("path", REFUSED)
@pytest.mark.parametrize("service", SERVICES)
def test_operator_endpoints_are_not_reachable_through_the_proxy(proxied: Proxied, service: str, path: str):
    answer = proxied.https(service, "GET", path)
    assert answer.status == 404, (service, path, answer.body[:200])
    assert b"yangpu_" not in answer.body and b'"openapi"' not in answer.body


@pytest.mark.parametrize("service", SERVICES)
def test_operator_endpoints_stay_on_the_internal_address(proxied: Proxied, service: str):
    """The refusal is the proxy's: Prometheus and the probes still find them on the web process itself."""
    for path in ("/metrics", "/openapi.json", "/readyz"):
        assert plain(WEB_PORTS[service], path).status == 200, path


def _account(settings: Settings, role: str, subject: str) -> str:
    """A password account of wujiaochang in the stack's identity store (tests.signin.PASSWORD); its username."""
    engine = open_engine(settings.auth_database_url)
    try:
        return ensure_account(Accounts(engine, roster_path=settings.roster_path), role, subject, "wujiaochang")
    finally:
        engine.dispose()


def _signin_form(fetch: Any) -> tuple[str, str]:
    """GET /signin: the CSRF token of the form and the session cookie that goes with it."""
    page = fetch("GET", "/signin", {})
    assert page.status == 200
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.body)
    assert token, page.body[:500]
    return token.group(1).decode(), page.cookies()["yangpu_pages"].value


def test_sign_in_through_the_proxy_sets_secure_cookies(proxied: Proxied):
    origin = f"https://{HOST}:{TLS_PORTS['intake']}"

    def fetch(method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Answer:
        return proxied.https("intake", method, path, headers, body)

    page = fetch("GET", "/signin", {})
    assert page.cookies()["yangpu_pages"]["secure"], "the CSRF session cookie must be Secure behind the proxy"
    csrf, pages_cookie = _signin_form(fetch)
    username = _account(proxied.settings, "grid_worker", "grid-wujiaochang-01")
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": csrf}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"yangpu_pages={pages_cookie}",
               "Referer": f"{origin}/signin"}
    answer = fetch("POST", "/signin", headers, form)
    assert answer.status in (302, 303), answer.body[:500]
    assert answer.headers["Location"] == f"{origin}/grid"  # the public address, from INTAKE_URL
    session = answer.cookies()["yangpu_session"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Strict"
    grid = fetch("GET", "/grid", {"Cookie": f"yangpu_session={session.value}; yangpu_pages={pages_cookie}"})
    assert grid.status == 200, grid.body[:300]


def test_the_app_sees_https_only_through_the_proxy(proxied: Proxied):
    """Flask-WTF checks the Referer of a form only on a secure request: through the proxy a sign-in without
    one (or from another origin) is refused, so the app saw HTTPS (ProxyFix); straight to the web process the
    same form is plain HTTP and its cookie is not Secure."""
    username = _account(proxied.settings, "officer", "com-wujiaochang-1")

    def via_proxy(method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Answer:
        return proxied.https("intake", method, path, headers, body)

    csrf, pages_cookie = _signin_form(via_proxy)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": csrf}).encode()
    base = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"yangpu_pages={pages_cookie}"}
    assert via_proxy("POST", "/signin", base, form).status == 400  # no Referer on an HTTPS form
    other = {**base, "Referer": f"https://{HOST}:{TLS_PORTS['routing']}/signin"}
    assert via_proxy("POST", "/signin", other, form).status == 400  # another origin (port)

    def direct(method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Answer:
        return plain(WEB_PORTS["intake"], path, method, headers, body)

    csrf, pages_cookie = _signin_form(direct)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": csrf}).encode()
    answer = direct("POST", "/signin", {**base, "Cookie": f"yangpu_pages={pages_cookie}"}, form)
    assert answer.status in (302, 303), answer.body[:300]
    assert answer.headers["Location"] == f"https://{HOST}:{TLS_PORTS['routing']}/officer"
    assert not answer.cookies()["yangpu_session"]["secure"]


def test_each_web_process_has_its_own_control_socket(proxied: Proxied):
    """gunicorn's control socket is per stack (under its VAR_DIR, per port), not one path per user."""
    for service, port in WEB_PORTS.items():
        path = proxied.var_dir / "run" / f"gunicorn-{port}.ctl"
        assert path.exists() and stat.S_ISSOCK(path.stat().st_mode), service
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- ProxyFix, in-process: what the app believes, with and without the setting -----------------------


def _peer_app(embedded: dict[str, str], trusted: str | None) -> Any:
    from intake_service.app import create

    env = {**embedded, **({"TRUSTED_PROXIES": trusted} if trusted is not None else {})}
    app = create(Settings.from_env(env))

    @app.get("/_peer")
    def peer() -> Any:
        return jsonify(addr=request.remote_addr, secure=request.is_secure, host=request.host)

    return app.test_client()


FORWARDED = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "demands.example.org:8444"}


def test_behind_a_trusted_proxy_the_app_believes_its_last_hop(embedded: dict[str, str]):
    client = _peer_app(embedded, "1")
    seen = client.get("/_peer", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    # one hop trusted: the address the proxy saw (the last), never what the client wrote before it
    assert seen == {"addr": "203.0.113.7", "secure": True, "host": "demands.example.org:8444"}


def test_without_the_setting_forwarded_headers_are_ignored(embedded: dict[str, str]):
    client = _peer_app(embedded, None)
    seen = client.get("/_peer", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert seen == {"addr": "127.0.0.1", "secure": False, "host": "localhost"}
