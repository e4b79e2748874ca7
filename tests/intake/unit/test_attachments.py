"""The attachment rules on their own: what a file is (by its bytes), the name it is offered under, who may add one."""

from __future__ import annotations

import pytest

from intake_service.domain import IntakeRefused
from intake_service.domain.attachments import clean, filename, may_attach, sniff
from intake_service.domain.policy import Caller


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"), (b"\x89PNG\r\n\x1a\n\x00", "png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
    (b"%PDF-1.7\n", "pdf"), (b"GIF89a", None), (b"<svg xmlns=", None), (b"RIFF\x10\x00\x00\x00WAVE", None),
    (b"PK\x03\x04", None), (b"", None),
])
def test_the_kind_comes_from_the_magic_bytes(head, kind):
    assert sniff(head) == kind


@pytest.mark.parametrize(("declared", "extension", "expected"), [
    ("IMG_0001.JPG", "jpg", "IMG_0001.jpg"),
    ("../../etc/passwd", "pdf", "passwd.pdf"),
    ("C:\\Users\\wang\\营业执照.pdf", "pdf", "营业执照.pdf"),
    ('evil"; filename=x.html', "png", "evil__ filename=x.png"),
    ("a\r\nSet-Cookie: x\u202e.jpg", "jpg", "aSet-Cookie_ x.jpg"),
    ("photo.html", "jpg", "photo.jpg"),
    ("", "webp", "attachment-3.webp"),
    (None, "pdf", "attachment-3.pdf"),
    ("...", "pdf", "attachment-3.pdf"),
    ("x" * 500 + ".jpg", "jpg", "x" * 116 + ".jpg"),
])
def test_the_name_offered_is_safe_in_a_header_and_says_what_the_file_is(declared, extension, expected):
    assert filename(declared, extension, 3) == expected


def test_an_empty_or_unknown_file_is_refused_with_its_kind():
    with pytest.raises(IntakeRefused) as empty:
        clean(b"", "a.jpg", False, 1)
    assert empty.value.kind == "invalid"
    with pytest.raises(IntakeRefused) as text:
        clean(b"hello", "a.jpg", False, 1)
    assert text.value.kind == "unsupported"


@pytest.mark.parametrize(("caller", "allowed"), [
    (Caller("gw-1", "grid_worker", "wujiaochang"), True),         # logged it
    (Caller("gw-2", "grid_worker", "wujiaochang"), False),        # reads the street, did not log it
    (Caller("sup-w", "supervisor", "wujiaochang"), True),
    (Caller("sup-d", "supervisor", "dinghai"), False),
    (Caller("admin-1", "admin", None), True),
    (Caller("com-1", "officer", "wujiaochang", kind="street_commissioner",
            streets=frozenset({"wujiaochang"})), False),
    (Caller("agent-1", "hotline_agent", None), False),
])
def test_who_may_add_a_file(caller, allowed):
    assert may_attach(caller, "wujiaochang", "gw-1") is allowed
