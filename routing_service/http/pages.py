"""The officer's and the supervisor's pages: the queue most urgent first, a demand and its actions, the street.

Everything goes through routing's own queries and commands (the queue, the assignment view, the read rule,
and ``commands.act``, which performs one state-machine transition) so the pages and ``/api/v1`` cannot
disagree; a refusal is shown as a message on the demand's page. What other services own comes over HTTP
with the user's token: the demand's description and timeline from intake, the compliance figures and
breaches from sla.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from marshmallow import ValidationError

from routing_service import commands, queries
from routing_service.domain import RoutingRefused
from routing_service.domain.states import STATES
from routing_service.http.schemas import ACTION_SCHEMAS, QueueArgs
from shared.contracts.reference import DEPARTMENTS
from shared.contracts.vocabulary import CHANNELS, REJECT_REASONS, RETURN_REASONS
from shared.validation import flatten_errors
from shared.webkit.app import context
from shared.webkit.errors import status_of
from shared.webkit.pages import error_page, page_blueprint, require_page
from shared.webkit.pages.errors import localize_all
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("officer", __name__, template_folder="../templates")

QUEUE_PAGE = {"limit": 100, "offset": 0}
# The choices each action's form offers with a "Choose…" placeholder (or radios, none checked).
CHOICES = {"resolve": ("outcome",), "transfer": ("to_officer", "to_department"), "feedback": ("satisfaction",),
           "return": ("reason_code",), "reject": ("reason_code",), "merge": ("into",)}
TABS = (("open", lazy_gettext("To do")), ("resolved", lazy_gettext("Resolved, awaiting feedback")),
        ("closed", lazy_gettext("Closed")))
NOT_YOURS = lazy_gettext("There is no such demand, or it is not yours to see.")
# What a refused action says on the page, by the refusal's kind (its own message is for the API's callers).
REFUSED = {
    "forbidden": lazy_gettext("Only the officer holding this demand or the street's supervisor may do that."),
    "not_found": NOT_YOURS,
    "conflict": lazy_gettext("That is not possible in the demand's current state (it may have changed meanwhile); "
                             "the page now shows what is."),
}


@bp.get("/officer")
@require_page("officer", "supervisor")
def queue() -> str:
    """The signed-in officer's lists (to do, resolved awaiting feedback, closed), searched and filtered; the
    list refreshes itself."""
    return render_template("routing/queue.html", **_queue(), tabs=TABS, states=STATES, channels=CHANNELS)


@bp.get("/officer/list")
@require_page("officer", "supervisor")
def queue_list() -> str:
    return render_template("routing/_queue_list.html", **_queue())


def _queue() -> dict[str, Any]:
    """The list for the query string's tab, search and filters (the API's arguments, one schema); arguments
    that fail it are named on the page and the officer's to-do list is shown."""
    fields = QueueArgs().fields
    chosen = {k: v.strip() for k, v in request.args.items() if k in fields and k not in QUEUE_PAGE and v.strip()}
    problems: dict[str, list[str]] = {}
    try:
        args = QueueArgs().load({**chosen, **QUEUE_PAGE})
    except ValidationError as exc:
        problems = localize_all(flatten_errors(exc.messages))
        chosen = {}
        args = QueueArgs().load(QUEUE_PAGE)
    return {"page": queries.my_queue(context(), g.principal.subject, args), "args": args, "chosen": chosen,
            "problems": problems, "filtered": any(k != "tab" for k in chosen)}


def _clocks(demand_id: str, view: dict[str, Any]) -> dict[str, Any]:
    """The demand's clocks as sla has them now (live business time), else routing's projection; either way as
    the state routing knows already implies (sla hears of an action by event, a moment later)."""
    try:
        answer = call_service("sla", f"/api/v1/sla/demands/{demand_id}")
        clocks, fraction = answer["clocks"], answer["policy"]["warning_fraction"]
    except (ServiceUnavailable, KeyError):
        clocks, fraction = view["clocks"], 0.8
    return {"clocks": queries.settled(clocks, view["state"]), "warning_fraction": fraction}


