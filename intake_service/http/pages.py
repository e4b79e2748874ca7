"""The grid worker's pages (网格员): log a demand on a phone, find the enterprise, follow "my demands".

Logging goes through the same use case as ``POST /api/v1/demands``
(:func:`intake_service.commands.log_demand`), with the same schema, rules and Idempotency-Key: the page's
script keeps each draft on the device and (re)sends it to :func:`file_demand` with its key until the
server has it, so a lost connection never loses a demand nor files one twice. A refusal
(:class:`IntakeRefused`) is shown as its message, with the status :func:`shared.webkit.errors.status_of` gives it.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Response, jsonify, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from intake_service import commands, queries
from intake_service.domain import IntakeRefused
from intake_service.domain.attachments import MAX_BYTES, MAX_PER_DEMAND, may_attach
from intake_service.domain.policy import demand_number
from intake_service.http import caller, ctx
from intake_service.http.api import UPLOAD_LIMIT, file_response, read_upload
from intake_service.http.schemas import DemandIn, DuplicateQuery, IdempotencyHeaders
from intake_service.model import Demand
from shared.calendar import BusinessCalendar, calendar_for
from shared.config import PROJECT_ROOT, Settings
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import COMPLEXITIES
from shared.sla_policy import PolicyTargets, read_policy
from shared.validation import flatten_errors
from shared.webkit.errors import status_of
from shared.webkit.inputs import body_limit
from shared.webkit.pages import page_blueprint, require_page, wants_json, when
from shared.webkit.pages.errors import localize, localize_all, script_table
from shared.webkit.pages.labels import department_name, label, street_name

STATIC = PROJECT_ROOT / "intake_service" / "static"
SHARED_STATIC = PROJECT_ROOT / "shared" / "webkit" / "static"
TEMPLATES = PROJECT_ROOT / "intake_service" / "templates"
bp = page_blueprint("grid", __name__, template_folder=str(TEMPLATES), static_folder=str(STATIC))

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


def registry_warnings(demand: Demand) -> list[str]:
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
        idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()), rules=script_table(),
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
        return jsonify(id=demand.id, number=number(demand.id), url=url, replayed=logged.replayed, title=demand.title,
                       warnings=registry_warnings(demand), **_who_and_when(demand)), 200 if logged.replayed else 201
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
        return not_yours(refusal)
    view = queries.full_view(who, demand, timeline)
    facts = _who_and_when(demand)
    if wants_json():  # the result screen asks who it went to, while routing assigns it
        return jsonify(id=demand.id, number=number(demand.id), status=demand.status, **facts)
    # The worker typed the contact's phone: it is theirs to see in full (the API masks it for others).
    own_phone = demand.contact_phone if demand.created_by == who.subject else None
    return render_template("intake/demand.html", d=view, warnings=registry_warnings(demand), facts=facts,
                           number=number(demand.id), own_phone=own_phone, names=officer_names())


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
        return not_yours(refusal)


def not_yours(refusal: IntakeRefused) -> tuple[str, int]:
    """The page for a demand the caller may not read (or that does not exist): one answer for both, so a page
    never tells which demands exist."""
    status = status_of(refusal)
    return render_template("pages/error.html", status=status,
                           message=gettext("There is no such demand, or it is not yours to see.")), status


@bp.get("/grid/enterprises")
@require_page("grid_worker", "helpdesk_agent", "hotline_agent")  # the agents' forms look up too
def find_enterprises() -> Response:
    """Registry matches for a USCC prefix or part of a name, the worker's street first."""
    q = request.args.get("q", "").strip()
    if len(q) < 2:
        return jsonify(items=[])
    rows = queries.find_enterprises(ctx(), q, caller().street, LOOKUP_LIMIT)
    return jsonify(items=[{"uscc": e.uscc, "name": e.name, "street": e.street,
                           "street_name": street_name(e.street),
                           "key_enterprise": e.key_enterprise} for e in rows])


# --- likely duplicates, offered while logging ---------------------------------------------------------

# The page each logging desk opens a demand on; the help desk has none of its own (its notice names the number).
DEMAND_PAGES = {"grid_worker": "grid.demand_page", "hotline_agent": "hotline.demand_page"}


@bp.get("/intake/likely-duplicates")
@require_page("grid_worker", "hotline_agent", "helpdesk_agent")
def likely_duplicates() -> Response:
    """The forms' notice (duplicates.js): open demands of this enterprise and category, as
    ``GET /api/v1/demands/likely-duplicates`` has them, each with the link to its page for the caller's role."""
    try:
        query = DuplicateQuery().load({k: request.args.get(k, "") for k in ("uscc", "category")})
    except ValidationError:
        return jsonify(items=[])  # a half-typed code: nothing to say yet
    who = caller()
    endpoint = DEMAND_PAGES.get(who.role)
    items = queries.likely_duplicates(ctx(), who, query["uscc"], query["category"], ctx().now())
    return jsonify(items=[{"number": d["number"], "title": d["title"], "status": label("status", d["status"]),
                           "url": url_for(endpoint, demand_id=d["id"]) if endpoint and d["id"] else None}
                          for d in items],
                   notice=gettext("The enterprise already has a demand of this kind being handled: %(demand)s. "
                                  "You can tell the enterprise where it stands instead of filing a new one.",
                                  demand="{demand}"))


