"""Bearer JWTs: issuing, decoding, the Flask guard and the CLI."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from flask import Flask, g, jsonify

from shared.auth import ISSUER, ROLES, AuthError, Principal, decode_token, issue_token
from shared.webkit.auth import current_principal, require

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-secret-that-is-also-long-enough-for-hs256"
ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_carries_subject_role_and_street():
    token = issue_token("grid_worker", "gw-001", "dinghai", secret=SECRET)
    assert decode_token(token, SECRET) == Principal(subject="gw-001", role="grid_worker", street="dinghai")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=ISSUER)
    assert claims["exp"] - claims["iat"] == 43200


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_be_issued(role):
    street = "yinhang" if role in ("grid_worker", "supervisor") else None
    assert decode_token(issue_token(role, "u1", street, secret=SECRET), SECRET).role == role


def test_officer_street_is_optional():
    assert decode_token(issue_token("officer", "com-yanji-1", secret=SECRET), SECRET).street is None
    assert decode_token(issue_token("officer", "com-yanji-1", "yanji", secret=SECRET), SECRET).street == "yanji"


def test_expired_token_refused():
    token = issue_token("admin", "root", secret=SECRET, ttl_seconds=60, now=int(time.time()) - 3600)
    with pytest.raises(AuthError, match="expired"):
        decode_token(token, SECRET)


def test_bad_signature_refused():
    token = issue_token("admin", "root", secret=OTHER_SECRET)
    with pytest.raises(AuthError, match="signature"):
        decode_token(token, SECRET)


def test_garbage_and_wrong_issuer_and_missing_claims_refused():
    with pytest.raises(AuthError):
        decode_token("not-a-jwt", SECRET)
    now = int(time.time())
    base = {"sub": "x", "role": "admin", "iat": now, "exp": now + 60, "iss": ISSUER, "jti": "t-1"}
    with pytest.raises(AuthError, match="issued"):
        decode_token(jwt.encode({**base, "iss": "someone-else"}, SECRET, algorithm="HS256"), SECRET)
    for claim in ("sub", "role", "exp", "jti"):
        claims = {k: v for k, v in base.items() if k != claim}
        with pytest.raises(AuthError, match=claim):
            decode_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)


def test_alg_none_refused():
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "iat": now, "exp": now + 60, "iss": ISSUER, "jti": "t-1"}
    with pytest.raises(AuthError):
        decode_token(jwt.encode(claims, None, algorithm="none"), SECRET)


def test_unknown_role_refused_on_issue_and_decode():
    with pytest.raises(ValueError, match="unknown role"):
        issue_token("janitor", "x", secret=SECRET)
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "x", "role": "janitor", "iat": now, "exp": now + 60, "iss": ISSUER, "jti": "t-1"}, SECRET,
        algorithm="HS256",
    )
    with pytest.raises(AuthError, match="unknown role"):
        decode_token(forged, SECRET)


def test_street_rules():
    with pytest.raises(ValueError, match="needs a street"):
        issue_token("grid_worker", "gw-1", secret=SECRET)
    with pytest.raises(ValueError, match="needs a street"):
        issue_token("supervisor", "sup-1", secret=SECRET)
    with pytest.raises(ValueError, match="unknown street"):
        issue_token("grid_worker", "gw-1", "atlantis", secret=SECRET)
    with pytest.raises(ValueError, match="takes no street"):
        issue_token("hotline_agent", "h-1", "dinghai", secret=SECRET)
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "gw", "role": "grid_worker", "street": None, "iat": now, "exp": now + 60, "iss": ISSUER, "jti": "t-1"},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(AuthError, match="needs a street"):
        decode_token(forged, SECRET)


def test_issue_argument_checks():
    with pytest.raises(ValueError):
        issue_token("admin", "", secret=SECRET)
    with pytest.raises(ValueError):
        issue_token("admin", "x", secret="")
    with pytest.raises(ValueError):
        issue_token("admin", "x", secret=SECRET, ttl_seconds=0)


# --- CLI --------------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JWT_SECRET": SECRET, "YANGPU_MODE": "embedded", "JWT_TTL_SECONDS": "600"}
    return subprocess.run(
        [sys.executable, "-m", "shared.auth", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )


def test_cli_prints_only_a_decodable_token():
    proc = _cli("issue", "--role", "grid_worker", "--subject", "gw-007", "--street", "siping")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    assert decode_token(lines[0], SECRET) == Principal("gw-007", "grid_worker", "siping")
    claims = jwt.decode(lines[0], SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 600  # default from JWT_TTL_SECONDS


def test_cli_ttl_option():
    proc = _cli("issue", "--role", "admin", "--subject", "root", "--ttl", "90")
    assert proc.returncode == 0, proc.stderr
    claims = jwt.decode(proc.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 90


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--role", "janitor", "--subject", "x"), "invalid choice"),
        (("--role", "grid_worker", "--subject", "x", "--street", "atlantis"), "unknown street"),
        (("--role", "supervisor", "--subject", "x"), "needs a street"),
    ],
)
def test_cli_refuses_bad_role_or_street(args, fragment):
    proc = _cli("issue", *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert fragment in proc.stderr


# --- Flask guard ------------------------------------------------------------------------------------


@pytest.fixture()
def client():
    app = Flask(__name__)
    app.config["JWT_SECRET"] = SECRET

    @app.get("/anyone")
    @require()
    def anyone():
        p = current_principal()
        assert g.principal is p
        return jsonify(subject=p.subject, role=p.role, street=p.street)

    @app.get("/supervisors")
    @require("supervisor", "admin")
    def supervisors():
        return jsonify(ok=True)

    return app.test_client()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_guard_401_without_token(client):
    resp = client.get("/anyone")
    assert resp.status_code == 401
    assert resp.get_json() == {"code": "unauthorized", "message": "missing bearer token", "errors": {}}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "Token abc"],
)
def test_guard_401_for_malformed_header(client, header):
    resp = client.get("/anyone", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_guard_401_for_expired_or_forged(client):
    expired = issue_token("admin", "root", secret=SECRET, ttl_seconds=60, now=int(time.time()) - 3600)
    resp = client.get("/anyone", headers=_bearer(expired))
    assert resp.status_code == 401 and "expired" in resp.get_json()["message"]
    assert expired not in resp.get_data(as_text=True)
    forged = issue_token("admin", "root", secret=OTHER_SECRET)
    assert client.get("/anyone", headers=_bearer(forged)).status_code == 401


def test_guard_200_sets_principal(client):
    token = issue_token("grid_worker", "gw-1", "kongjiang", secret=SECRET)
    resp = client.get("/anyone", headers=_bearer(token))
    assert resp.status_code == 200
    assert resp.get_json() == {"subject": "gw-1", "role": "grid_worker", "street": "kongjiang"}


def test_guard_403_for_wrong_role(client):
    token = issue_token("hotline_agent", "h-1", secret=SECRET)
    resp = client.get("/supervisors", headers=_bearer(token))
    assert resp.status_code == 403
    body = resp.get_json()
    assert body["code"] == "forbidden" and body["errors"] == {}
    assert body["message"].startswith("role hotline_agent may not")


def test_guard_200_for_allowed_role(client):
    token = issue_token("supervisor", "sup-changhai", "changhai", secret=SECRET)
    assert client.get("/supervisors", headers=_bearer(token)).status_code == 200


def test_guard_works_on_methodview():
    from flask.views import MethodView

    app = Flask(__name__)
    app.config["JWT_SECRET"] = SECRET

    class Tickets(MethodView):
        @require("officer")
        def get(self):
            return jsonify(who=current_principal().subject)

    app.add_url_rule("/tickets", view_func=Tickets.as_view("tickets"))
    c = app.test_client()
    assert c.get("/tickets").status_code == 401
    token = issue_token("officer", "com-yanji-1", secret=SECRET)
    assert c.get("/tickets", headers=_bearer(token)).get_json() == {"who": "com-yanji-1"}


def test_require_refuses_unknown_roles_and_bare_use():
    with pytest.raises(ValueError):
        require("janitor")
    with pytest.raises(TypeError):
        require(lambda: None)  # type: ignore[arg-type]


def test_current_principal_outside_guard():
    app = Flask(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        current_principal()


def test_guard_works_with_flask_smorest_blueprint():
    from flask.views import MethodView
    from flask_smorest import Api, Blueprint

    app = Flask(__name__)
    app.config.update(
        JWT_SECRET=SECRET, API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3", TESTING=True
    )
    blp = Blueprint("demo", __name__, url_prefix="/demo")

    @blp.route("/")
    class Demo(MethodView):
        @blp.response(200)
        @require("admin")
        def get(self):
            return {"who": current_principal().subject}

    api = Api(app)
    api.register_blueprint(blp)
    c = app.test_client()
    resp = c.get("/demo/")
    assert resp.status_code == 401 and resp.get_json()["code"] == "unauthorized"
    officer = issue_token("officer", "o-1", secret=SECRET)
    assert c.get("/demo/", headers=_bearer(officer)).status_code == 403
    admin = issue_token("admin", "root", secret=SECRET)
    assert c.get("/demo/", headers=_bearer(admin)).get_json() == {"who": "root"}


# --- JWT hygiene: jti, numeric times, a bounded lifetime, every failure a 401 -------------------------


def _forge(**changes) -> str:
    now = int(time.time())
    claims = {"sub": "x", "role": "admin", "iat": now, "exp": now + 60, "iss": ISSUER, "jti": "t-1", **changes}
    body = json.dumps({k: v for k, v in claims.items() if v is not ...}).encode()  # NaN, lists: anything
    return jwt.PyJWS().encode(body, SECRET, algorithm="HS256")


def test_every_token_carries_its_own_uuid4_jti():
    import uuid

    first, second = (jwt.decode(issue_token("admin", "root", secret=SECRET), SECRET, algorithms=["HS256"])
                     for _ in range(2))
    assert uuid.UUID(first["jti"]).version == 4 and first["jti"] != second["jti"]
    assert decode_token(issue_token("admin", "root", secret=SECRET), SECRET).token_id


@pytest.mark.parametrize("changes", [
    {"exp": str(int(time.time()) + 3600)}, {"exp": True}, {"exp": None}, {"exp": [1]}, {"exp": float("nan")},
    {"exp": float("inf")}, {"iat": str(int(time.time()))}, {"iat": float("-inf")}, {"jti": 7}, {"jti": ""},
    {"jti": ...}, {"sub": 5}, {"role": ["admin"]}, {"street": 3, "role": "officer"}, {"iss": ["yangpu-suite"]},
    {"nbf": "soon"}, {"exp": 10**30},
], ids=repr)
def test_malformed_claims_are_refused_never_crash(changes, client):
    token = _forge(**changes)
    with pytest.raises(AuthError):
        decode_token(token, SECRET)
    assert client.get("/anyone", headers=_bearer(token)).status_code == 401


def test_an_empty_or_blank_secret_verifies_nothing():
    token = issue_token("admin", "root", secret=SECRET)
    for secret in ("", None):
        with pytest.raises(AuthError):
            decode_token(token, secret)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        issue_token("admin", "root", secret="   ")


def test_lifetime_is_bounded_on_issue_and_on_decode():
    with pytest.raises(ValueError, match="maximum"):
        issue_token("admin", "root", secret=SECRET, ttl_seconds=12 * 3600 + 1)
    now = int(time.time())
    long_lived = _forge(iat=now, exp=now + 12 * 3600 + 1)
    with pytest.raises(AuthError, match="lifetime"):
        decode_token(long_lived, SECRET)
    short = issue_token("admin", "root", secret=SECRET, ttl_seconds=600, max_ttl_seconds=600)
    with pytest.raises(AuthError, match="lifetime"):
        decode_token(short, SECRET, max_ttl_seconds=300)


def test_cli_refuses_a_lifetime_above_the_maximum():
    proc = _cli("issue", "--role", "admin", "--subject", "root", "--ttl", str(12 * 3600 + 1))
    assert proc.returncode == 2 and "maximum" in proc.stderr and proc.stdout == ""


def test_cli_checks_an_officer_street_claim_against_the_roster():
    ok = _cli("issue", "--role", "officer", "--subject", "com-yanji-1", "--street", "yanji")
    assert ok.returncode == 0, ok.stderr
    specialist = _cli("issue", "--role", "officer", "--subject", "spec-market_regulation", "--street", "yanji")
    other_street = _cli("issue", "--role", "officer", "--subject", "com-yanji-1", "--street", "dinghai")
    unknown = _cli("issue", "--role", "officer", "--subject", "nobody-1", "--street", "yanji")
    assert other_street.returncode == 2 and "does not serve street 'dinghai'" in other_street.stderr
    assert unknown.returncode == 2 and "not in the roster" in unknown.stderr
    assert other_street.stdout == unknown.stdout == ""
    assert specialist.returncode == 0, specialist.stderr  # streets: ["*"] = every street
    no_claim = _cli("issue", "--role", "officer", "--subject", "nobody-1")
    assert no_claim.returncode == 0, no_claim.stderr  # no street claim: nothing widened, nothing to check


@pytest.mark.parametrize(("secret", "fragment"), [
    ("", "empty"), ("   ", "empty"), ("short-but-private", "32 bytes"), ("x" * 31, "32 bytes"),
    ("  dev-insecure-secret-change-me-before-production \n", "private"),
])
def test_production_refuses_weak_secrets(secret, fragment):
    from shared.config import ConfigError, Settings

    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env({"YANGPU_MODE": "production", "JWT_SECRET": secret}).check_production_ready()


def test_production_accepts_a_long_private_secret_and_embedded_refuses_only_an_empty_one():
    from shared.config import ConfigError, Settings

    Settings.from_env({"YANGPU_MODE": "production", "JWT_SECRET": "p" * 32}).check_production_ready()
    Settings.from_env({"JWT_SECRET": "short"}).check_production_ready()
    with pytest.raises(ConfigError, match="empty"):
        Settings.from_env({"JWT_SECRET": " "}).check_production_ready()
    with pytest.raises(ConfigError, match="JWT_MAX_TTL_SECONDS"):
        Settings.from_env({"JWT_TTL_SECONDS": "7200", "JWT_MAX_TTL_SECONDS": "3600"}).check_production_ready()
