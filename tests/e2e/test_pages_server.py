"""The pages' server-side rules, in-process (no browser): sign-in cookie, CSRF, role guard, language,
the refusal paths of the forms, and the completeness of the Chinese catalogue."""

from __future__ import annotations

import json
import re
from typing import Any

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from shared.auth import issue_token
from shared.config import PROJECT_ROOT
from shared.contracts.reference import CATEGORIES
from shared.webkit.pages.labels import LABELS
from tests.harness import Harness
from tests.helpers import demand_body, enterprise
from tests.signin import PASSWORD, ensure_account

CATALOGUE = PROJECT_ROOT / "shared" / "webkit" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def csrf(client: Any, path: str = "/signin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def sign_in(suite: Harness, service: str, role: str, subject: str, street: str | None = "wujiaochang",
            client: Any = None, next_: str | None = None) -> Any:
    """Sign ``client`` (default: the service's) in with a password account acting as ``subject``."""
    client = client or suite.clients[service]
    username = ensure_account(client.application.extensions["yangpu_accounts"], role, subject, street)
    form = {"csrf_token": csrf(client), "username": username, "password": PASSWORD}
    response = client.post("/signin", data=form if next_ is None else {**form, "next": next_})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def stored(suite: Harness) -> tuple[int, int]:
    """Demands and outbox rows in intake's database."""
    from intake_service.model import Demand, outbox

    engine = suite.contexts["intake"].engine
    with engine.connect() as conn:
        return (conn.scalar(select(func.count()).select_from(Demand)),
                conn.scalar(select(func.count()).select_from(outbox)))


def form_of(body: dict[str, Any], token: str | None) -> dict[str, str]:
    ent = body["enterprise"]
    data = {"category": body["category"], "complexity": body["complexity"], "title": body["title"],
            "description": body["description"], "enterprise.uscc": ent["uscc"], "enterprise.name": ent["name"],
            "enterprise.contact_name": ent["contact_name"], "enterprise.contact_phone": ent["contact_phone"]}
    if token:
        data["csrf_token"] = token
    return data


