"""The enterprise's own view of one demand, through a private link (no sign-in).

Whoever speaks with the enterprise (its grid worker, the officer, an agent) issues the link from
``/demands/<id>/enterprise-link`` (a page with the QR code) or ``POST /api/v1/demands/<id>/enterprise-link``
(for another service's page, in :mod:`.api`). The link, ``/e/<token>``, carries 144 random bits; intake keeps only their
SHA-256 (:class:`intake_service.model.EnterpriseLink`), so it is shown once and never read back, and issuing
again replaces it. It opens the demand's status, deadline, officer, timeline and the materials asked for, in
plain words and without staff ids or the reporter's phone, until 30 days after the demand is closed; an
unknown, replaced or expired link gets the same 404. After 办结 it asks for the enterprise's rating, which
intake passes to routing as the ``enterprise`` role speaking for this one demand (routing's ``may_act``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import segno
from flask import Flask, Response, current_app, make_response, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from marshmallow import Schema, ValidationError, fields, validate

from intake_service import queries
from intake_service.domain import IntakeRefused
from intake_service.domain.policy import LINK_ISSUERS, NOT_OPEN_STATUSES
from intake_service.http import caller, ctx, issue_link
from intake_service.http.pages import not_yours, number, promised_by
from intake_service.model import Demand, TimelineEntry
from shared.auth import issue_token
from shared.auth_store import STORAGE_SCHEME
from shared.contracts.vocabulary import SATISFACTIONS
from shared.fields import Text
from shared.validation import flatten_errors
from shared.webkit.auth import auth_store
from shared.webkit.pages import SERVICE_TOKEN_SECONDS, page_blueprint, require_page, when
from shared.webkit.pages.errors import localize_all
from shared.webkit.pages.labels import department_name, label
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("enterprise", __name__, template_folder="../templates")

# Per client address: opening the link (and switching its language), and sending a rating.
VIEW_LIMIT = "30 per minute"
FEEDBACK_LIMIT = "5 per minute"
COMMENT_MAX = 1000
REASON_MAX = 500  # routing's ReasonIn.reason
# What the enterprise's timeline tells; escalations and SLA alerts are the district's own business.
# Of the longer lifecycle (issue 15) it tells what changes for the enterprise: more time granted, a return to
# the right office, the review's verdict, the demand's own end; a request for more time is the office's business.
PLAIN_KINDS = ("submitted", "assigned", "acknowledged", "materials_requested", "materials_received",
               "transferred", "resolved", "feedback_received", "reopened", "closed", "extension_approved",
               "returned", "review_approved", "sent_back", "withdrawn", "rejected", "merged", "merged_in")


class FeedbackForm(Schema):
    """The rating form: one of the three words (nothing chosen in advance), and a comment if the enterprise
    wants to say more."""

    satisfaction = fields.String(required=True, validate=validate.OneOf(SATISFACTIONS))
    comment = Text(load_default="", validate=validate.Length(max=COMMENT_MAX))


class WithdrawForm(Schema):
    """Withdrawing (撤销): the enterprise says why, in its own words (routing keeps them as the reason)."""

    reason = Text(required=True, validate=validate.Length(min=1, max=REASON_MAX))


def _now() -> datetime:
    return datetime.now(UTC)


# --- issuing the link (staff) ---------------------------------------------------------------------------


@bp.route("/demands/<demand_id>/enterprise-link", methods=["GET", "POST"])
@require_page(*sorted(LINK_ISSUERS))
def link_page(demand_id: str) -> Any:
    """The link for the enterprise, as a QR code to scan and a short address to type: issued (again) by the
    button, since only its fingerprint is kept and it cannot be shown twice."""
    try:
        demand, _ = queries.readable_demand(ctx(), caller(), demand_id)
        url = qr = expires = None
        if request.method == "POST":
            issued, url, _ = issue_link(demand_id)
            expires = issued.expires_at
            qr = segno.make(url, error="m").svg_data_uri(scale=6, border=2)
        earlier = queries.link_issued(ctx(), demand_id)
    except IntakeRefused as refusal:
        return not_yours(refusal)
    back = url_for("grid.demand_page", demand_id=demand_id) if caller().role == "grid_worker" else None
    return render_template("intake/enterprise_link.html", demand=demand, number=number(demand.id), url=url, qr=qr,
                           expires=expires, earlier=earlier, back=back)


# --- the enterprise's page (no sign-in) -------------------------------------------------------------------


def _linked(token: str) -> tuple[Demand, list[TimelineEntry]] | None:
    if not token.isascii() or len(token) > 64:
        return None
    return queries.linked_demand(ctx(), token, _now())


def _gone() -> Response:
    """Unknown, replaced and expired links all look alike: nothing tells a guesser which it was."""
    return make_response(render_template(
        "pages/error.html", status=404,
        message=gettext("This link opens nothing: it may have expired or been replaced by a newer one.")), 404)


def _officer(demand: Demand) -> tuple[str | None, str | None]:
    """The officer's name and office phone from the roster (never a roster id), or the department's name."""
    if demand.assignee_id:
        found = ctx().roster.get(demand.assignee_id)
        return (found.name or None, found.phone or None) if found else (None, None)
    return (department_name(demand.department) if demand.department else None), None


def plain_timeline(demand: Demand, timeline: list[TimelineEntry]) -> list[dict[str, Any]]:
    """The demand's history as the enterprise reads it: what happened, in words, with no staff ids or codes."""
    names = ctx().roster
    steps: list[dict[str, Any]] = [{"at": demand.received_at, "words": gettext("Your demand was received."),
                                    "detail": None}]
    for t in timeline:
        if t.kind not in PLAIN_KINDS or t.demand_id != demand.id:  # a merged demand's own steps stay its own
            continue
        x = t.details or {}
        detail = None
        if t.kind == "assigned":
            officer = names.get(x.get("officer_id") or "")
            if x.get("officer_id") is None:
                words = gettext("No officer was free yet; the street's supervisor is finding one.")
            elif officer is not None and officer.name:
                words = gettext("%(name)s is your officer.", name=officer.name)
            else:
                words = gettext("An officer was given your demand.")
        elif t.kind == "acknowledged":
            words = gettext("The officer took up your demand.")
        elif t.kind == "materials_requested":
            words, detail = gettext("The officer asked you for materials."), x.get("note") or None
        elif t.kind == "materials_received":
            words = gettext("Your materials arrived.")
        elif t.kind == "transferred":
            words = (gettext("Passed to %(department)s.", department=department_name(x["to_department"]))
                     if x.get("to_department") else gettext("Passed to another officer."))
        elif t.kind == "resolved":
            words = gettext("Answered: %(outcome)s.", outcome=label("outcome", x.get("outcome")))
            detail = x.get("note") or None
        elif t.kind == "feedback_received":
            words = gettext("Your rating: %(rating)s.", rating=label("satisfaction", x.get("satisfaction")))
            detail = x.get("comment") or None
        elif t.kind == "reopened":
            words = gettext("Opened again to work on it further.")
        elif t.kind in LIFECYCLE_WORDS:
            words, detail = LIFECYCLE_WORDS[t.kind](x)
        else:
            words = gettext("Closed.")
        steps.append({"at": t.at, "words": words, "detail": detail})
    return steps


