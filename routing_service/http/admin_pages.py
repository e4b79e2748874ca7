"""The admin's desk: accounts, the roster, integration tokens, the working calendar and the audit of every admin
change.

The pages do nothing the APIs cannot: accounts go through :class:`shared.accounts.Accounts` (as
``/auth/accounts`` does), the roster through routing's own commands (as ``/api/v1/officers`` does), tokens
through the identity store (as ``/auth/revocations`` does), a year's official calendar through
:class:`shared.calendar_store.CalendarStore` (as ``PUT /api/v1/calendar/<year>`` does, with the same check), and
each of those writes its own audit row (:mod:`shared.audit`), so a change is audited whichever door it came through.
A one-time password or a token is shown once, in the answer to the form that made it, and kept nowhere.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_skeleton, get_day_names
from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from routing_service import commands, queries
from routing_service.domain import RoutingRefused
from routing_service.http.admin_api import journal
from routing_service.http.schemas import CapacityIn, LeaveIn
from shared import audit
from shared.accounts import Account, AccountRefused, Accounts
from shared.auth import ACCOUNT_ROLES, LEEWAY_SECONDS, STREET_REQUIRED_ROLES, TOKEN_ROLES
from shared.auth_store import StoreUnavailable
from shared.calendar import SHANGHAI, BusinessCalendar, ScheduleError, calendar_for
from shared.calendar_store import CalendarStore
from shared.contracts.reference import STREETS
from shared.webkit.app import context
from shared.webkit.auth import accounts_of, auth_store
from shared.webkit.calendar_api import FIRST_YEAR, LAST_YEAR, enter_year, year_view
from shared.webkit.errors import status_of
from shared.webkit.pages import error_page, page_blueprint, require_page

bp = page_blueprint("admin", __name__, template_folder="../templates")

AUDIT_PAGE = 50
ACCOUNT_ACTIONS = ("unlock", "disable", "enable", "reset")
TOKEN_TTL_DEFAULT = 3600
# What a refused account field says on the page (Accounts speaks English to the API's callers).
ACCOUNT_FIELD = {
    "username": lazy_gettext("3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit."),
    "email": lazy_gettext("Enter an e-mail address."),
    "role": lazy_gettext("Choose one of the options."),
    "street": lazy_gettext("Grid workers and supervisors need a street; agents and administrators have none."),
    "officer_id": lazy_gettext("An officer's account names an officer of the roster; other roles name none."),
}
TAKEN = lazy_gettext("This username is taken.")
STORE_DOWN = lazy_gettext("The identity store cannot be reached. Try again shortly.")
DONE = {
    "unlock": lazy_gettext("Unlocked: %(who)s."), "disable": lazy_gettext("Disabled: %(who)s (signed out everywhere)."),
    "enable": lazy_gettext("Enabled: %(who)s."), "edit": lazy_gettext("Saved: %(who)s (signed out everywhere)."),
    "on_duty": lazy_gettext("On duty: %(who)s."), "off_duty": lazy_gettext("Off duty: %(who)s."),
    "capacity": lazy_gettext("Capacity saved: %(who)s."), "leave": lazy_gettext("Leave saved: %(who)s."),
    "leave_cancelled": lazy_gettext("Leave cancelled: %(who)s."), "revoke": lazy_gettext("Revoked: %(who)s."),
    "reassign": lazy_gettext("Open demands reassigned: %(who)s."),
    "departed": lazy_gettext("Account disabled and off duty: %(who)s. Reassign what they still hold below."),
}


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # the roster's day codes, Monday first as in babel


@bp.context_processor
def _day_names() -> dict[str, Any]:
    """Weekday names in the reader's language (from the locale data, so no catalogue words)."""
    names = get_day_names("abbreviated", locale=get_locale())
    return {"day_names": {code: names[i] for i, code in enumerate(DAYS)}}


@bp.app_template_filter("month_day")
def _month_day(day: Any) -> str:
    """A date as month and day in the reader's language ("12月1日", "Dec 1"): the roster's leave range."""
    return format_skeleton("MMMd", day, locale=get_locale())


