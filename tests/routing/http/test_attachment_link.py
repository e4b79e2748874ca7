"""The officer's demand page shows the photos intake keeps (issue 13 item 7): routing asks intake over HTTP with
the officer's own token (the named exception to "only events") and links each file to intake's page route,
which the browser opens with the same sign-in cookie."""

from __future__ import annotations

import io
import socket
import threading

import pytest
from PIL import Image
from werkzeug.serving import make_server

from shared.webkit.pages import SESSION_COOKIE
from tests.helpers import demand_body
from tests.signin import session_for

STREET = "wujiaochang"
OFFICER = "com-wujiaochang-1"  # on duty around the clock in deploy/roster.yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.both_backends
def test_the_officers_demand_page_links_each_photo_to_intake(env, harness_factory):
    port = _free_port()
    suite = harness_factory({**env, "INTAKE_INTERNAL_URL": f"http://127.0.0.1:{port}"}, ("intake", "routing"))
    server = make_server("127.0.0.1", port, suite.clients["intake"].application, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        intake, routing = suite.clients["intake"], suite.clients["routing"]
        grid = suite.auth("grid_worker", f"grid-{STREET}-01", STREET)
        demand_id = intake.post("/api/v1/demands", json=demand_body(), headers=grid).get_json()["id"]
        sent = intake.post(f"/api/v1/demands/{demand_id}/attachments", headers=grid,
                           data={"file": (io.BytesIO(_jpeg()), "门头照片.jpg")}, content_type="multipart/form-data")
        assert sent.status_code == 201, sent.get_json()
        attachment_id = sent.get_json()["id"]
        supervisor = suite.auth("supervisor", f"sup-{STREET}", STREET)
        suite.until(lambda: routing.get(f"/api/v1/demands/{demand_id}/assignment",
                                        headers=supervisor).status_code == 200)

        token = session_for(routing.application, "officer", OFFICER, STREET)
        routing.set_cookie(SESSION_COOKIE, token)
        page = routing.get(f"/officer/demands/{demand_id}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        link = f"{suite.settings.service_urls['intake']}/grid/demands/{demand_id}/attachments/{attachment_id}"
        assert f'href="{link}"' in html and "门头照片.jpg" in html

        intake.set_cookie(SESSION_COOKIE, token)  # one sign-in serves every service of the host
        photo = intake.get(link.removeprefix(suite.settings.service_urls["intake"]))
        assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"
        assert photo.headers["Cache-Control"] == "no-store"
    finally:
        server.shutdown()