def _extension(x: dict[str, Any]) -> tuple[str, str | None]:
    days = x.get("working_days") or 0
    return gettext("More time was granted: %(days)s working days.", days=f"{days:g}"), None


def _rejected(x: dict[str, Any]) -> tuple[str, str | None]:
    return gettext("Not accepted: %(reason)s.", reason=label("reason", x.get("reason_code"))), x.get("note") or None


# The enterprise's words for the longer lifecycle's steps: (words, detail) from the entry's details.
LIFECYCLE_WORDS: dict[str, Callable[[dict[str, Any]], tuple[str, str | None]]] = {
    "extension_approved": _extension,
    "returned": lambda x: (gettext("Passed on to the office that should handle it."), None),
    "review_approved": lambda x: (gettext("The answer was reviewed and approved."), None),
    "sent_back": lambda x: (gettext("The answer was sent back to the officer to work on further."), None),
    "withdrawn": lambda x: (gettext("Withdrawn at your request."), None),
    "rejected": _rejected,
    "merged": lambda x: (gettext("Merged into your demand %(number)s, where it carries on.",
                                 number=x.get("into_number", "")), None),
    "merged_in": lambda x: (gettext("Your demand %(number)s about the same matter was merged into this one.",
                                    number=x.get("from_number", "")), None),
}


def enterprise_status_words(status: str) -> str:
    """Where the demand stands, said to the enterprise itself."""
    return {
        "submitted": gettext("We have your demand and are finding an officer for it."),
        "unassigned": gettext("We have your demand; the street's supervisor is finding an officer for it."),
        "assigned": gettext("An officer has your demand and will contact you."),
        "in_progress": gettext("The officer is working on your demand."),
        "awaiting_enterprise": gettext("The officer is waiting for materials from you (see below)."),
        "transferred": gettext("Your demand was passed to the district department that handles such matters."),
        "resolved": gettext("The officer has answered your demand."),
        "reopened": gettext("Your demand is being worked on again."),
        "closed": gettext("Your demand is done and closed."),
        "under_review": gettext("The officer has answered your demand; the answer is being reviewed."),
        "withdrawn": gettext("Your demand was withdrawn at your request."),
        "rejected": gettext("Your demand was not accepted: it is outside what the government handles."),
        "merged": gettext("Your demand was merged with another of yours about the same matter, which carries on."),
    }.get(status, "")