def _accounts() -> Accounts:
    found = accounts_of()
    if found is None:
        raise StoreUnavailable("this app has no identity store")
    return found


def _done() -> str | None:
    """The confirmation after a redirect (?done=<action>&who=<name>)."""
    found = DONE.get(request.args.get("done", ""))
    return str(found) % {"who": request.args.get("who", "")[:200]} if found else None


def _me() -> str:
    return str(g.principal.subject)


@bp.get("/admin")
@require_page("admin")
def home() -> str:
    """Where the admin's work starts: a card per desk."""
    return render_template("routing/admin.html")


# --- accounts -----------------------------------------------------------------------------------------


def _state(account: Account) -> str:
    """The one word the list shows: disabled, locked, must change its password, or active."""
    if account.disabled:
        return "disabled"
    if account.locked(time.time()):
        return "locked"
    return "must_change" if account.must_change_password else "active"


def _accounts_page(errors: dict[str, str] | None = None, message: str | None = None, once: dict[str, str] | None = None,
                   status: int = 200, editing: str | None = None) -> Any:
    try:
        found = _accounts().list()
    except (StoreUnavailable, SQLAlchemyError):
        return error_page(503, str(STORE_DOWN))
    officers = queries.officers(context())
    return render_template(
        "routing/admin_accounts.html", accounts=[(a, _state(a)) for a in found], roles=ACCOUNT_ROLES,
        names={o["id"]: o["name"] for o in officers},
        streets=sorted(STREETS), officers=officers, errors=errors or {}, message=message, once=once,
        done=_done(), form=request.form, editing=editing, street_roles=sorted(STREET_REQUIRED_ROLES)), status


def _form_account() -> dict[str, Any]:
    values = {name: request.form.get(name, "").strip() for name in ("username", "role", "street", "email",
                                                                  "officer_id")}
    return {**values, "username": values["username"].lower(), "street": values["street"] or None,
            "officer_id": values["officer_id"] or None}


def _field_errors(exc: AccountRefused) -> dict[str, str]:
    if exc.kind == "conflict":
        return {"username": str(TAKEN)}
    return {name: str(ACCOUNT_FIELD.get(name, gettext("Some fields need fixing."))) for name in exc.errors}


@bp.get("/admin/accounts")
@require_page("admin")
def accounts() -> Any:
    """Every account with its state; a form to create one."""
    return _accounts_page()


@bp.post("/admin/accounts")
@require_page("admin")
def create_account() -> Any:
    """Create an account; its one-time password is shown on this answer only."""
    body = _form_account()
    try:
        account, generated = _accounts().create(body["username"], body["role"], body["email"], body["street"],
                                                body["officer_id"], by=_me())
    except AccountRefused as exc:
        return _accounts_page(_field_errors(exc), gettext("Some fields need fixing."), status=422)
    except (StoreUnavailable, SQLAlchemyError):
        return error_page(503, str(STORE_DOWN))
    return _accounts_page(once={"username": account.username, "password": generated or ""}, status=201)


@bp.post("/admin/accounts/<username>/edit")
@require_page("admin")
def edit_account(username: str) -> Any:
    """Change the role, street, roster link or e-mail; the account's sessions end (they carry the old role)."""
    body = _form_account()
    try:
        account = _accounts().update(username, role=body["role"], street=body["street"],
                                     officer_id=body["officer_id"], email=body["email"], by=_me())
    except AccountRefused as exc:
        if exc.kind == "not_found":
            return error_page(404, gettext("There is no such page."))
        return _accounts_page(_field_errors(exc), gettext("Some fields need fixing."), status=422, editing=username)
    except (StoreUnavailable, SQLAlchemyError):
        return error_page(503, str(STORE_DOWN))
    return redirect(url_for("admin.accounts", done="edit", who=account.username))


