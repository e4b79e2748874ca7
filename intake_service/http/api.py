"""Intake's JSON API: log a demand, follow it, list demands. A refusal becomes its status in
:mod:`shared.webkit.errors` (403, 404, 409, 422), the same for every service."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import RAISE

from intake_service import commands, queries
from intake_service.domain.policy import CHANNELS_BY_ROLE
from intake_service.http import caller, ctx
from intake_service.http.schemas import DemandIn, DemandOut, DemandPage, DemandQuery, IdempotencyHeaders
from shared.webkit.app import answers
from shared.webkit.auth import require
from shared.webkit.inputs import ApiBlueprint

blp = ApiBlueprint("demands", __name__, url_prefix="/api/v1", description="Log and follow enterprise demands")



@blp.route("/demands", methods=["POST"])
@require(*CHANNELS_BY_ROLE)
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(DemandIn())
@blp.response(201, DemandOut(), description="The demand, stored with its `submitted` event queued (or, for a "
              "retry with the same Idempotency-Key and body, the original demand).", headers={
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
    else:
        view = queries.full_view(who, logged.demand, [])
    return view, 201, {"Location": url_for("demands.get_demand", demand_id=logged.demand.id),
                       "Idempotent-Replayed": "true" if logged.replayed else "false"}


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
