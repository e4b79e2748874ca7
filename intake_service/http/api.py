"""Intake's JSON API: log a demand, follow it, list demands, attach photos and scans to it. A refusal becomes
its status in :mod:`shared.webkit.errors` (403, 404, 409, 415, 422), the same for every service.

An upload is multipart/form-data (the one body here that is not JSON), read by :func:`read_upload` within its
route's own body limit; the grid worker's page sends the same form to its page route (:mod:`.pages`).
"""

from __future__ import annotations

import unicodedata
import urllib.parse
from typing import Any

from flask import Response, request, url_for
from marshmallow import RAISE, ValidationError

from intake_service import commands, queries
from intake_service.domain import INVALID, IntakeRefused
from intake_service.domain.attachments import ACCEPTED, MAX_BYTES, MAX_PER_DEMAND
from intake_service.domain.policy import CHANNELS_BY_ROLE, LINK_ISSUERS
from intake_service.http import caller, ctx, issue_link
from intake_service.http.schemas import (
    AttachmentForm,
    AttachmentList,
    AttachmentOut,
    DemandCreated,
    DemandIn,
    DemandOut,
    DemandPage,
    DemandQuery,
    DuplicateList,
    DuplicateQuery,
    IdempotencyHeaders,
    LinkOut,
)
from intake_service.model import Attachment
from shared.validation import flatten_errors
from shared.webkit.app import answers
from shared.webkit.auth import require
from shared.webkit.inputs import ApiBlueprint, body_limit
from shared.webkit.pages import service_url

blp = ApiBlueprint("demands", __name__, url_prefix="/api/v1", description="Log and follow enterprise demands")
# The file plus the multipart envelope and the form's other fields.
UPLOAD_LIMIT = MAX_BYTES + 64 * 1024
# Whatever the stored bytes hold, a browser runs nothing of them and sends no cookie anywhere from them.
FILE_CSP = {"image": "default-src 'none'; sandbox", "application": "default-src 'none'"}
UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": f"JPEG, PNG, WebP or PDF, at most {MAX_BYTES} bytes; the type is judged from the "
                                "contents, not the name or the declared type"},
        "keep_location": {"type": "boolean", "default": False,
                          "description": "true keeps the photo's EXIF (GPS location included) as sent"}}}}}}


@blp.route("/demands", methods=["POST"])
@require(*CHANNELS_BY_ROLE)
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(DemandIn())
@blp.response(201, DemandCreated(), description="The demand, stored with its `submitted` event queued (or, for a "
              "retry with the same Idempotency-Key and body, the original demand), and the open demands it may "
              "repeat (`likely_duplicates`).", headers={
                  "Location": {"description": "URL of the demand", "schema": {"type": "string"}},
                  "Idempotent-Replayed": {"description": "`true` when this answers a retry",
                                          "schema": {"type": "string"}}})
@answers(blp, {400: "The body is not valid JSON.",
               403: "The role may not log on this channel, or in this street (grid workers, supervisors and "
                    "officers log in their own streets only).",
               409: "The Idempotency-Key was used with a different body.",
               422: "Invalid fields, every problem by field path."})