@bp.post("/admin/accounts/<username>/<action>")
@require_page("admin")
def account_action(username: str, action: str) -> Any:
    """Unlock, disable, enable, or reset the password (a new one-time password, shown once). Disabling an
    officer's account also takes them off duty and leads to the roster, where their open demands are reassigned."""
    if action not in ACCOUNT_ACTIONS:
        return error_page(404, gettext("There is no such page."))
    if action == "disable" and username.strip().lower() == _me():
        return error_page(409, gettext("You cannot disable your own account."))  # nobody left to enable it
    try:
        if action == "reset":
            account, generated = _accounts().reset_password(username, by=_me())
            return _accounts_page(once={"username": account.username, "password": generated or "", "reset": "1"})
        account = getattr(_accounts(), action)(username, by=_me())
    except AccountRefused:
        return error_page(404, gettext("There is no such page."))
    except (StoreUnavailable, SQLAlchemyError):
        return error_page(503, str(STORE_DOWN))
    if action == "disable" and account.officer_id:
        # An officer who leaves: no new demands, and the roster offers 全部改派 of what they still hold.
        return _roster_change(account.officer_id, lambda: commands.set_on_duty(
            context(), account.officer_id or "", False, by=_me(), journal=journal()), "departed")
    return redirect(url_for("admin.accounts", done=action, who=account.username))


# --- the roster ---------------------------------------------------------------------------------------


def _roster_page(errors: dict[str, dict[str, str]] | None = None, message: str | None = None,
                 status: int = 200) -> Any:
    street = request.args.get("street") if request.args.get("street") in STREETS else None
    moved, stayed = request.args.get("moved", ""), request.args.get("stayed", "")
    return render_template("routing/admin_roster.html", officers=queries.officers(context(), street=street),
                           errors=errors or {}, message=message, done=_done(), streets=sorted(STREETS),
                           street=street, moved=int(moved) if moved.isdigit() else None,
                           stayed=int(stayed) if stayed.isdigit() else 0), status


@bp.get("/admin/roster")
@require_page("admin")
def roster() -> Any:
    """The officers: kind, streets, skills, capacity and load, the duty switch and hours."""
    return _roster_page()


def _roster_change(officer_id: str, run: Any, done: str) -> Any:
    try:
        out = run()
    except RoutingRefused as refusal:
        if refusal.kind == "not_found":
            return error_page(404, gettext("There is no such page."))
        return _roster_page({officer_id: {"capacity": gettext("Some fields need fixing.")}},
                            gettext("Some fields need fixing."), 422)
    except (StoreUnavailable, SQLAlchemyError):
        return error_page(503, str(STORE_DOWN))
    street = request.args.get("street") if request.args.get("street") in STREETS else None
    return redirect(url_for("admin.roster", done=done, who=out["name"], street=street,
                            _anchor=f"officer-{officer_id}"))


@bp.post("/admin/roster/<officer_id>/capacity")
@require_page("admin")
def set_capacity(officer_id: str) -> Any:
    """How many open demands the officer may hold (the same command as ``PUT /api/v1/officers/<id>/capacity``)."""
    given = request.form.get("capacity", "").strip()
    try:  # the API's schema takes a JSON integer; a form sends digits
        body = CapacityIn().load({"capacity": int(given) if given.isdigit() else given})
    except ValidationError:
        return _roster_page({officer_id: {"capacity": gettext("Enter a whole number from 0 to 100000.")}},
                            gettext("Some fields need fixing."), 422)
    return _roster_change(officer_id, lambda: commands.set_capacity(
        context(), officer_id, body["capacity"], by=_me(), journal=journal()), "capacity")


@bp.post("/admin/roster/<officer_id>/duty")
@require_page("admin")
def set_duty(officer_id: str) -> Any:
    """The duty switch (the same command as ``POST /api/v1/officers/<id>/on-duty`` and ``/off-duty``)."""
    on_duty = request.form.get("on_duty") == "1"
    return _roster_change(officer_id, lambda: commands.set_on_duty(
        context(), officer_id, on_duty, by=_me(), journal=journal()), "on_duty" if on_duty else "off_duty")