# --- words a worker can repeat to the enterprise -------------------------------------------------------


def status_words(status: str) -> str:
    """Where the demand stands, as one sentence the worker can say to the enterprise."""
    words = {
        "submitted": gettext("Received; an officer is being found for it."),
        "unassigned": gettext("Received; no officer is free yet, the street's supervisor is finding one."),
        "assigned": gettext("An officer has it and will contact the enterprise."),
        "in_progress": gettext("The officer has taken it on and is working on it."),
        "awaiting_enterprise": gettext("The officer is waiting for materials from the enterprise."),
        "transferred": gettext("Passed to the district department that handles this kind of matter."),
        "resolved": gettext("The officer has answered it; the enterprise will be asked whether it is satisfied."),
        "reopened": gettext("Opened again: the enterprise was not satisfied, so it is being worked on again."),
        "closed": gettext("Done and closed."),
        "under_review": gettext("The officer has answered it; the street's supervisor is reviewing the answer."),
        "withdrawn": gettext("Withdrawn at the enterprise's request."),
        "rejected": gettext("Not accepted: it is outside what the government handles."),
        "merged": gettext("Merged into another demand of the enterprise, which carries on."),
    }
    return words.get(status, "")


@bp.context_processor
def _page_helpers() -> dict[str, Any]:
    return {"status_words": status_words}


# --- who has it, and by when ---------------------------------------------------------------------------


def number(demand_id: str) -> str:
    """The demand's number as a worker reads it out to the enterprise: the id's first 8 characters."""
    return demand_number(demand_id)


def officer_names() -> dict[str, str]:
    return {officer_id: o.name for officer_id, o in ctx().roster.items() if o.name}


def promises(settings: Settings) -> tuple[BusinessCalendar, PolicyTargets]:
    """The business calendar (following the operators' entries) and the SLA policy's targets of this deployment."""
    calendar = calendar_for(settings)
    return calendar, _targets(settings.sla_policy_path, calendar.seconds_per_working_day)


@functools.cache
def _targets(policy_path: Path, seconds_per_working_day: int) -> PolicyTargets:
    return read_policy(policy_path, seconds_per_working_day)


def promised_by(settings: Settings, demand: Demand) -> datetime | None:
    """When the demand is promised to be resolved: its resolution target in business time from the moment
    the enterprise raised it (sla's clock; a pause for materials moves it, which the timeline then tells)."""
    try:
        calendar, promised = promises(settings)
    except (OSError, ValueError):
        return None
    seconds = promised.resolution.get(demand.complexity)
    return None if seconds is None else calendar.add_business_seconds(demand.reported_at, seconds)


def _who_and_when(demand: Demand) -> dict[str, str | None]:
    """The officer's name and office phone (once routing assigned it) and the promised deadline, as the pages
    show them."""
    officer = phone = None
    if demand.assignee_id:
        officer = officer_names().get(demand.assignee_id, demand.assignee_id)
        found = ctx().roster.get(demand.assignee_id)
        phone = found.phone if found and found.phone else None
    elif demand.department:
        officer = department_name(demand.department)
    deadline = promised_by(ctx().settings, demand)
    return {"officer": officer, "officer_phone": phone, "deadline": when(deadline) if deadline else None}


# --- the installable offline app ---------------------------------------------------------------------

# What the service worker caches on install (the shell) and what changes its version.
SHELL_FILES = ((STATIC, "grid.js"), (STATIC, "drafts.js"), (STATIC, "sw.js"), (STATIC, "manifest.webmanifest"),
               (STATIC, "icon-192.png"), (STATIC, "icon-512.png"), (SHARED_STATIC, "pages.js"),
               (SHARED_STATIC, "pages.css"), (SHARED_STATIC, "validation.js"))


@functools.cache
def app_version() -> str:
    """A hash of the shell's files and the grid templates: a deployment that changes any of them is a new
    version of the app, so phones install the new service worker and offer to reload."""
    digest = hashlib.sha256()
    files = [folder / name for folder, name in SHELL_FILES]
    files += sorted((TEMPLATES / "intake").glob("*.html"))
    files += sorted((PROJECT_ROOT / "shared" / "webkit" / "templates" / "pages").glob("*.html"))
    files += sorted((PROJECT_ROOT / "shared" / "webkit" / "translations").glob("*/LC_MESSAGES/messages.po"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


app_version()  # at start-up: every worker process of one deployment serves the same version


@bp.get("/grid/sw.js")
def service_worker() -> Response:
    """The service worker, from the grid's own path so it may control /grid and everything under it."""
    script = (STATIC / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", app_version())
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/grid"
    response.headers["Cache-Control"] = "no-cache"  # browsers look for a new version at every visit
    return response


@bp.get("/grid/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: installable, starts on the form, opens like an app."""
    response = send_from_directory(STATIC, "manifest.webmanifest", mimetype="application/manifest+json",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