def create_demand(headers: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Log a demand.

    Grid workers log on channel `grid` in their own street, hotline agents on `hotline_12345`, help-desk
    agents on `online_helpdesk`, officers and supervisors at the `fallback_window` (办不成事 window) and
    `walk_in` in their own streets (an officer's come from the roster). A USCC the enterprise registry knows
    fills in the registered name, the key-enterprise flag and the chief service officer; a different name or
    street comes back in `warnings`. An unknown enterprise is recorded unconfirmed: it fixes no other demand's
    name. Nothing is stored when the request is refused.
    """
    who = caller()
    logged = commands.log_demand(ctx(), who, body, headers.get("idempotency_key"))
    if logged.replayed:  # the original may have moved on since: answer with its current view
        view = queries.demand_view(ctx(), who, logged.demand.id)
        duplicates = [d.id for d in queries.duplicate_demands(ctx(), logged.demand)]
    else:
        view = queries.full_view(who, logged.demand, [])
        duplicates = list(logged.likely_duplicates)
    headers = {"Location": url_for("demands.get_demand", demand_id=logged.demand.id),
               "Idempotent-Replayed": "true" if logged.replayed else "false"}
    return {**view, "likely_duplicates": duplicates}, 201, headers


@blp.route("/demands/likely-duplicates", methods=["GET"])
@require(*CHANNELS_BY_ROLE)
@blp.arguments(DuplicateQuery(), location="query", unknown=RAISE)
@blp.response(200, DuplicateList())
@answers(blp, {403: "The role may not log demands.", 422: "A missing or invalid USCC or category."})
def likely_duplicates(query: dict[str, Any]) -> dict[str, Any]:
    """Open demands a new one of this enterprise and category would repeat (重复诉求).

    Those of the same USCC and category received in the last 30 days and not resolved, closed, withdrawn,
    rejected or merged, newest first: tell the enterprise where it stands rather than filing it again (a new
    one may still be filed). For the roles that log demands; no personal data, and the id only of a demand
    the caller may open.
    """
    return {"items": queries.likely_duplicates(ctx(), caller(), query["uscc"], query["category"], ctx().now())}


@blp.route("/demands", methods=["GET"])
@require()
@blp.arguments(DemandQuery(), location="query", unknown=RAISE)
@blp.response(200, DemandPage())
@answers(blp, {403: "A street-bound caller asked for another street.", 422: "Invalid filters or cursor."})
def list_demands(filters: dict[str, Any]) -> dict[str, Any]:
    """List demands, newest first, a page at a time.

    Grid workers and supervisors see their street; officers the demands they hold, those of enterprises they
    are chief service officer of, those they logged and, for street commissioners, their roster streets; hotline and
    help-desk agents and admins see the whole district. Pass `next_cursor` as `cursor` for the next page.
    """
    return queries.list_page(ctx(), caller(), filters)


@blp.route("/demands/<demand_id>", methods=["GET"])
@require()
@blp.response(200, DemandOut())
@answers(blp, {403: "The demand is not visible to the caller.", 404: "No such demand."})
def get_demand(demand_id: str) -> dict[str, Any]:
    """A demand's current status and full timeline (the reporter's view)."""
    return queries.demand_view(ctx(), caller(), demand_id)


def read_upload() -> tuple[bytes, str | None, bool]:
    """The file, its declared name and ``keep_location`` of a multipart upload (refused: unsupported when the
    body is not multipart, invalid when the file is missing or a field is wrong)."""
    if request.mimetype != "multipart/form-data":
        raise IntakeRefused("unsupported", "send the file as multipart/form-data, in the field `file`")
    try:
        form = AttachmentForm().load(request.form.to_dict())
    except ValidationError as exc:
        raise IntakeRefused("invalid", INVALID, flatten_errors(exc.messages)) from None
    upload = request.files.get("file")
    if upload is None:
        raise IntakeRefused("invalid", INVALID, {"file": ["required: the photo or scan, in the field `file`"]})
    return upload.read(MAX_BYTES + 1), upload.filename, form["keep_location"]


def file_response(attachment: Attachment) -> Response:
    """The stored bytes, shown inline under their name; never cached, never sniffed, never scripted."""
    response = Response(attachment.data, mimetype=attachment.content_type)
    simple = unicodedata.normalize("NFKD", attachment.filename).encode("ascii", "ignore").decode() or "attachment"
    disposition = f'inline; filename="{simple}"'
    if simple != attachment.filename:
        disposition += f"; filename*=UTF-8''{urllib.parse.quote(attachment.filename, safe='')}"
    response.headers.update({
        "Content-Disposition": disposition, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP[attachment.content_type.split("/", 1)[0]],
    })
    return response


@blp.route("/demands/<demand_id>/attachments", methods=["POST"])
@body_limit(UPLOAD_LIMIT)
@require()
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(201, AttachmentOut(), description="The attachment as stored (EXIF stripped unless kept).", headers={
    "Location": {"description": "URL of the file", "schema": {"type": "string"}}})
@answers(blp, {403: "The caller may not read the demand, or may read it but not add files (only whoever logged "
                    "it, a supervisor of its street or an admin may).",
               404: "No such demand.",
               409: f"The demand already has {MAX_PER_DEMAND} attachments.",
               413: f"The body is larger than {UPLOAD_LIMIT} bytes.",
               415: f"The body is not multipart/form-data, or the file is not {ACCEPTED} (judged by its contents).",
               422: "The file is missing, empty or an image that cannot be read or has too many pixels "
                    "(a decompression bomb); or keep_location is not a boolean."})
def add_attachment(demand_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Attach a photo or document scan to a demand.

    A phone photo's EXIF says where it was taken: unless `keep_location` is true, an image is stored
    re-encoded with no metadata but its orientation. PDFs are stored as sent. At most five files per demand.
    """
    data, name, keep_location = read_upload()
    attachment = commands.attach_file(ctx(), caller(), demand_id, data, name, keep_location)
    location = url_for("demands.get_attachment", demand_id=demand_id, attachment_id=attachment.id)
    return queries.attachment_view(attachment), 201, {"Location": location}


@blp.route("/demands/<demand_id>/attachments", methods=["GET"])
@require()
@blp.response(200, AttachmentList())
@answers(blp, {403: "The demand is not visible to the caller.", 404: "No such demand."})
def list_attachments(demand_id: str) -> dict[str, Any]:
    """A demand's attachments, oldest first, for whoever may read the demand (its holder included)."""
    return {"items": queries.attachment_list(ctx(), caller(), demand_id)}


@blp.route("/demands/<demand_id>/attachments/<attachment_id>", methods=["GET"])
@require()
@blp.doc(responses={200: {"description": "The file's bytes, shown inline, never cached.", "content": {
    t: {"schema": {"type": "string", "format": "binary"}}
    for t in ("image/jpeg", "image/png", "image/webp", "application/pdf")}}})
@answers(blp, {403: "The demand is not visible to the caller.", 404: "No such demand or attachment."})
def get_attachment(demand_id: str, attachment_id: str) -> Response:
    """One attachment's bytes, for whoever may read the demand (its holder included)."""
    return file_response(queries.attachment_file(ctx(), caller(), demand_id, attachment_id))


@blp.route("/demands/<demand_id>/enterprise-link", methods=["POST"])
@require(*sorted(LINK_ISSUERS))
@blp.response(201, LinkOut(), description="A new link for the enterprise; any earlier one stops working.")
@answers(blp, {403: "The role hands out no links, or may not read this demand.", 404: "No such demand."})
def issue_enterprise_link(demand_id: str) -> dict[str, Any]:
    """Issue the enterprise's private link to its demand.

    Grid workers, officers, supervisors and hotline and help-desk agents who may read the demand. The answer
    is the only time the link is seen (intake keeps its SHA-256); calling again issues a new one and the
    earlier link stops working. It opens the demand's progress without a sign-in until 30 days after the
    demand is closed.
    """
    issued, url, now = issue_link(demand_id)
    return {"url": url, "page": service_url("intake", url_for("enterprise.link_page", demand_id=demand_id)),
            "issued_at": now, "expires_at": issued.expires_at}