@bp.post("/admin/roster/<officer_id>/leave")
@require_page("admin")
def set_leave(officer_id: str) -> Any:
    """The officer's leave for a date range, or its cancelling (``cancel``): the command of
    ``PUT`` / ``DELETE /api/v1/officers/<id>/leave``, checked by the same schema."""
    if request.form.get("cancel"):
        return _roster_change(officer_id, lambda: commands.set_leave(
            context(), officer_id, None, None, by=_me(), journal=journal()), "leave_cancelled")
    try:
        body = LeaveIn().load({"from": request.form.get("leave_from", "").strip(),
                               "until": request.form.get("leave_until", "").strip()})
    except ValidationError:
        return _roster_page({officer_id: {"leave": gettext(
            "Enter two dates, the last on or after the first and at most 366 days later.")}},
            gettext("Some fields need fixing."), 422)
    return _roster_change(officer_id, lambda: commands.set_leave(
        context(), officer_id, body["leave_from"], body["leave_until"], by=_me(), journal=journal()), "leave")


@bp.post("/admin/roster/<officer_id>/reassign")
@require_page("admin")
def reassign(officer_id: str) -> Any:
    """全部改派 of an officer taken off duty (or leaving): each open demand they hold goes where the routing rules
    say, never back to them (the command of ``POST /api/v1/officers/<id>/reassign``); their clocks keep running."""
    try:
        out = commands.reassign(context(), officer_id, {}, g.principal)
    except RoutingRefused as refusal:
        if refusal.kind == "not_found":
            return error_page(404, gettext("There is no such page."))
        return _roster_page(None, gettext("Nothing was reassigned: the officer's demands changed meanwhile; "
                                          "try again."), status_of(refusal))
    street = request.args.get("street") if request.args.get("street") in STREETS else None
    name = queries.officer(context(), officer_id)["name"]
    return redirect(url_for("admin.roster", done="reassign", who=name, moved=out["moved"],
                            stayed=len(out["stayed"]), street=street,
                            _anchor=f"officer-{officer_id}"))


# --- integration tokens ---------------------------------------------------------------------------------


def _tokens_page(errors: dict[str, str] | None = None, message: str | None = None, once: dict[str, Any] | None = None,
                 status: int = 200) -> Any:
    max_ttl = int(current_app.config["JWT_MAX_TTL_SECONDS"])
    issued = journal().latest(10, action="token.issue")
    return render_template("routing/admin_tokens.html", roles=TOKEN_ROLES, streets=sorted(STREETS),
                           max_ttl=max_ttl, default_ttl=min(TOKEN_TTL_DEFAULT, max_ttl), errors=errors or {},
                           message=message, once=once, done=_done(), form=request.form, issued=issued), status


@bp.get("/admin/tokens")
@require_page("admin")
def tokens() -> Any:
    """Issue a bearer token for an integration (shown once) or revoke one by its id."""
    return _tokens_page()


@bp.post("/admin/tokens")
@require_page("admin")
def issue_token() -> Any:
    """A token for an integration: role, subject, street, lifetime at most JWT_MAX_TTL_SECONDS."""
    max_ttl = int(current_app.config["JWT_MAX_TTL_SECONDS"])
    role, subject = request.form.get("role", ""), request.form.get("subject", "").strip()
    street = request.form.get("street", "").strip() or None
    errors: dict[str, str] = {}
    if role not in TOKEN_ROLES:
        errors["role"] = gettext("Choose one of the options.")
    if not subject or len(subject) > 200 or any(ch.isspace() for ch in subject):
        errors["subject"] = gettext("Enter the integration's name: 1 to 200 characters, no spaces.")
    try:
        ttl = int(request.form.get("ttl_seconds", ""))
        if not 60 <= ttl <= max_ttl:
            raise ValueError
    except ValueError:
        errors["ttl_seconds"] = gettext("Enter a lifetime from 60 to %(max)s seconds.", max=max_ttl)
    store = auth_store()
    if store is None:
        return error_page(503, str(STORE_DOWN))
    if not errors:
        try:
            token, jti, expires_at = store.issue(role, subject, street, ttl, secret=current_app.config["JWT_SECRET"],
                                                 max_ttl_seconds=max_ttl, by=_me())
        except ValueError:
            errors["street"] = str(ACCOUNT_FIELD["street"])
        except StoreUnavailable:
            return error_page(503, str(STORE_DOWN))
        else:
            return _tokens_page(once={"token": token, "jti": jti, "subject": subject, "role": role,
                                      "expires_at": datetime.fromtimestamp(expires_at, UTC)}, status=201)
    return _tokens_page(errors, gettext("Some fields need fixing."), status=422)


