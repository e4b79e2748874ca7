"""The words the pages show for the suite's codes (states, channels, categories...), in the user's language.

Every label is a gettext message (English source, translated in ``shared/webkit/translations``), so one catalogue
holds all of the pages' vocabulary. Street and department names come from the reference data, which
already carries both languages.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale, lazy_gettext, lazy_pgettext

from shared.contracts.reference import DEPARTMENTS, STREETS

_ = lazy_gettext

LABELS: dict[str, dict[str, Any]] = {
    # The reporter's status (intake) and the working state (routing) share most words.
    "status": {
        "submitted": _("Submitted"), "unassigned": _("Unassigned"), "assigned": _("Assigned"),
        "in_progress": _("In progress"), "awaiting_enterprise": _("Awaiting the enterprise"),
        "transferred": _("Transferred"), "resolved": lazy_pgettext("status", "Resolved"),
        "reopened": _("Reopened"), "closed": _("Closed"), "acknowledged": _("Acknowledged"),
        "awaiting_materials": _("Awaiting materials"), "feedback_received": _("Feedback received"),
        "under_review": _("Under review"), "withdrawn": _("Withdrawn"), "rejected": _("Not accepted"),
        "merged": _("Merged"),
    },
    "channel": {
        "grid": _("Grid worker"), "hotline_12345": _("12345 hotline"), "online_helpdesk": _("Online help desk"),
        "fallback_window": _("Can't-get-it-done window"), "walk_in": _("Walk-in"),
    },
    "complexity": {"simple": _("Simple"), "complex": _("Complex"), "difficult": _("Difficult")},
    "outcome": {
        "resolved": lazy_pgettext("outcome", "Resolved"), "explained": _("Explained"),
        "unresolvable": _("Cannot be resolved"),
    },
    "satisfaction": {
        "satisfied": _("Satisfied"), "basically_satisfied": _("Basically satisfied"),
        "unsatisfied": _("Unsatisfied"),
    },
    "clock": {"first_response": _("First response"), "resolution": _("Resolution")},
    "clock_status": {
        "running": _("Running"), "paused": _("Paused"), "met": _("Met"),
        "breached": lazy_pgettext("clock", "Breached"), "cancelled": _("Stopped, not counted"),
    },
    "sla_status": {
        "on_track": _("On track"), "warning": _("Warning"), "breached": lazy_pgettext("clock", "Breached"),
    },
    "event": {
        "submitted": _("Submitted"), "assigned": _("Assigned"), "acknowledged": _("Acknowledged"),
        "materials_requested": _("Materials requested"), "materials_received": _("Materials received"),
        "transferred": _("Transferred"), "resolved": lazy_pgettext("status", "Resolved"),
        "escalated": _("Escalated"), "feedback_received": _("Feedback received"), "reopened": _("Reopened"),
        "closed": _("Closed"), "sla_warning": _("SLA warning"), "sla_breached": _("SLA breached"),
        "extension_requested": _("Extension requested"), "extension_approved": _("Extension approved"),
        "extension_refused": _("Extension refused"), "returned": _("Returned for re-routing"),
        "review_approved": _("Resolution approved"), "sent_back": _("Sent back in review"),
        "withdrawn": _("Withdrawn"), "rejected": _("Not accepted"), "merged": _("Merged into another demand"),
        "merged_in": _("Merged a duplicate"),
        "sla_retimed": _("Deadline moved by the new working calendar"),
    },
    # Reasons routing gives by itself, stored as codes (intake_service.domain.policy.REASON_CODES).
    "reason": {
        "resolution_breached": _("the resolution deadline was breached"),
        "enterprise_unsatisfied": _("the enterprise was not satisfied"),
        # Return (退单) and rejection (不予受理) reasons: shared.contracts.vocabulary RETURN_REASONS, REJECT_REASONS.
        "wrong_street": _("it belongs to another street"), "wrong_department": _("it belongs to another department"),
        "not_ours": _("it is not ours to handle"), "private_dispute": _("a private commercial dispute"),
        "judicial_matter": _("a matter for the courts"), "other_authority": _("a matter for another authority"),
        "not_a_demand": _("not a demand"),
        # Routing's own reasons in the lifecycle (routing_service.domain.policy).
        "repeated_return": _("returned more than once"), "no_eligible_officer": _("nobody else eligible took it"),
        "officer_unavailable": _("the officer is unavailable"),
    },
    "action": {
        "acknowledge": _("Acknowledge"), "request-materials": _("Request materials"),
        "materials-received": _("Materials received"), "transfer": _("Transfer"),
        "resolve": _("Resolve"), "escalate": _("Escalate"), "feedback": _("Record feedback"),
        "close": _("Close"),
        # The further lifecycle (issue 15).
        "request-extension": _("Request an extension"), "approve-extension": _("Approve the extension"),
        "refuse-extension": _("Refuse the extension"), "return": _("Return for re-routing"),
        "approve-resolution": _("Approve the resolution"), "send-back": _("Send back"),
        "withdraw": _("Withdraw"), "reject": _("Do not accept"), "merge": _("Merge as a duplicate"),
    },
    "officer_kind": {
        "chief_service_officer": _("Chief service officer"), "street_commissioner": _("Street commissioner"),
        "department_specialist": _("Department specialist"), "supervisor": _("Supervisor"),
    },
    "rule": {
        "key_enterprise_chief_officer": _("Key enterprise: its chief service officer"),
        "fallback_window_supervisor": _("Fallback window: the street supervisor"),
        "hotline_department_specialist": _("12345 hotline: a department specialist"),
        "street_commissioner": _("A street commissioner with the skill"),
        "unassigned": _("Nobody eligible: the street's queue"),
        "supervisor_assignment": _("Assigned by the supervisor"), "transfer": _("Transfer"),
        "returned": _("Returned by its holder: routing chose again"),
        "reassignment": _("Reassigned: the officer is unavailable"),
    },
    "role": {
        "grid_worker": _("Grid worker"), "hotline_agent": _("Hotline agent"),
        "helpdesk_agent": _("Help-desk agent"), "officer": _("Officer"), "supervisor": _("Supervisor"),
        "admin": _("Administrator"), "alertmanager": _("Alertmanager (alert webhook)"),
    },
    # Names agree with shared/contracts/categories.yaml (a test checks the Chinese ones).
    "category": {
        "market_entry_exit": _("Market entry and exit"), "business_premises": _("Business premises"),
        "utility_connection": _("Utility connections"), "employment": _("Employment"),
        "financing": _("Financial services"), "cross_border_trade": _("Cross-border trade"),
        "taxation": _("Taxation"), "commercial_dispute": _("Commercial disputes"),
        "fair_competition": _("Fair competition"), "bankruptcy": _("Bankruptcy"),
        "intellectual_property": _("Intellectual property"), "talent_services": _("Talent services"),
        "policy_consultation": _("Policy services"), "credit_repair": _("Credit management and repair"),
        "other": _("Other"),
    },
}


def label(group: str, code: str | None) -> str:
    """The user's word for ``code`` of ``group``; an unknown code is shown as it is rather than hidden."""
    if code is None:
        return ""
    found = LABELS[group].get(code)
    return str(found) if found is not None else code


def is_chinese() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def street_name(code: str | None) -> str:
    street = STREETS.get(code or "")
    if street is None:
        return code or ""
    return street.name_zh if is_chinese() else street.name_en


def department_name(code: str | None) -> str:
    department = DEPARTMENTS.get(code or "")
    if department is None:
        return code or ""
    return department.name_zh if is_chinese() else department.name_en
