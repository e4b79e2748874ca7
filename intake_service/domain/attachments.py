"""What a file attached to a demand may be, and what intake keeps of it: pure functions over its bytes.

A photo from the phone's camera or a document scan, at most :data:`MAX_BYTES`, of one of :data:`KINDS`
told by its first bytes (the declared type and the file name are the sender's word, not evidence). Photos
carry EXIF, and a phone's EXIF says where the worker stood (GPS) and which phone it was: unless the worker
asks to keep the location, an image is re-encoded with no metadata but its orientation (so it still shows
upright). A location kept is kept as sent, bytes untouched. PDFs are stored as sent.

Pillow decodes every image once, after checking its dimensions from the header: a small file that inflates
to gigapixels (a decompression bomb) is refused before its pixels are allocated.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from intake_service.domain import IntakeRefused
from intake_service.domain.policy import Caller

MAX_BYTES = 8 * 1024 * 1024  # one photo of a 50-megapixel phone camera, or a multi-page scan
MAX_PER_DEMAND = 5
# The largest image intake decodes: Pillow's own decompression-bomb threshold (about 89 megapixels).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
FILENAME_MAX = 120
ORIENTATION = 0x0112
JPEG_QUALITY = 90  # when the source's quantisation tables cannot be kept

# kind: (content type, extension, the format Pillow names it; None for PDFs, which are never decoded)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "jpeg": ("image/jpeg", "jpg", "JPEG"),
    "png": ("image/png", "png", "PNG"),
    "webp": ("image/webp", "webp", "WEBP"),
    "pdf": ("application/pdf", "pdf", None),
}
ACCEPTED = ", ".join(sorted(KINDS))
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|;]')


@dataclass(frozen=True)
class Cleaned:
    """What intake stores of an upload: the bytes, their type and the name the file is offered under."""

    data: bytes
    content_type: str
    filename: str
    location_kept: bool


def sniff(data: bytes) -> str | None:
    """The kind of file ``data`` is, from its magic bytes; None for anything not accepted."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


def clean(data: bytes, declared_name: str | None, keep_location: bool, position: int) -> Cleaned:
    """The upload as intake stores it, or refused: ``unsupported`` for a type not accepted, ``invalid`` for an
    image that cannot be decoded or is too large to decode. ``position`` (1-based) names an unnamed file."""
    if not data:
        raise IntakeRefused("invalid", "the file is empty", {"file": ["the file is empty"]})
    if len(data) > MAX_BYTES:  # the route's body limit comes first; this holds for any caller
        raise IntakeRefused("invalid", "the file is too large", {"file": [f"at most {MAX_BYTES} bytes"]})
    kind = sniff(data)
    if kind is None:
        raise IntakeRefused("unsupported", f"only {ACCEPTED} files may be attached",
                            {"file": [f"not a {ACCEPTED} file (judged by its contents, not its name)"]})
    content_type, extension, image_format = KINDS[kind]
    name = filename(declared_name, extension, position)
    if image_format is None:
        return Cleaned(data, content_type, name, location_kept=False)
    stored = _checked_image(data, image_format, strip=not keep_location)
    return Cleaned(stored, content_type, name, location_kept=keep_location)


def _checked_image(data: bytes, image_format: str, strip: bool) -> bytes:
    """Decode the image (refusing bombs and broken files); re-encoded without metadata when ``strip``."""
    unreadable = IntakeRefused("invalid", "the image cannot be read", {"file": ["not a readable image"]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise IntakeRefused("invalid", "the image is too large to show", {"file": [
                        f"{width}×{height} pixels; at most {MAX_PIXELS} pixels are accepted"]})
                image.load()
                return _stripped(image, image_format) if strip else data
    except IntakeRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IntakeRefused("invalid", "the image is too large to show",
                            {"file": [f"at most {MAX_PIXELS} pixels are accepted"]}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise unreadable from None


def _stripped(image: Image.Image, image_format: str) -> bytes:
    """The image re-encoded with its orientation as the only metadata: no GPS, camera, XMP or text chunks."""
    exif = Image.Exif()
    orientation = image.getexif().get(ORIENTATION)
    if orientation in range(1, 9):
        exif[ORIENTATION] = orientation
    options: dict[str, object] = {"exif": exif.tobytes()} if len(exif) else {}
    if icc := image.info.get("icc_profile"):  # colours, not people: kept so the photo looks as taken
        options["icc_profile"] = icc
    if image_format == "JPEG":
        # comment=b"": Pillow would otherwise copy the source's COM segment (free text a camera app may fill)
        options.update(quality="keep" if getattr(image, "quantization", None) else JPEG_QUALITY, comment=b"")
    elif image_format == "WEBP":
        options.update(lossless=image.info.get("lossless", False), quality=JPEG_QUALITY)
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def filename(declared: str | None, extension: str, position: int) -> str:
    """A name safe to offer in a Content-Disposition header: the sender's base name without controls, path
    or header syntax, at most :data:`FILENAME_MAX` characters, ending in the extension of what it really is."""
    base = (declared or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base
    stem = stem[: FILENAME_MAX - len(extension) - 1] or f"attachment-{position}"
    return f"{stem}.{extension}"


def may_attach(caller: Caller, demand_street: str, created_by: str) -> bool:
    """Who may add a file to a demand: whoever logged it (the photo is their evidence), a supervisor of its
    street, an admin. Reading follows :func:`~intake_service.domain.policy.may_read`, holders included."""
    if caller.role == "admin" or caller.subject == created_by:
        return True
    return caller.role == "supervisor" and caller.street == demand_street