@bp.post("/admin/tokens/revoke")
@require_page("admin")
def revoke_token() -> Any:
    """Revoke a token by its id (jti): refused by every service within a second."""
    jti = request.form.get("jti", "").strip()
    if not jti or len(jti) > 200 or any(ch.isspace() for ch in jti):
        return _tokens_page({"jti": gettext("Enter the token's id (jti).")}, gettext("Some fields need fixing."), 422)
    store = auth_store()
    if store is None:
        return error_page(503, str(STORE_DOWN))
    longest = int(time.time()) + int(current_app.config["JWT_MAX_TTL_SECONDS"]) + LEEWAY_SECONDS
    try:
        store.revoke(jti, longest, by=_me())
    except StoreUnavailable:
        return error_page(503, str(STORE_DOWN))
    return redirect(url_for("admin.tokens", done="revoke", who=jti))


# --- the working calendar -------------------------------------------------------------------------------

# What the textareas take besides single dates: a range as the State Council's notices give them.
_RANGE = re.compile(r"^(\S+?)\s*(?:\.\.|~|～)\s*(\S+)$")
_SEPARATORS = re.compile(r"[\n,，、;；]+")
MAX_TYPED = 20_000  # characters per textarea: a whole year, one date a line, is under 4,000
ENTERED = lazy_gettext("Entered the %(year)s working calendar (revision %(revision)s): deadlines not yet ended will "
                       "be recomputed on it.")
# The rule a refused field breaks, in the reader's words; the check's own (English) details follow it.
SCHEDULE_FIELD = {
    "holidays": lazy_gettext("List every day off of the notice, each once, all in %(year)s."),
    "workdays": lazy_gettext("Make-up workdays are Saturdays or Sundays of %(year)s, each once, none of them also a "
                             "day off."),
}


def _calendar() -> BusinessCalendar:
    return calendar_for(context().settings)


def _today() -> date:
    return datetime.now(SHANGHAI).date()


def date_ranges(days: Any) -> list[tuple[date, date]]:
    """Dates (or ISO strings) as runs of consecutive days, first to last: how notices and the audit read."""
    runs: list[tuple[date, date]] = []
    for day in sorted({d if isinstance(d, date) else date.fromisoformat(d) for d in days}):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@bp.app_template_filter("date_ranges")
def _date_ranges_text(days: Any) -> str:
    """The audit's lists of dates, consecutive days as one range ("2027-02-05–2027-02-12, 2027-04-05")."""
    return ", ".join(a.isoformat() if a == b else f"{a.isoformat()}–{b.isoformat()}" for a, b in date_ranges(days))


def typed_days(days: list[date]) -> str:
    """Dates as the textareas take them, one range or date a line (what the form is prefilled with)."""
    return "\n".join(a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in date_ranges(days))


def parse_days(text: str) -> tuple[list[date], list[str]]:
    """The dates an admin typed: one a line or comma-separated, ranges as ``2027-02-05..2027-02-12`` or with ``~``.

    Returns the dates (a range expanded, repeats kept so the schedule's check names them) and what could not be
    read, in the reader's words; whether the dates make a schedule is :func:`shared.calendar.check_schedule`'s call.
    """
    if len(text) > MAX_TYPED:
        return [], [gettext("At most %(n)s characters.", n=MAX_TYPED)]
    days: list[date] = []
    problems: list[str] = []
    for item in (part.strip() for part in _SEPARATORS.split(text)):
        if not item:
            continue
        found = _RANGE.match(item)
        try:
            first, last = ((date.fromisoformat(found[1]), date.fromisoformat(found[2])) if found
                           else (date.fromisoformat(item),) * 2)
        except ValueError:
            problems.append(gettext("“%(text)s” is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD).",
                                    text=item[:40]))
            continue
        if last < first or (last - first).days >= 366:
            problems.append(gettext("“%(text)s”: a range runs forward, within a year.", text=item[:40]))
            continue
        days.extend(first + timedelta(days=i) for i in range((last - first).days + 1))
    return days, problems