def _page(token: str, demand: Demand, timeline: list[TimelineEntry], errors: dict[str, list[str]] | None = None,
          form: dict[str, str] | None = None, message: str | None = None, status: int = 200) -> Response:
    officer, phone = _officer(demand)
    done = demand.status in NOT_OPEN_STATUSES or demand.status == "under_review"
    deadline = promised_by(ctx().settings, demand) if not done else None
    materials = [t.details.get("note") for t in timeline if t.kind == "materials_requested" and t.details.get("note")]
    asks = demand.status == "resolved" and demand.satisfaction is None and not request.args.get("sent")
    return make_response(render_template(
        "intake/enterprise.html", token=token, d=demand, number=number(demand.id),
        status_words=enterprise_status_words(demand.status), officer=officer, officer_phone=phone,
        deadline=when(deadline) if deadline else None, steps=plain_timeline(demand, timeline),
        materials=materials, asks=asks, sent=bool(request.args.get("sent")), errors=errors or {},
        form=form or {}, message=message, satisfactions=SATISFACTIONS, comment_max=COMMENT_MAX,
        may_withdraw=demand.status not in NOT_OPEN_STATUSES, withdrawn=bool(request.args.get("withdrawn")),
        reason_max=REASON_MAX), status)


@bp.get("/e/<token>")
def view(token: str) -> Response:
    """The enterprise's page: status, deadline, officer, plain timeline, materials; the rating after 办结."""
    found = _linked(token)
    if found is None:
        return _gone()
    return _page(token, *found)


@bp.post("/e/<token>/feedback")
def feedback(token: str) -> Response:
    """Record the enterprise's rating with routing, as the enterprise of this one demand (不满意 reopens it)."""
    found = _linked(token)
    if found is None:
        return _gone()
    demand, timeline = found
    form = {"satisfaction": request.form.get("satisfaction", ""), "comment": request.form.get("comment", "")}
    try:
        body = FeedbackForm().load({k: v for k, v in form.items() if v != ""})
    except ValidationError as exc:
        return _page(token, demand, timeline, localize_all(flatten_errors(exc.messages)), form,
                     gettext("Some fields need fixing."), 422)
    sent = {"satisfaction": body["satisfaction"], **({"comment": body["comment"]} if body["comment"] else {})}
    try:
        call_service("routing", f"/api/v1/demands/{demand.id}/feedback", body=sent, token=_as_enterprise(demand))
    except ServiceUnavailable as exc:
        message = (gettext("Your rating was already recorded, or the demand is no longer waiting for one.")
                   if exc.status == 409 else gettext("Your rating could not be sent just now. Try again shortly."))
        return _page(token, demand, timeline, None, form, message, 409 if exc.status == 409 else 503)
    return redirect(url_for("enterprise.view", token=token, sent=1), 303)


@bp.post("/e/<token>/withdraw")
def withdraw(token: str) -> Response:
    """撤销: the enterprise withdraws its own demand, through routing's ``withdraw`` as the enterprise of this
    one demand (as its rating goes); its reason is what routing keeps. The clocks stop and the demand ends."""
    found = _linked(token)
    if found is None:
        return _gone()
    demand, timeline = found
    form = {"reason": request.form.get("reason", "")}
    try:
        body = WithdrawForm().load({k: v for k, v in form.items() if v.strip() != ""})
    except ValidationError as exc:
        return _page(token, demand, timeline, localize_all(flatten_errors(exc.messages)), form,
                     gettext("Some fields need fixing."), 422)
    try:
        call_service("routing", f"/api/v1/demands/{demand.id}/withdraw", body=body, token=_as_enterprise(demand))
    except ServiceUnavailable as exc:
        message = (gettext("Your demand can no longer be withdrawn: it is already answered or ended.")
                   if exc.status == 409 else gettext("Your request could not be sent just now. Try again shortly."))
        return _page(token, demand, timeline, None, form, message, 409 if exc.status == 409 else 503)
    return redirect(url_for("enterprise.view", token=token, withdrawn=1), 303)


def _as_enterprise(demand: Demand) -> str:
    """A short-lived bearer token of the ``enterprise`` role for this one demand (routing's ``may_act``)."""
    config = current_app.config
    return issue_token("enterprise", demand.id, None, secret=config["JWT_SECRET"],
                       ttl_seconds=min(SERVICE_TOKEN_SECONDS, config["JWT_MAX_TTL_SECONDS"]),
                       max_ttl_seconds=config["JWT_MAX_TTL_SECONDS"])


@bp.after_request
def _no_referrer(response: Response) -> Response:
    """The link is the key: no page of it tells another site where the visitor came from."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(429)
def _too_many(exc: Exception) -> Response:
    return make_response(render_template(
        "pages/error.html", status=429,
        message=gettext("Too many requests from this address. Wait a minute and try again.")), 429)


@bp.record_once
def _limit(state: BlueprintSetupState) -> None:
    """flask-limiter on the link's pages, counting in the identity store as sign-in does (every worker of every
    service shares the count). The limiter is per app (tests run several apps in one process)."""
    app: Flask = state.app
    store = auth_store(app)
    if store is None:
        raise RuntimeError("the enterprise pages need an app made by shared.webkit.app.create_app")
    limiter = Limiter(get_remote_address, app=app, storage_uri=f"{STORAGE_SCHEME}://",
                      storage_options={"engine": store.engine}, strategy="fixed-window", headers_enabled=True)
    for endpoint, limit in (("enterprise.view", VIEW_LIMIT), ("enterprise.feedback", FEEDBACK_LIMIT),
                            ("enterprise.withdraw", FEEDBACK_LIMIT)):
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
