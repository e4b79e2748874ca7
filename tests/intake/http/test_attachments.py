"""Photos and scans attached to a demand (issue 13 item 7): stored by intake without the photo's location unless
the worker keeps it, limited in size, type and number, readable by whoever may read the demand, holder included.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from intake_service.model import Attachment
from shared.webkit.pages import SESSION_COOKIE
from tests.helpers import demand_body
from tests.signin import session_for

pytestmark = pytest.mark.both_backends

URL = "/api/v1/demands"
STREET = "wujiaochang"
HOLDER = "spec-market_regulation"  # a department specialist reads only what they hold
STRANGER = "com-dinghai-1"  # a commissioner of another street
GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


def photo(fmt: str = "JPEG", gps: bool = True) -> bytes:
    """A small photo as a phone takes it: orientation, camera make and (by default) where it was taken."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "HUAWEI"
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (31.0, 18.0, 5.5), 3: "E", 4: (121.0, 30.0, 12.25)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def bomb() -> bytes:
    """A valid 100,000 × 100,000 PNG header with almost no data: ten gigapixels if anyone decoded it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
            + chunk(b"IEND", b""))


def _log(intake, street: str = STREET) -> str:
    resp = intake.client.post(URL, json=demand_body(street=street), headers=intake.grid(street))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _upload(intake, demand_id: str, data: bytes, name: str = "IMG_0001.jpg", headers=None, **form):
    return intake.client.post(f"{URL}/{demand_id}/attachments", headers=headers or intake.grid(),
                              data={"file": (io.BytesIO(data), name), **form}, content_type="multipart/form-data")


def _stored(intake) -> int:
    with intake.session() as session:
        return session.scalar(select(func.count()).select_from(Attachment))


def _bytes(intake, demand_id: str, attachment_id: str, headers=None):
    return intake.client.get(f"{URL}/{demand_id}/attachments/{attachment_id}", headers=headers or intake.grid())


def _exif(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif()


def test_a_photos_location_and_camera_are_stripped_its_orientation_kept(intake):
    demand_id = _log(intake)
    resp = _upload(intake, demand_id, photo())
    assert resp.status_code == 201, resp.get_json()
    meta = resp.get_json()
    assert (meta["content_type"], meta["filename"], meta["location_kept"]) == ("image/jpeg", "IMG_0001.jpg", False)
    assert resp.headers["Location"].endswith(f"/attachments/{meta['id']}")
    got = _bytes(intake, demand_id, meta["id"])
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Cache-Control"] == "no-store"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == 'inline; filename="IMG_0001.jpg"'
    exif = _exif(got.data)
    assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD) and MAKE not in exif
    assert exif[ORIENTATION] == 6
    assert (meta["size"], meta["sha256"]) == (len(got.data), hashlib.sha256(got.data).hexdigest())


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_lose_their_location_too(intake, fmt):
    demand_id = _log(intake)
    resp = _upload(intake, demand_id, photo(fmt), name=f"scan.{fmt.lower()}")
    assert resp.status_code == 201, resp.get_json()
    exif = _exif(_bytes(intake, demand_id, resp.get_json()["id"]).data)
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif


def test_keep_location_stores_the_photo_as_sent(intake):
    demand_id = _log(intake)
    sent = photo()
    resp = _upload(intake, demand_id, sent, keep_location="true")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["location_kept"] is True
    got = _bytes(intake, demand_id, resp.get_json()["id"]).data
    assert got == sent
    assert _exif(got).get_ifd(GPS_IFD)[2] == (31.0, 18.0, 5.5)


def test_a_pdf_is_stored_as_sent_and_named_for_what_it_is(intake):
    demand_id = _log(intake)
    resp = _upload(intake, demand_id, PDF, name="营业执照 扫描.PDF")
    assert resp.status_code == 201, resp.get_json()
    got = _bytes(intake, demand_id, resp.get_json()["id"])
    assert got.data == PDF and got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith('inline; filename="')
    assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%20%E6%89%AB%E6%8F%8F.pdf" in \
        got.headers["Content-Disposition"]


def test_the_type_is_judged_by_the_contents_and_nothing_else_is_stored(intake):
    demand_id = _log(intake)
    text = _upload(intake, demand_id, b"just some text, honestly a photo\n", name="photo.jpg")
    assert text.status_code == 415, text.get_json()
    assert text.get_json()["code"] == "unsupported_media_type" and "file" in text.get_json()["errors"]
    html = _upload(intake, demand_id, b"<html><script>alert(1)</script></html>", name="x.png")
    assert html.status_code == 415
    not_multipart = intake.client.post(f"{URL}/{demand_id}/attachments", headers=intake.grid(), data=photo(),
                                       content_type="image/jpeg")
    assert not_multipart.status_code == 415
    no_file = intake.client.post(f"{URL}/{demand_id}/attachments", headers=intake.grid(),
                                 data={"keep_location": "true"}, content_type="multipart/form-data")
    assert no_file.status_code == 422 and "file" in no_file.get_json()["errors"]
    bad_flag = _upload(intake, demand_id, photo(), keep_location="perhaps")
    assert bad_flag.status_code == 422 and "keep_location" in bad_flag.get_json()["errors"]
    broken = _upload(intake, demand_id, photo()[:200])
    assert broken.status_code == 422, broken.get_json()
    assert _stored(intake) == 0


def test_an_image_too_large_to_decode_is_a_422(intake):
    demand_id = _log(intake)
    resp = _upload(intake, demand_id, bomb(), name="bomb.png")
    assert resp.status_code == 422, resp.get_json()
    assert "pixels" in resp.get_json()["errors"]["file"][0]
    assert _stored(intake) == 0


def test_a_body_over_the_limit_is_a_413_and_stores_nothing(intake):
    demand_id = _log(intake)
    big = photo() + b"\x00" * (9 * 1024 * 1024)
    resp = _upload(intake, demand_id, big)
    assert resp.status_code == 413
    assert _stored(intake) == 0


def test_a_demand_takes_five_files_and_refuses_the_sixth(intake):
    demand_id = _log(intake)
    for i in range(5):
        assert _upload(intake, demand_id, PDF, name=f"p{i}.pdf").status_code == 201
    sixth = _upload(intake, demand_id, PDF)
    assert sixth.status_code == 409, sixth.get_json()
    listed = intake.client.get(f"{URL}/{demand_id}/attachments", headers=intake.grid()).get_json()["items"]
    assert [a["filename"] for a in listed] == [f"p{i}.pdf" for i in range(5)]
    assert _stored(intake) == 5


def test_who_may_not_read_the_demand_or_add_to_it_is_refused_and_nothing_is_stored(intake):
    demand_id = _log(intake)
    other_street = intake.grid("dinghai")
    same_street_colleague = intake.grid(STREET, subject="grid-wujiaochang-02")
    officer = intake.auth("officer", STRANGER)
    assert _upload(intake, demand_id, photo(), headers=other_street).status_code == 403
    assert _upload(intake, demand_id, photo(), headers=same_street_colleague).status_code == 403  # reads, may not add
    assert _upload(intake, demand_id, photo(), headers=officer).status_code == 403
    assert _upload(intake, "00000000-0000-4000-8000-000000000000", photo()).status_code == 404
    assert _upload(intake, "not-a-demand", photo()).status_code == 404
    assert intake.client.post(f"{URL}/{demand_id}/attachments", data={"file": (io.BytesIO(PDF), "a.pdf")},
                              content_type="multipart/form-data").status_code == 401
    assert _stored(intake) == 0
    kept = _upload(intake, demand_id, photo()).get_json()["id"]
    assert _bytes(intake, demand_id, kept, headers=other_street).status_code == 403
    assert _bytes(intake, demand_id, kept, headers=officer).status_code == 403
    assert intake.client.get(f"{URL}/{demand_id}/attachments", headers=officer).status_code == 403
    other_demand = _log(intake)
    assert _bytes(intake, other_demand, kept).status_code == 404  # an id of another demand's file finds nothing
    supervisor = intake.auth("supervisor", "sup-wujiaochang", STREET)
    assert _upload(intake, demand_id, PDF, headers=supervisor).status_code == 201
    assert _upload(intake, demand_id, PDF, headers=intake.auth("admin", "admin-1")).status_code == 201


def test_the_holder_reads_the_files_over_the_api_and_the_page(intake):
    demand_id = _log(intake)
    kept = _upload(intake, demand_id, photo()).get_json()["id"]
    officer = intake.auth("officer", HOLDER)
    assert _bytes(intake, demand_id, kept, headers=officer).status_code == 403
    intake.publish("yangpu.demand.assigned.v1", {
        "demand_id": demand_id, "street": STREET, "actor_id": "routing", "officer_id": HOLDER,
        "officer_kind": "department_specialist", "department": "market_regulation", "rule": "street_commissioner",
        "queue": "officer"})
    intake.until(lambda: _bytes(intake, demand_id, kept, headers=officer).status_code == 200)
    view = intake.client.get(f"{URL}/{demand_id}", headers=officer).get_json()
    assert [a["id"] for a in view["attachments"]] == [kept]
    intake.client.set_cookie(SESSION_COOKIE, session_for(intake.client.application, "officer", HOLDER, None))
    page = intake.client.get(f"/grid/demands/{demand_id}/attachments/{kept}")
    assert page.status_code == 200 and page.headers["Content-Type"] == "image/jpeg"
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert not _exif(page.data).get_ifd(GPS_IFD)
    intake.client.set_cookie(SESSION_COOKIE, session_for(intake.client.application, "officer", STRANGER, None))
    assert intake.client.get(f"/grid/demands/{demand_id}/attachments/{kept}").status_code == 403


def _csrf(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_the_grid_page_uploads_with_its_cookie_and_csrf_token_and_shows_the_photo(intake):
    demand_id = _log(intake)
    client = intake.client
    client.set_cookie(SESSION_COOKIE, session_for(client.application, "grid_worker", f"grid-{STREET}-01", STREET))
    form = client.get("/grid").get_data(as_text=True)
    assert 'id="attach-file"' in form and 'capture="environment"' in form and "attach.js" in form
    path = f"/grid/demands/{demand_id}/attachments"
    refused = client.post(path, data={"file": (io.BytesIO(photo()), "a.jpg")}, content_type="multipart/form-data",
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400  # no CSRF token
    token = _csrf(client, f"/grid/demands/{demand_id}")
    sent = client.post(path, data={"file": (io.BytesIO(photo()), "a.jpg")}, content_type="multipart/form-data",
                       headers={"Accept": "application/json", "X-CSRFToken": token})
    assert sent.status_code == 201, sent.get_json()
    page = client.get(f"/grid/demands/{demand_id}").get_data(as_text=True)
    assert sent.get_json()["url"] in page and "<img" in page
    wrong = client.post(path, data={"file": (io.BytesIO(b"plain text"), "a.jpg")}, content_type="multipart/form-data",
                        headers={"Accept": "application/json", "X-CSRFToken": token})
    assert wrong.status_code == 415 and wrong.get_json()["message"] == "只能附加照片（JPEG、PNG、WebP）和 PDF 扫描件。"
    assert _stored(intake) == 1
    plain = client.post(path, data={"file": (io.BytesIO(PDF), "scan.pdf"), "csrf_token": token},
                        content_type="multipart/form-data")  # the demand page's own form, no script
    assert plain.status_code == 302 and f"/grid/demands/{demand_id}?added=" in plain.headers["Location"]
    shown = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "文件已附加。" in shown and "scan.pdf" in shown
    colleague = session_for(intake.client.application, "grid_worker", f"grid-{STREET}-02", STREET)
    client.set_cookie(SESSION_COOKIE, colleague)  # reads the street's demands, did not log this one
    assert 'name="file"' not in client.get(f"/grid/demands/{demand_id}").get_data(as_text=True)
    token = _csrf(client, f"/grid/demands/{demand_id}")
    refused = client.post(path, data={"file": (io.BytesIO(PDF), "scan.pdf")}, content_type="multipart/form-data",
                          headers={"Accept": "application/json", "X-CSRFToken": token})
    assert refused.status_code == 403 and _stored(intake) == 2


def test_the_openapi_document_describes_the_upload(intake):
    spec = intake.client.get("/openapi.json").get_json()
    post = spec["paths"]["/api/v1/demands/{demand_id}/attachments"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "401", "403", "404", "409", "413", "415", "422"} <= set(post["responses"])
    get = spec["paths"]["/api/v1/demands/{demand_id}/attachments/{attachment_id}"]["get"]
    assert "image/jpeg" in get["responses"]["200"]["content"]