def _weeks(days: list[dict[str, Any]]) -> list[list[dict[str, Any] | None]]:
    """One month's days (the API's day views) as weeks from Monday, None before the 1st and after the last day."""
    cells: list[dict[str, Any] | None] = [None] * days[0]["date"].weekday() + days
    cells += [None] * (-len(cells) % 7)
    return [cells[i:i + 7] for i in range(0, len(cells), 7)]


def _calendar_page(year: int, errors: dict[str, list[str]] | None = None, refused: dict[str, list[str]] | None = None,
                   typed: dict[str, str] | None = None, status: int = 200) -> Any:
    store = auth_store()
    if store is None:
        return error_page(503, str(STORE_DOWN))
    try:
        view = year_view(_calendar(), year)
        history = CalendarStore(store.engine).history(year)
    except SQLAlchemyError:
        return error_page(503, str(STORE_DOWN))
    months = [{"title": format_skeleton("yMMMM", date(year, m, 1), locale=get_locale()),
               "weeks": _weeks([d for d in view["days"] if d["date"].month == m])} for m in range(1, 13)]
    entered = request.args.get("entered", "")
    return render_template(
        "routing/admin_calendar.html", year=year, view=view, months=months, history=history,
        first_year=FIRST_YEAR, last_year=LAST_YEAR, errors=errors or {}, refused=refused or {},
        typed=typed or {"holidays": typed_days(view["holidays"]), "workdays": typed_days(view["workdays"])},
        done=str(ENTERED) % {"year": year, "revision": entered} if entered.isdigit() and not errors else None,
        message=gettext("Some fields need fixing.") if errors or refused else None), status


@bp.get("/admin/calendar")
@require_page("admin")
def calendar() -> Any:
    """A year's working days month by month (``?year=``; by default the first estimated year, else this one), where
    they come from, who entered them, and the form to enter the State Council's notice."""
    asked = request.args.get("year", "").strip()
    if asked:
        if not asked.isdigit() or not FIRST_YEAR <= int(asked) <= LAST_YEAR:
            return error_page(404, gettext("There is no such page."))
        year = int(asked)
    else:
        year = next(iter(_calendar().estimated_years(_today())), _today().year)
    return _calendar_page(year)


@bp.post("/admin/calendar/<int:year>")
@require_page("admin")
def calendar_enter(year: int) -> Any:
    """Enter the year's official schedule (the notice's days off and make-up workdays) through the store and the
    check of ``PUT /api/v1/calendar/<year>``; a refused entry changes nothing and comes back as typed."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return error_page(404, gettext("There is no such page."))
    store = auth_store()
    if store is None:
        return error_page(503, str(STORE_DOWN))
    typed = {name: request.form.get(name, "") for name in ("holidays", "workdays")}
    parsed = {name: parse_days(text) for name, text in typed.items()}
    errors = {name: problems for name, (_, problems) in parsed.items() if problems}
    if errors:
        return _calendar_page(year, errors=errors, typed=typed, status=422)
    try:
        entry = enter_year(year, parsed["holidays"][0], parsed["workdays"][0], _me())
    except ScheduleError as exc:
        return _calendar_page(year, errors={name: [str(SCHEDULE_FIELD[name]) % {"year": year}] for name in exc.errors},
                              refused=exc.errors, typed=typed, status=422)
    except SQLAlchemyError:
        return error_page(503, str(STORE_DOWN))
    return redirect(url_for("admin.calendar", year=year, entered=entry.revision, _anchor="result"))


# --- the audit ------------------------------------------------------------------------------------------


@bp.get("/admin/audit")
@require_page("admin")
def audit_page() -> Any:
    """The latest admin changes, newest first, :data:`AUDIT_PAGE` at a time (``?before=<id>`` for older)."""
    before = request.args.get("before", "")
    before_id = int(before) if before.isdigit() else None
    try:
        entries = audit.latest(journal().engine, AUDIT_PAGE + 1, before_id)
    except SQLAlchemyError:
        return error_page(503, str(STORE_DOWN))
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    return render_template("routing/admin_audit.html", entries=entries,
                           older=entries[-1].id if more and entries else None, paged=before_id is not None)
