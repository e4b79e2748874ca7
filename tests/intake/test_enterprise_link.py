"""The enterprise's private link (issue 14 item 9): issued by whoever speaks with the enterprise, kept as a hash,
opening the demand without a sign-in until 30 days after closing, the same 404 for every dead link, rate-limited,
no personal data beyond the demand's own, and the rating passed to routing as the enterprise of that demand."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from intake_service.http import enterprise_pages
from intake_service.model import EnterpriseLink
from shared.auth import decode_token
from shared.webkit.pages import SESSION_COOKIE
from shared.webkit.service_client import ServiceUnavailable
from tests.helpers import demand_body
from tests.signin import session_for

URL = "/api/v1/demands"
STREET = "wujiaochang"
OFFICER = "com-wujiaochang-1"  # 谢秀英, office phone 021-65080039 in deploy/roster.yaml
WORKER = "grid-wujiaochang-01"


def _log(intake: Any) -> dict[str, Any]:
    resp = intake.client.post(URL, json=demand_body(), headers=intake.grid(STREET, WORKER))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _event(intake: Any, kind: str, demand_id: str, at: datetime | None = None, **data: Any) -> None:
    intake.publish(f"yangpu.demand.{kind}.v1", {"demand_id": demand_id, "street": STREET, "actor_id": OFFICER,
                                                 "at": at or datetime.now(UTC), **data})


def _assign(intake: Any, demand_id: str) -> None:
    _event(intake, "assigned", demand_id, officer_id=OFFICER, officer_kind="street_commissioner", department=None,
           rule="street_commissioner", queue="officer", actor_id="routing")
    intake.until(lambda: _status(intake, demand_id) == "assigned")


def _status(intake: Any, demand_id: str) -> str:
    return intake.client.get(f"{URL}/{demand_id}", headers=intake.grid(STREET, WORKER)).get_json()["status"]


def _issue(intake: Any, demand_id: str, headers: dict[str, str] | None = None) -> str:
    resp = intake.client.post(f"{URL}/{demand_id}/enterprise-link", headers=headers or intake.grid(STREET, WORKER))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["url"].startswith("http") and "/e/" in body["url"]
    return body["url"].rsplit("/e/", 1)[1]


def _visitor(intake: Any) -> Any:
    """A browser with no sign-in (a fresh client of the same app)."""
    return intake.client.application.test_client()


@pytest.mark.both_backends
def test_the_link_opens_the_demand_without_sign_in_and_only_its_hash_is_kept(intake):
    demand = _log(intake)
    _assign(intake, demand["id"])
    _event(intake, "materials_requested", demand["id"], note="营业执照复印件")
    intake.until(lambda: _status(intake, demand["id"]) == "awaiting_enterprise")
    token = _issue(intake, demand["id"])
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # >= 128 random bits, URL-safe

    with intake.engine.connect() as conn:
        rows = conn.execute(select(EnterpriseLink.__table__)).all()
    assert [(r.demand_id, r.token_sha256, r.issued_by) for r in rows] == [
        (demand["id"], hashlib.sha256(token.encode()).hexdigest(), WORKER)]
    assert token not in repr(rows)

    page = _visitor(intake).get(f"/e/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert demand["title"] in html and "谢秀英" in html and "021-65080039" in html
    assert "营业执照复印件" in html  # the materials asked for
    assert demand_body()["enterprise"]["contact_phone"] not in html  # the reporter's phone, never
    for staff_id in (OFFICER, WORKER, "routing"):
        assert staff_id not in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    english = _visitor(intake).get(f"/e/{token}?lang=en").get_data(as_text=True)
    assert "The officer asked you for materials." in english


def _page_of(response: Any, token: str) -> str:
    """The page with its own address (in the language links) and its CSRF token (signed with the time) taken out."""
    return re.sub(r'name="csrf-token" content="[^"]*"', "", response.get_data(as_text=True).replace(token, "TOKEN"))


@pytest.mark.both_backends
def test_unknown_replaced_and_expired_links_all_get_the_same_404(intake):
    demand = _log(intake)
    first = _issue(intake, demand["id"])
    second = _issue(intake, demand["id"])  # issuing again revokes the first
    visitor = _visitor(intake)
    assert visitor.get(f"/e/{second}").status_code == 200
    unknown = visitor.get("/e/" + "A" * 24)
    replaced = visitor.get(f"/e/{first}")
    assert unknown.status_code == replaced.status_code == 404
    assert _page_of(unknown, "A" * 24) == _page_of(replaced, first)
    assert unknown.headers["Referrer-Policy"] == "no-referrer"

    # Closed 29 days ago: still opens, and the API says it expires in a day. Closed 31 days ago: gone, alike.
    _event(intake, "resolved", demand["id"], outcome="resolved", note="已办结")
    _event(intake, "closed", demand["id"], at=datetime.now(UTC) - timedelta(days=29), outcome="resolved")
    intake.until(lambda: _status(intake, demand["id"]) == "closed")
    third = _issue(intake, demand["id"])
    assert visitor.get(f"/e/{third}").status_code == 200
    body = intake.client.post(f"{URL}/{demand['id']}/enterprise-link", headers=intake.grid(STREET, WORKER)).get_json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=0) < expires - datetime.now(UTC) < timedelta(days=1, minutes=1)
    gone = _log(intake)["id"]  # closed 31 days ago
    old_link = _issue(intake, gone)
    _event(intake, "resolved", gone, outcome="resolved", note="已办结")
    _event(intake, "closed", gone, at=datetime.now(UTC) - timedelta(days=31), outcome="resolved")
    intake.until(lambda: _status(intake, gone) == "closed")
    expired = visitor.get(f"/e/{old_link}")
    assert expired.status_code == 404 and _page_of(expired, old_link) == _page_of(unknown, "A" * 24)


def test_only_those_who_speak_with_the_enterprise_and_may_read_the_demand_issue_links(intake):
    demand = _log(intake)
    path = f"{URL}/{demand['id']}/enterprise-link"
    assert intake.client.post(path, headers=intake.auth("admin", "admin-01")).status_code == 403
    assert intake.client.post(path, headers=intake.grid("yinhang", "grid-yinhang-01")).status_code == 403
    assert intake.client.post(path).status_code == 401
    assert intake.client.post(f"{URL}/00000000-0000-4000-8000-000000000000/enterprise-link",
                              headers=intake.grid(STREET, WORKER)).status_code == 404
    assert intake.client.post(path, headers=intake.auth("hotline_agent", "hl-01")).status_code == 201
    with intake.engine.connect() as conn:
        assert conn.execute(select(EnterpriseLink.issued_by)).scalars().all() == ["hl-01"]


def test_the_staff_page_shows_the_link_as_a_qr_code_once(intake):
    demand = _log(intake)
    client = intake.client.application.test_client()
    client.set_cookie(SESSION_COOKIE, session_for(client.application, "grid_worker", WORKER, STREET))
    grid_page = client.get(f"/grid/demands/{demand['id']}").get_data(as_text=True)
    assert f"/demands/{demand['id']}/enterprise-link" in grid_page and "给企业的链接" in grid_page
    page = client.get(f"/demands/{demand['id']}/enterprise-link").get_data(as_text=True)
    assert "data:image/svg+xml" not in page  # nothing issued by looking
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    issued = client.post(f"/demands/{demand['id']}/enterprise-link", data={"csrf_token": csrf})
    html = issued.get_data(as_text=True)
    assert issued.status_code == 200 and 'src="data:image/svg+xml' in html
    token = re.search(r'/e/([A-Za-z0-9_-]+)"', html)[1]
    assert _visitor(intake).get(f"/e/{token}").status_code == 200
    again = client.get(f"/demands/{demand['id']}/enterprise-link").get_data(as_text=True)
    assert token not in again and "data:image/svg+xml" not in again
    assert client.post(f"/demands/{demand['id']}/enterprise-link").status_code == 400  # CSRF


@pytest.mark.both_backends
def test_opening_the_link_is_rate_limited_per_address(intake):
    token = _issue(intake, _log(intake)["id"])
    visitor = _visitor(intake)
    answers = [visitor.get(f"/e/{token}").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30 and answers[30] == 429
    assert visitor.get("/e/" + "B" * 24).status_code == 429  # guessing is limited the same way


def _rating_form(visitor: Any, token: str) -> tuple[str, str]:
    html = visitor.get(f"/e/{token}").get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def test_after_the_answer_the_enterprise_rates_it_and_routing_records_it_as_the_enterprise(intake, monkeypatch):
    demand = _log(intake)
    _assign(intake, demand["id"])
    token = _issue(intake, demand["id"])
    visitor = _visitor(intake)
    assert 'name="satisfaction"' not in visitor.get(f"/e/{token}").get_data(as_text=True)  # nothing to rate yet
    _event(intake, "resolved", demand["id"], outcome="resolved", note="已为企业办理")
    intake.until(lambda: _status(intake, demand["id"]) == "resolved")
    html, csrf = _rating_form(visitor, token)
    assert html.count('name="satisfaction"') == 3 and "checked" not in html  # nothing chosen in advance
    assert "已为企业办理" in html

    calls: list[dict[str, Any]] = []

    def routing(service: str, path: str, params: Any = None, *, body: Any = None, token: str | None = None) -> Any:
        calls.append({"service": service, "path": path, "body": body, "token": token})
        return {"state": "feedback_received"}

    monkeypatch.setattr(enterprise_pages, "call_service", routing)
    missing = visitor.post(f"/e/{token}/feedback", data={"csrf_token": csrf, "comment": "x"})
    assert missing.status_code == 422 and calls == []
    assert visitor.post(f"/e/{token}/feedback", data={"satisfaction": "satisfied"}).status_code == 400  # CSRF
    sent = visitor.post(f"/e/{token}/feedback", data={"csrf_token": csrf, "satisfaction": "satisfied",
                                                      "comment": "  办得很快 "})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/e/{token}?sent=1")
    [call] = calls
    assert (call["service"], call["path"]) == ("routing", f"/api/v1/demands/{demand['id']}/feedback")
    assert call["body"] == {"satisfaction": "satisfied", "comment": "办得很快"}
    settings = intake.settings
    who = decode_token(call["token"], settings.jwt_secret, max_ttl_seconds=settings.jwt_max_ttl_seconds)
    assert (who.role, who.subject) == ("enterprise", demand["id"])
    thanks = visitor.get(f"/e/{token}?sent=1").get_data(as_text=True)
    assert 'name="satisfaction"' not in thanks

    # Routing's event arrives: the page says the rating, the comment, and asks no more.
    _event(intake, "feedback_received", demand["id"], satisfaction="satisfied", comment="办得很快",
           actor_id=demand["id"])
    intake.until(lambda: intake.client.get(f"{URL}/{demand['id']}", headers=intake.grid(STREET, WORKER))
                 .get_json()["satisfaction"] == "satisfied")
    after = visitor.get(f"/e/{token}").get_data(as_text=True)
    assert 'name="satisfaction"' not in after and "办得很快" in after


def test_a_refusal_from_routing_is_told_and_sending_is_rate_limited(intake, monkeypatch):
    demand = _log(intake)
    _assign(intake, demand["id"])
    token = _issue(intake, demand["id"])
    _event(intake, "resolved", demand["id"], outcome="resolved", note="ok")
    intake.until(lambda: _status(intake, demand["id"]) == "resolved")

    def refused(*_: Any, **__: Any) -> Any:
        raise ServiceUnavailable("routing: 409", 409)

    monkeypatch.setattr(enterprise_pages, "call_service", refused)
    visitor = _visitor(intake)
    _, csrf = _rating_form(visitor, token)
    answers = [visitor.post(f"/e/{token}/feedback", data={"csrf_token": csrf, "satisfaction": "unsatisfied"})
               for _ in range(6)]
    assert [a.status_code for a in answers] == [409] * 5 + [429]
    assert "您的评价已记录过" in answers[0].get_data(as_text=True)


@pytest.mark.parametrize("token", ["x" * 65, "%E4%B8%AD"])
def test_odd_tokens_are_just_unknown(intake, token):
    assert _visitor(intake).get(f"/e/{token}").status_code == 404


def test_the_link_rules_on_their_own():
    from intake_service.domain.policy import Caller, link_alive, link_expires_at, may_issue_link, token_digest

    closed = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert link_expires_at(None) is None and link_alive(None, datetime(2099, 1, 1, tzinfo=UTC))
    assert link_expires_at(closed) == closed + timedelta(days=30)
    assert link_alive(closed, closed + timedelta(days=30) - timedelta(seconds=1))
    assert not link_alive(closed, closed + timedelta(days=30))
    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    facts = (STREET, OFFICER, None, WORKER)
    assert may_issue_link(Caller(WORKER, "grid_worker", STREET), *facts)
    assert may_issue_link(Caller(OFFICER, "officer", STREET), *facts)  # the holder
    assert may_issue_link(Caller("hd-01", "helpdesk_agent", None), *facts)
    assert not may_issue_link(Caller("admin-01", "admin", None), *facts)  # reads everything, hands out nothing
    assert not may_issue_link(Caller("com-other", "officer", STREET), *facts)  # may not read it
    assert not may_issue_link(Caller(WORKER, "grid_worker", "yinhang"), STREET, None, None, "someone")
