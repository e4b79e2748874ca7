"""A photo taken on the phone travels with the demand to the officer (issue 13 item 7), in Chromium.

The grid worker picks a photo at 360 px, files the demand, and the photo is attached once it is stored;
its GPS position is gone; the officer's page links it and the officer's browser opens it.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from PIL import Image

from shared.accounts import Accounts
from shared.auth_store import open_engine
from tests.e2e.conftest import DESKTOP, STREET, RunningSuite, titled
from tests.e2e.test_grid_offline import fill
from tests.signin import PASSWORD, ensure_account


def _photo_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 18.0, 3.0), 3: "E", 4: (121.0, 30.0, 9.0)}  # GPSInfo
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _account_for(running: RunningSuite, officer_id: str) -> str:
    """A password account for whichever officer routing chose."""
    store = open_engine(running.settings.auth_database_url)
    try:
        return ensure_account(Accounts(store, roster_path=running.settings.roster_path), "officer", officer_id,
                              STREET)
    finally:
        store.dispose()


def test_a_photo_filed_from_the_phone_reaches_the_officer_without_its_location(
        phone: tuple[Any, Any], browser: Any, running: RunningSuite) -> None:
    _, page = phone
    title = f"照片 {uuid.uuid4().hex[:6]}"
    fill(page, title)
    page.set_input_files("#attach-file", files=[{"name": "现场.jpg", "mimeType": "image/jpeg",
                                                 "buffer": _photo_with_gps()}])
    page.click("#demand-form button[type=submit]")
    page.wait_for_selector("#result.ok:not([hidden])")
    page.wait_for_selector("#attach-status.ok", state="attached")  # 照片已附加到诉求 (the form is behind the result)
    demand = running.wait(lambda: titled(running, title), what="the demand stored")[0]
    listed = f"/api/v1/demands/{demand['id']}/attachments"
    items = running.wait(lambda: (r := running.api("intake", listed, "supervisor"))[0] == 200 and r[1]["items"],
                         what="the photo attached")
    assert len(items) == 1, items

    # The officer it went to sees a link on routing's demand page, and their browser opens the photo.
    holder = running.wait(lambda: (r := running.api("routing", f"/api/v1/demands/{demand['id']}/assignment",
                                                    "supervisor"))[0] == 200 and r[1].get("officer_id"),
                          what="the demand assigned")
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    officer = context.new_page()
    officer.goto(running.url("routing", "/signin"))
    officer.fill("#username", _account_for(running, holder))
    officer.fill("#password", PASSWORD)
    officer.click("form[action='/signin'] button[type=submit]")
    officer.wait_for_load_state()
    try:
        officer.goto(running.url("routing", f"/officer/demands/{demand['id']}"))
        link = officer.locator("a[href*='/attachments/']").first
        href = link.get_attribute("href")
        assert href and re.search(r"/attachments/", href)
        answer = context.request.get(href)
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/")
        stored = Image.open(io.BytesIO(answer.body()))
        assert 0x8825 not in stored.getexif(), "the photo's GPS position was kept"
    finally:
        context.close()