def test_sign_in_sets_an_httponly_strict_cookie_that_the_api_ignores(suite: Harness) -> None:
    response = sign_in(suite, "intake", "grid_worker", "gw-1")
    assert response.headers["Location"] == suite.settings.service_urls["intake"] + "/grid"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("yangpu_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    client = suite.clients["intake"]
    assert client.get("/grid").status_code == 200
    # The JSON API takes the Authorization header only: the page session opens nothing there.
    assert client.get("/api/v1/demands").status_code == 401
    assert client.post("/api/v1/demands", json=demand_body()).status_code == 401
    client.post("/signout", data={"csrf_token": csrf(client, "/grid")})
    assert client.get("/grid").status_code == 302


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(suite: Harness) -> None:
    sign_in(suite, "intake", "grid_worker", "gw-1")
    client = suite.clients["intake"]
    response = client.post("/grid/demands", data=form_of(demand_body(), None), headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert stored(suite) == (0, 0)
    ok = client.post("/grid/demands", data=form_of(demand_body(), csrf(client, "/grid")),
                     headers={"Accept": "application/json", "Idempotency-Key": "draft-1"})
    assert ok.status_code == 201, ok.get_json()
    assert stored(suite) == (1, 1)


def test_field_errors_come_back_per_field_and_nothing_is_stored(suite: Harness) -> None:
    sign_in(suite, "intake", "grid_worker", "gw-1")
    client = suite.clients["intake"]
    token = csrf(client, "/grid")
    body = demand_body()
    body["enterprise"]["uscc"] = enterprise()["uscc"][:17] + "0"
    body["enterprise"]["contact_phone"] = "12345"
    data = form_of(body, token)
    data["title"] = ""
    response = client.post("/grid/demands?lang=zh_Hans_CN", data=data, headers={"Accept": "application/json"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"enterprise.uscc", "enterprise.contact_phone", "title"}
    assert errors["title"] == ["必填。"]
    assert "校验不通过" in errors["enterprise.uscc"][0]
    # Without a script the same form comes back as a page, the message beside the field.
    page = client.post("/grid/demands?lang=en", data=data).get_data(as_text=True)
    assert re.search(r'id="e-enterprise-uscc"[^>]*>This code does not check out', page)
    assert 'aria-invalid="true" aria-describedby="h-uscc e-enterprise-uscc"' in page
    assert stored(suite) == (0, 0)


def test_a_grid_worker_files_only_in_their_street_and_only_once_per_key(suite: Harness) -> None:
    sign_in(suite, "intake", "grid_worker", "gw-1", street="dinghai")
    client = suite.clients["intake"]
    token = csrf(client, "/grid")
    headers = {"Accept": "application/json", "Idempotency-Key": "k-1"}
    # The street comes from the sign-in; the registry notes the enterprise is elsewhere (a warning).
    first = client.post("/grid/demands?lang=en", data=form_of(demand_body(), token), headers=headers)
    assert first.status_code == 201
    assert first.get_json()["warnings"] == ["The registry places this enterprise in another street."]
    again = client.post("/grid/demands", data=form_of(demand_body(), token), headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    changed = client.post("/grid/demands", data={**form_of(demand_body(), token), "title": "另一件事"},
                          headers=headers)
    assert changed.status_code == 409
    assert stored(suite) == (1, 1)


def test_pages_check_the_role_and_sign_in_refuses_a_wrong_password(suite: Harness) -> None:
    client = suite.clients["intake"]
    username = ensure_account(client.application.extensions["yangpu_accounts"], "officer", "com-wujiaochang-1",
                              "wujiaochang")
    bad = client.post("/signin?lang=en", data={"csrf_token": csrf(client), "username": username,
                                               "password": "not-the-password"})
    assert bad.status_code == 422 and "The username or password is wrong." in bad.get_data(as_text=True)
    token = issue_token("officer", "com-wujiaochang-1", secret=suite.settings.jwt_secret)
    pasted = client.post("/signin?lang=en", data={"csrf_token": csrf(client), "token": token})
    assert pasted.status_code == 422  # a bearer token opens the API only, never a page session
    assert client.get("/grid").headers["Location"] == "/signin?next=/grid"
    sign_in(suite, "intake", "officer", "com-wujiaochang-1")
    assert client.get("/grid").status_code == 403
    assert client.get("/grid/enterprises?q=上海", headers={"Accept": "application/json"}).status_code == 403


def test_after_sign_in_only_a_local_path_is_followed(suite: Harness) -> None:
    for target, expected in (("/officer/demands/x", "/officer/demands/x"),
                             ("//evil.example/", suite.settings.service_urls["routing"] + "/officer"),
                             ("https://evil.example/", suite.settings.service_urls["routing"] + "/officer")):
        response = sign_in(suite, "routing", "officer", "com-wujiaochang-1", next_=target)
        assert response.headers["Location"] == expected


def test_chinese_by_default_english_on_request_and_remembered(suite: Harness) -> None:
    client = suite.clients["sla"]
    page = client.get("/signin").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN">' in page and "用户名" in page and "密码" in page
    english = client.get("/signin?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert any(c.startswith("yangpu_lang=en") for c in english.headers.getlist("Set-Cookie"))
    assert "Username" in client.get("/signin").get_data(as_text=True)


def test_officer_actions_follow_the_state_machine(suite: Harness) -> None:
    suite = suite
    status = suite.clients["intake"].post("/api/v1/demands", json=demand_body(),
                                          headers=suite.auth("grid_worker", "gw-1", "wujiaochang"))
    demand_id = status.get_json()["id"]
    suite.until(lambda: suite.clients["routing"].get(
        f"/api/v1/demands/{demand_id}/assignment", headers=suite.auth("supervisor", "sup-wujiaochang", "wujiaochang"),
    ).status_code == 200)
    client = suite.clients["routing"]
    sign_in(suite, "routing", "officer", "com-wujiaochang-1")
    queue = client.get("/officer")
    assert queue.status_code == 200 and f"/officer/demands/{demand_id}" in queue.get_data(as_text=True)
    page = client.get(f"/officer/demands/{demand_id}").get_data(as_text=True)
    for shown in ("acknowledge", "resolve", "transfer", "escalate"):
        assert f"/{shown}\"" in page
    for hidden in ("materials-received", "feedback", "close", "request-materials"):
        assert f"/{hidden}\"" not in page
    token = csrf(client, f"/officer/demands/{demand_id}")
    refused = client.post(f"/officer/demands/{demand_id}/close", data={"csrf_token": token})
    assert refused.status_code == 409 and "当前状态下无法执行" in refused.get_data(as_text=True)
    missing = client.post(f"/officer/demands/{demand_id}/resolve?lang=en",
                          data={"csrf_token": token, "outcome": "resolved"})
    assert missing.status_code == 422 and 'id="e-note"' in missing.get_data(as_text=True)
    done = client.post(f"/officer/demands/{demand_id}/acknowledge", data={"csrf_token": token})
    assert done.status_code == 302 and "done=acknowledge" in done.headers["Location"]
    other = suite.clients["routing"].application.test_client()
    sign_in(suite, "routing", "officer", "com-wujiaochang-2", client=other)
    assert other.get(f"/officer/demands/{demand_id}").status_code == 404


def test_the_supervisor_page_shows_the_street_even_when_sla_does_not_answer(suite: Harness) -> None:
    # In-process there is no sla server to ask: the page says so and shows routing's own queues.
    sign_in(suite, "routing", "supervisor", "sup-wujiaochang")
    page = suite.clients["routing"].get("/supervisor?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The compliance figures cannot be shown right now" in text and "Nobody could take these (0)" in text


def _extracted() -> set[tuple[str | None, str]]:
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}
    with (CATALOGUE.parents[2] / "babel.cfg").open() as fh:  # what `pybabel extract` reads (docs/pages.md)
        method_map, _options = parse_mapping_cfg(fh)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(PROJECT_ROOT), method_map,
                                                                       keywords=keywords):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def test_every_word_of_the_pages_has_its_chinese_translation() -> None:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh)
    translated = {(m.context, m.id[0] if m.pluralizable else m.id) for m in catalogue
                  if m.id and (m.string[0] if m.pluralizable else m.string)}
    missing = sorted(_extracted() - translated, key=str)
    assert not missing, f"untranslated (see docs/pages.md to update the catalogue): {missing}"


def test_category_names_agree_with_the_reference_data(suite: Harness) -> None:
    app = suite.clients["intake"].application
    with app.test_request_context("/?lang=zh_Hans_CN"):
        assert set(LABELS["category"]) == set(CATEGORIES)
        for code, category in CATEGORIES.items():
            assert str(LABELS["category"][code]) == category.name_zh


def test_dashboard_links_point_at_provisioned_dashboards() -> None:
    from routing_service.http.supervisor_pages import DASHBOARDS

    provisioned = {json.loads(f.read_text(encoding="utf-8"))["uid"]
                   for f in (PROJECT_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")}
    assert {uid for uid, _query, _name in DASHBOARDS} <= provisioned
