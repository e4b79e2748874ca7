"""The grid worker's pages (网格员): log a demand on a phone, find the enterprise, follow "my demands".

Logging goes through the same use case as ``POST /api/v1/demands``
(:func:`intake_service.commands.log_demand`), with the same schema, rules and Idempotency-Key: the page's
script keeps each draft on the device and (re)sends it to :func:`file_demand` with its key until the
server has it, so a lost connection never loses a demand nor files one twice. A refusal
(:class:`IntakeRefused`) is shown as its message, with the status :func:`shared.webkit.errors.status_of` gives it.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from intake_service import commands, queries
from intake_service.domain import IntakeRefused
from intake_service.domain.attachments import MAX_BYTES, MAX_PER_DEMAND, may_attach
from intake_service.http import caller, ctx
from intake_service.http.api import UPLOAD_LIMIT, file_response, read_upload
from intake_service.http.schemas import DemandIn, IdempotencyHeaders
from intake_service.model import Demand
from shared.config import PROJECT_ROOT
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import COMPLEXITIES
from shared.validation import flatten_errors
from shared.webkit.errors import status_of
from shared.webkit.inputs import body_limit
from shared.webkit.pages import page_blueprint, require_page, wants_json
from shared.webkit.pages.errors import localize, localize_all
from shared.webkit.pages.labels import street_name

bp = page_blueprint("grid", __name__, template_folder=str(PROJECT_ROOT / "intake_service" / "templates"),
                    static_folder=str(PROJECT_ROOT / "intake_service" / "static"))

# Form field names are the API's field paths, so errors land beside the field they are about.
FIELDS = ("category", "complexity", "title", "description", "grid", "reported_at", "enterprise.uscc",
          "enterprise.name", "enterprise.contact_name", "enterprise.contact_phone")
MINE_LIMIT = 50
LOOKUP_LIMIT = 8


def body_from_form(form: MultiDict[str, str], street: str) -> dict[str, Any]:
    """The API body a filled-in form stands for; blank fields are left out so 'required' says so."""
    body: dict[str, Any] = {"channel": "grid", "street": street}
    for name in FIELDS:
        value = form.get(name, "").strip()
        if not value:
            continue
        target = body
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    body.setdefault("enterprise", {})
    return body


def _warnings(demand: Demand) -> list[str]:
    """The registry's differences from what was typed (not errors), in the user's language."""
    found = demand.warnings or {}
    notes = []
    if "enterprise.name" in found:
        notes.append(gettext("The registry knows this enterprise as %(name)s; that name was used.",
                             name=demand.enterprise_name))
    if "street" in found:
        notes.append(gettext("The registry places this enterprise in another street."))
    return notes


def _refusal(status: int, message: str, errors: dict[str, list[str]], form: MultiDict[str, str]) -> Any:
    if wants_json():
        return jsonify(code=str(status), message=message, errors=errors), status
    return _form_page(form, errors, message), status


@bp.get("/grid")
@require_page("grid_worker")
def new_demand() -> str:
    """The form: street preset from the sign-in, enterprise look-up, category and complexity pickers."""
    return _form_page(MultiDict(), {}, None)


def _form_page(form: MultiDict[str, str], errors: dict[str, list[str]], message: str | None) -> str:
    return render_template(
        "intake/new.html", form=form, errors=errors, message=message, categories=sorted(CATEGORIES),
        complexities=COMPLEXITIES, street=STREETS[caller().street],
        idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()),
    )


@bp.post("/grid/demands")
@require_page("grid_worker")
def file_demand() -> Any:
    """File one demand (the form, or a draft the page's script replays); safe to repeat with the same key."""
    who = caller()
    form = request.form
    key = request.headers.get("Idempotency-Key") or form.get("idempotency_key") or None
    try:  # the same rule for the key as the API's header: it is stored, and a page must not smuggle one in
        key = key and IdempotencyHeaders().load({"Idempotency-Key": key})["idempotency_key"]
        body = DemandIn().load(body_from_form(form, who.street))
    except ValidationError as exc:
        return _refusal(422, gettext("Some fields need fixing."), localize_all(flatten_errors(exc.messages)), form)
    try:
        logged = commands.log_demand(ctx(), who, body, key)
    except IntakeRefused as refusal:
        if refusal.kind == "conflict":
            message = gettext("This draft was already filed with different contents.")
        elif refusal.kind == "invalid":
            message = gettext("Some fields need fixing.")
        else:
            message = localize(refusal.message)
        return _refusal(status_of(refusal), message, localize_all(refusal.errors), form)
    demand = logged.demand
    url = url_for("grid.demand_page", demand_id=demand.id)
    if wants_json():
        return jsonify(id=demand.id, url=url, replayed=logged.replayed, title=demand.title,
                       warnings=_warnings(demand)), 200 if logged.replayed else 201
    return redirect(url_for("grid.mine", filed=demand.id))


@bp.get("/grid/mine")
@require_page("grid_worker")
def mine() -> str:
    """What this worker filed, newest first, with live status (the list refreshes itself)."""
    filed = request.args.get("filed")
    return render_template("intake/mine.html", items=_mine(), filed=filed)


@bp.get("/grid/mine/list")
@require_page("grid_worker")
def mine_list() -> str:
    """The list alone, for the page's refresh."""
    return render_template("intake/_mine_list.html", items=_mine())


def _mine() -> list[dict[str, Any]]:
    return queries.logged_by_caller(ctx(), caller(), MINE_LIMIT)


@bp.get("/grid/demands/<demand_id>")
@require_page("grid_worker")
def demand_page(demand_id: str) -> Any:
    """The reporter's view: status and the whole timeline."""
    who = caller()
    try:
        demand, timeline = queries.readable_demand(ctx(), who, demand_id)
    except IntakeRefused as refusal:
        status = status_of(refusal)
        return render_template("pages/error.html", status=status,
                               message=gettext("There is no such demand, or it is not yours to see.")), status
    return render_template("intake/demand.html", d=queries.full_view(who, demand, timeline),
                           warnings=_warnings(demand))


@bp.context_processor
def _attachments() -> dict[str, Any]:
    """What the pages' photo fields need: the upload limit (the grid form checks it before sending) and
    ``attachments_for(d)``, a demand view's files and whether the signed-in user may add one."""
    return {"attach_max_bytes": MAX_BYTES, "attachments_for": _attachments_for}


def _attachments_for(view: dict[str, Any]) -> dict[str, Any]:
    who = caller()
    files = queries.attachment_list(ctx(), who, view["id"])
    return {"items": files, "may_add": may_attach(who, view["street"], view["created_by"]) and
            len(files) < MAX_PER_DEMAND, "max_mb": MAX_BYTES // (1024 * 1024)}


def _attach_refused(refusal: IntakeRefused) -> str:
    """What a refused upload says on the page (the refusal's own message is for the API's callers)."""
    if refusal.kind == "unsupported":
        return gettext("Only photos (JPEG, PNG, WebP) and PDF scans can be attached.")
    if refusal.kind == "conflict":
        return gettext("This demand already has %(n)s attachments.", n=MAX_PER_DEMAND)
    if refusal.kind == "invalid":
        return gettext("The file cannot be read as a photo or scan, or the photo has too many pixels.")
    if refusal.kind == "forbidden" and "attach" in refusal.message:
        return gettext("Only whoever filed the demand or the street's supervisor may add files to it.")
    return gettext("There is no such demand, or it is not yours to see.")


@bp.post("/grid/demands/<demand_id>/attachments")
@body_limit(UPLOAD_LIMIT)
@require_page()
def attach(demand_id: str) -> Any:
    """Add a photo or scan (the grid page's script after filing, or the demand page's form), under the rules
    of ``POST /api/v1/demands/{id}/attachments``: the session cookie and the CSRF token instead of a bearer."""
    try:
        data, name, keep_location = read_upload()
        attachment = commands.attach_file(ctx(), caller(), demand_id, data, name, keep_location)
    except IntakeRefused as refusal:
        status, message = status_of(refusal), _attach_refused(refusal)
        if wants_json():
            return jsonify(code=str(status), message=message, errors={}), status
        return render_template("pages/error.html", status=status, message=message), status
    url = url_for("grid.attachment", demand_id=demand_id, attachment_id=attachment.id)
    if wants_json():
        return jsonify(id=attachment.id, url=url, filename=attachment.filename), 201
    return redirect(url_for("grid.demand_page", demand_id=demand_id, added=attachment.id))


@bp.get("/grid/demands/<demand_id>/attachments/<attachment_id>")
@require_page()
def attachment(demand_id: str, attachment_id: str) -> Any:
    """An attachment's bytes for any signed-in user who may read the demand (the officer holding it opens it
    from routing's page): the API's bearer token is not in a browser, the session cookie is."""
    try:
        return file_response(queries.attachment_file(ctx(), caller(), demand_id, attachment_id))
    except IntakeRefused as refusal:
        status = status_of(refusal)
        return render_template("pages/error.html", status=status,
                               message=gettext("There is no such demand, or it is not yours to see.")), status


@bp.get("/grid/enterprises")
@require_page("grid_worker")
def find_enterprises() -> Response:
    """Registry matches for a USCC prefix or part of a name, the worker's street first."""
    q = request.args.get("q", "").strip()
    if len(q) < 2:
        return jsonify(items=[])
    rows = queries.find_enterprises(ctx(), q, caller().street, LOOKUP_LIMIT)
    return jsonify(items=[{"uscc": e.uscc, "name": e.name, "street": e.street,
                           "street_name": street_name(e.street),
                           "key_enterprise": e.key_enterprise} for e in rows])