@bp.get("/officer/demands/<demand_id>")
@require_page("officer", "supervisor")
def demand(demand_id: str, errors: dict[str, list[str]] | None = None, message: str | None = None,
           status: int = 200) -> Any:
    """One demand: routing's view, intake's details and timeline, its clocks, and the actions valid right now."""
    page = queries.demand_page(context(), g.principal, demand_id)
    if page is None:
        return error_page(404, str(NOT_YOURS))
    page["actions"] = _offered(page["actions"], page["a"])
    try:
        details = call_service("intake", f"/api/v1/demands/{demand_id}")
    except ServiceUnavailable:
        details = None
    return render_template(
        "routing/demand.html", **page, **_clocks(demand_id, page["a"]), details=details,
        departments=sorted(DEPARTMENTS), errors=errors or {}, message=message, done=request.args.get("done"),
        form=request.form, return_reasons=RETURN_REASONS, reject_reasons=REJECT_REASONS,
        merge_targets=_merge_targets(page, details) if "merge" in page["actions"] else [],
    ), status


def _offered(actions: list[str], a: dict[str, Any]) -> list[str]:
    """The forms worth showing: a request for more time only while none waits, its approval or refusal only
    while one does (routing refuses the others anyway; a form bound to be refused is not offered)."""
    pending = bool(a.get("extension_request"))
    hidden = {"request-extension"} if pending else {"approve-extension", "refuse-extension"}
    return [x for x in actions if x not in hidden]


def _merge_targets(page: dict[str, Any], details: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The demands this one may be merged into: the same enterprise's other open demands the caller holds
    (routing's own search by credit code), unless routing's page names them itself."""
    if "merge_targets" in page:
        return list(page["merge_targets"])
    a = page["a"]
    uscc = a.get("enterprise_uscc") or ((details or {}).get("enterprise") or {}).get("uscc")
    if not uscc:
        return []
    found = queries.my_queue(context(), g.principal.subject, {**QUEUE_PAGE, "tab": "open", "q": uscc})
    return [d for d in found["items"] if d["demand_id"] != a["demand_id"] and d["enterprise_uscc"] == uscc]


@bp.get("/officer/demands/<demand_id>/clocks")
@require_page("officer", "supervisor")
def demand_clocks(demand_id: str) -> Any:
    """The demand page's clocks, polled while it is open."""
    page = queries.demand_page(context(), g.principal, demand_id)
    if page is None:
        return error_page(404, str(NOT_YOURS))
    return render_template("routing/_clocks.html", **_clocks(demand_id, page["a"]))


@bp.post("/officer/demands/<demand_id>/<action>")
@require_page("officer", "supervisor")
def act(demand_id: str, action: str) -> Any:
    """Perform one action from its form; back to the demand, which shows the new state."""
    schema = ACTION_SCHEMAS.get(action)
    if schema is None:
        return error_page(404, gettext("There is no such page."))
    body = {name: request.form[name].strip() for name in schema().fields if request.form.get(name, "").strip()}
    # Nothing is pre-selected: a choice the form shows but left on its placeholder (or no radio picked) is named.
    unchosen = {name: [gettext("Choose one of the options.")] for name in CHOICES.get(action, ())
                if name in _shown() and name not in body}
    if unchosen:
        return demand(demand_id, unchosen, gettext("Some fields need fixing."), 422)
    try:
        commands.act(context(), demand_id, action, schema().load(body), g.principal)
    except ValidationError as exc:
        return demand(demand_id, localize_all(flatten_errors(exc.messages)), gettext("Some fields need fixing."),
                      422)
    except RoutingRefused as refusal:
        message = str(REFUSED.get(refusal.kind, gettext("Some fields need fixing.")))
        return demand(demand_id, localize_all(refusal.errors), message, status_of(refusal))
    if request.form.get("back") == "supervisor" and g.principal.role == "supervisor":
        return redirect(url_for("supervisor.supervisor", done=action, _anchor="result"))
    return redirect(url_for("officer.demand", demand_id=demand_id, done=action, _anchor="result"))


def _shown() -> set[str]:
    """The fields the submitted form carried: its selects always, its radio groups by a hidden marker."""
    return set(request.form) | set(request.form.getlist("choices"))
