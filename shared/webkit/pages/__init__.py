"""What the three services' web pages share: sign-in, language, CSRF, the page guard and the base layout.

People sign in with the username and password of their account (:mod:`shared.accounts`); the random id of
the session this opens is kept in an HttpOnly, SameSite=Strict cookie (:data:`SESSION_COOKIE`), and the
session itself in the identity store, so one sign-in serves the three services on the same host (cookies
belong to a host, not a port) and signing out ends it everywhere. A first sign-in (or one after an admin's
reset) must choose a new password before any other page opens. The cookie is read by :func:`require_page`
only: the JSON API keeps accepting the ``Authorization`` header alone, so a page session can never be
replayed against the API by a cross-site request; a page that asks another service's API uses a bearer token
minted for the session's user for a few minutes (:func:`service_token`).

Signing in is limited twice: :data:`SIGNIN_LIMIT` failed attempts per client address (flask-limiter, counted
in the identity store, so every worker of every service shares the count and a restart keeps it), and a lock
per account after a few wrong passwords, which ends by itself (:mod:`shared.accounts`).

Every page form (and every ``fetch`` POST, through the ``X-CSRFToken`` header) carries a CSRF token
checked by Flask-WTF; the check runs for page blueprints only (see :func:`page_blueprint`), never for the
API, whose bearer tokens are not sent automatically by browsers.

Pages are in Simplified Chinese (the default) or English, picked with ``?lang=`` and remembered in a
cookie; the words live in gettext catalogues under ``shared/webkit/translations`` (compiled into ``VAR_DIR``
when an app starts, see :func:`compile_catalogues`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import tempfile
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import Babel, format_datetime, get_locale, gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from shared.accounts import LOCK_SECONDS, AccountRefused, Session
from shared.auth import Principal, issue_token
from shared.auth_store import STORAGE_SCHEME, StoreUnavailable
from shared.config import PROJECT_ROOT, Settings
from shared.instants import instant_text
from shared.webkit.auth import accounts_of, auth_store
from shared.webkit.pages.clocks import clock_face
from shared.webkit.pages.labels import department_name, label, street_name

__all__ = [
    "LOCALES",
    "SESSION_COOKIE",
    "ServiceUnavailable",
    "call_service",
    "init_pages",
    "install_pages",
    "page_blueprint",
    "page_principal",
    "require_page",
    "service_token",
    "wants_json",
]

SESSION_COOKIE = "yangpu_session"
LOCALE_COOKIE = "yangpu_lang"
DEFAULT_LOCALE = "zh_Hans_CN"
LOCALES = {"zh_Hans_CN": "中文", "en": "English"}
TRANSLATIONS = PROJECT_ROOT / "shared" / "webkit" / "translations"
# Where each role's work starts: (service, path).
ROLE_HOME = {"grid_worker": ("intake", "/grid"), "officer": ("routing", "/officer"),
             "supervisor": ("routing", "/supervisor"), "helpdesk_agent": ("intake", "/helpdesk"),
             "hotline_agent": ("intake", "/hotline"), "admin": ("routing", "/admin")}
# Pages load only what they serve themselves: no inline script, nothing from elsewhere. Forms may lead
# (through a redirect, e.g. after sign-in) to the suite's other services.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self' {services}; frame-ancestors 'none'; base-uri 'none'")

# Failed sign-ins (and password changes) per client address, across every worker of every service.
SIGNIN_LIMIT = "10 per minute"
# The lifetime of the bearer token a page mints to ask another service's API for its user.
SERVICE_TOKEN_SECONDS = 300
# The longest `next` a sign-in keeps (a page path with its query).
NEXT_MAX_LENGTH = 2000

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()
babel = Babel()
log = logging.getLogger(__name__)


# --- setup ------------------------------------------------------------------------------------------


def compile_catalogues(target: Path, source: Path = TRANSLATIONS) -> Path:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` into ``target`` (atomic, so gunicorn workers that
    start together never read half a file); returns ``target`` for BABEL_TRANSLATION_DIRECTORIES."""
    for po_path in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog)
        os.replace(tmp, mo_path)
    return target


def _select_locale() -> str:
    asked = request.args.get("lang") or request.cookies.get(LOCALE_COOKIE)
    return asked if asked in LOCALES else DEFAULT_LOCALE


def install_pages(app: Flask, *blueprints: Blueprint) -> Flask:
    """Give a service's app the pages' machinery, the shared pages (sign-in, sign-out) and its own pages."""
    init_pages(app)
    for bp in blueprints:
        app.register_blueprint(bp)
    return app


def init_pages(app: Flask) -> None:
    """Give a service's app the pages' machinery and the shared pages (sign-in, sign-out, home)."""
    settings: Settings = app.extensions["yangpu"]["context"].settings
    app.config.update(
        # All services share the JWT secret, so they derive the same key for the CSRF session cookie.
        SECRET_KEY=hmac.new(settings.jwt_secret.encode(), b"yangpu-pages-session", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="yangpu_pages",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.trusted_proxy_hops > 0,  # behind the TLS proxy every page is HTTPS
        WTF_CSRF_CHECK_DEFAULT=False,
        # A draft a grid worker kept offline is sent hours later: the token lives as long as a sign-in.
        WTF_CSRF_TIME_LIMIT=settings.jwt_ttl_seconds,
        BABEL_DEFAULT_LOCALE=DEFAULT_LOCALE,
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(compile_catalogues(settings.var_dir / "translations")),
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.globals.update(label=label, street_name=street_name, department_name=department_name,
                                 signed_in=page_principal,
                                 csrf_token=generate_csrf, service_url=service_url, LOCALES=LOCALES,
                                 html_lang=html_lang, current_locale=lambda: str(get_locale()),
                                 lang_switch_url=lang_switch_url)
    app.jinja_env.filters.update(when=when, iso=iso)
    app.jinja_env.globals["clock_face"] = clock_face  # the clock(c) macro: business-time countdowns
    app.jinja_env.globals["estimated_calendar_years"] = estimated_calendar_years  # pages/_calendar_banner.html
    app.register_blueprint(_shared)
    _limit_signin(app)


def _limit_signin(app: Flask) -> Limiter:
    """flask-limiter on this app's sign-in, counting in the identity store (``create_app`` opened it).

    The limiter is per app (tests run several apps in one process), so the view is wrapped here, not with a
    module-level decorator. Only a refusal counts: a successful sign-in or password change (302) is free.
    """
    store = auth_store(app)
    if store is None:
        raise RuntimeError("init_pages needs an app made by shared.webkit.app.create_app (the identity store)")
    limiter = Limiter(get_remote_address, app=app, storage_uri=f"{STORAGE_SCHEME}://",
                      storage_options={"engine": store.engine}, strategy="fixed-window", headers_enabled=True)
    for endpoint, view in (("pages.signin", signin), ("pages.change_password", change_password)):
        app.view_functions[endpoint] = limiter.limit(
            SIGNIN_LIMIT, methods=["POST"], deduct_when=lambda response: response.status_code != 302)(view)
    return limiter


def page_blueprint(name: str, import_name: str, template_folder: str | None = None,
                   static_folder: str | None = None) -> Blueprint:
    """A blueprint of pages: CSRF-checked forms, the language cookie, page-shaped errors, safe headers."""
    bp = Blueprint(name, import_name, template_folder=template_folder, static_folder=static_folder,
                   static_url_path=f"/{name}-static" if static_folder else None)

    @bp.before_request
    def _protect() -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    @bp.after_request
    def _finish(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LOCALES and request.cookies.get(LOCALE_COOKIE) != asked:
            response.set_cookie(LOCALE_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax",
                                secure=request.is_secure)
        settings: Settings = current_app.extensions["yangpu"]["context"].settings
        response.headers.setdefault("Content-Security-Policy",
                                    CSP.format(services=" ".join(settings.service_urls.values())))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @bp.errorhandler(HTTPException)
    def _error(exc: HTTPException) -> Response:
        return error_page(exc.code or 500, _message_for(exc))

    return bp


def _message_for(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return gettext("This form has expired. Reload the page and try again.")
    return {403: gettext("Your role may not open this page."), 404: gettext("There is no such page."),
            429: gettext("Too many failed sign-ins from this address. Wait a minute and try again.")}.get(
        exc.code or 500, gettext("Something went wrong. Try again."))


def error_page(status: int, message: str) -> Response:
    """The same problem as JSON for a script, or as a page for a person."""
    if wants_json():
        response = jsonify(code=str(status), message=message, errors={})
    else:
        response = make_response(render_template("pages/error.html", status=status, message=message))
    response.status_code = status
    return response


# --- who is signed in -------------------------------------------------------------------------------


def page_session() -> Session | None:
    """The live session of this request's cookie, or None: also when it ended (idle, signed out, disabled)
    or when the identity store cannot be read (fail closed: sign in again)."""
    if "page_session" not in g:
        session = None
        accounts = accounts_of()
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id and accounts is not None:
            try:
                session = accounts.resolve(session_id)
            except StoreUnavailable:
                session = None
        g.page_session = session
    return g.page_session


def page_principal() -> Principal | None:
    """The signed-in user of this request, or None (see :func:`page_session`)."""
    session = page_session()
    return session.principal if session else None


def service_token() -> str | None:
    """A bearer token for the signed-in user, living :data:`SERVICE_TOKEN_SECONDS`, for a page's calls to
    another service's API (which then applies its own rules to that user); None when nobody is signed in."""
    principal = page_principal()
    if principal is None:
        return None
    if "service_token" not in g:
        ttl = min(SERVICE_TOKEN_SECONDS, current_app.config["JWT_MAX_TTL_SECONDS"])
        g.service_token = issue_token(principal.role, principal.subject, principal.street,
                                      secret=current_app.config["JWT_SECRET"], ttl_seconds=ttl,
                                      max_ttl_seconds=current_app.config["JWT_MAX_TTL_SECONDS"])
    return g.service_token


def wants_json() -> bool:
    """Pages' scripts ask for JSON; browsers navigating ask for HTML."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def require_page(*roles: str) -> Callable[[F], F]:
    """Guard a page: sign-in first (back here afterwards), then the role; sets ``g.principal``.

    Service-layer code that reads :func:`shared.auth.current_principal` works unchanged inside the page.
    A session whose password must be changed goes to the password page first.
    """
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = page_session()
            if session is None:
                if wants_json() or request.method != "GET":
                    return error_page(401, gettext("Your sign-in has ended. Sign in again; drafts are kept."))
                return redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))
            if session.must_change_password:
                if wants_json() or request.method != "GET":
                    return error_page(403, gettext("Choose a new password before you go on."))
                return redirect(url_for("pages.change_password", next=request.full_path.rstrip("?")))
            principal = session.principal
            if allowed and principal.role not in allowed:
                return error_page(403, gettext("Your role may not open this page."))
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def estimated_calendar_years() -> list[int]:
    """The current or coming years whose working days are only estimated: the one source of the banner
    (``pages/_calendar_banner.html``) on the admin's and the supervisors' pages, until the notice is entered."""
    from shared.calendar import SHANGHAI, calendar_for

    return calendar_for(current_app.extensions["yangpu"]["context"].settings).estimated_years(
        datetime.now(SHANGHAI).date())


def service_url(service: str, path: str = "") -> str:
    """Where the browser finds another service's page (INTAKE_URL etc.)."""
    settings: Settings = current_app.extensions["yangpu"]["context"].settings
    return f"{settings.service_urls[service]}{path}"


# --- template helpers -------------------------------------------------------------------------------


def html_lang() -> str:
    return {"zh_Hans_CN": "zh-Hans-CN"}.get(str(get_locale()), str(get_locale()).replace("_", "-"))


def lang_switch_url(lang: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return f"{request.path}?{urllib.parse.urlencode({**args, 'lang': lang})}"


def when(value: datetime | str | None, fmt: str = "short") -> str:
    """A time in Asia/Shanghai in the user's locale; in English ISO-like ("2026-11-30 15:00"), which no
    reader takes for a US month-first date."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if fmt == "short" and str(get_locale()) == "en":
        fmt = "yyyy-MM-dd HH:mm"
    return format_datetime(value, fmt)


def iso(value: datetime | str | None) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return instant_text(value)


_PROBE_HOST = "this-host.invalid"


def _suspicious(text: str) -> bool:
    """Characters a browser drops or reinterprets in a URL (tabs, newlines, any control or format character,
    any whitespace) or turns into a slash (a backslash): a `next` holding one is refused outright."""
    return any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this host: never an open redirect, whatever a browser (or a proxy decoding it again)
    would make of it.

    Refused: anything not starting with one "/" (absolute and scheme-relative URLs), control characters and
    whitespace (browsers strip tabs and newlines, so "/\t/evil.example" is "//evil.example"), backslashes
    ("/\\evil.example"), and the same tricks percent-encoded in the path ("/%2F%2Fevil.example"). What is
    left is resolved as a browser would against this host; it must stay on it.
    """
    if not isinstance(target, str) or not target or len(target) > NEXT_MAX_LENGTH or _suspicious(target):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    decoded = path
    for _ in range(3):  # double and triple encodings too
        decoded = urllib.parse.unquote(decoded)
    if not path.startswith("/") or decoded.startswith("//") or _suspicious(decoded.replace(" ", "")):
        return None
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    resolved = urllib.parse.urlsplit(urllib.parse.urljoin(f"https://{_PROBE_HOST}/", target))
    if resolved.scheme != "https" or resolved.netloc != _PROBE_HOST or resolved.path.startswith("//"):
        return None
    return target


def home_url(principal: Principal) -> str | None:
    found = ROLE_HOME.get(principal.role)
    return service_url(*found) if found else None


# --- the shared pages -------------------------------------------------------------------------------

_shared = page_blueprint("pages", __name__, template_folder=str(PROJECT_ROOT / "shared" / "webkit" / "templates"),
                         static_folder=str(PROJECT_ROOT / "shared" / "webkit" / "static"))


@_shared.get("/")
def home() -> Any:
    session = page_session()
    if session is None:
        return redirect(url_for("pages.signin"))
    if session.must_change_password:
        return redirect(url_for("pages.change_password"))
    principal = session.principal
    target = home_url(principal)
    if target:
        return redirect(target)
    return render_template("pages/home.html", principal=principal)


def _session_cookie(response: Response, session_id: str) -> Response:
    """The session's id in an HttpOnly, SameSite=Strict cookie for the whole host (every service)."""
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Strict", secure=request.is_secure,
                        path="/", max_age=current_app.config["JWT_MAX_TTL_SECONDS"])
    return response


@_shared.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """Username and password; on success a session opens and the user goes where they were going (by the
    password page first when theirs must change). Every refusal says the same whether the account exists."""
    error, status = None, 422
    next_path = _safe_next(request.values.get("next"))
    username = request.form.get("username", "").strip()[:200]
    if request.method == "POST":
        password = request.form.get("password", "")
        accounts = accounts_of()
        if not username or not password:
            error = gettext("Enter your username and password.")
        elif accounts is None:
            error, status = gettext("Signing in is not possible right now. Try again shortly."), 503
        else:
            try:
                result = accounts.sign_in(username, password)
            except StoreUnavailable:
                error, status = gettext("Signing in is not possible right now. Try again shortly."), 503
            else:
                if result.outcome == "ok" and result.session_id:
                    if result.must_change_password:
                        target = url_for("pages.change_password", next=next_path) if next_path \
                            else url_for("pages.change_password")
                    else:
                        session = accounts.resolve(result.session_id)
                        target = next_path or (home_url(session.principal) if session else None) \
                            or url_for("pages.home")
                    return _session_cookie(redirect(target), result.session_id)
                error = (gettext("Too many wrong passwords for this account. Try again in %(minutes)d minutes, or "
                                 "ask your administrator to unlock it.", minutes=LOCK_SECONDS // 60)
                         if result.outcome == "locked" else gettext("The username or password is wrong."))
    return (render_template("pages/signin.html", error=error, next=next_path or "", username=username),
            status if error else 200)


@_shared.route("/account/password", methods=["GET", "POST"])
def change_password() -> Any:
    """Choose a new password: forced after the first sign-in and after an admin's reset. Ends the account's
    other sessions (a phone left signed in elsewhere)."""
    session = page_session()
    if session is None:
        return redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))
    next_path = _safe_next(request.values.get("next"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        current, new = request.form.get("current", ""), request.form.get("new", "")
        if new != request.form.get("again", ""):
            errors["again"] = gettext("The two new passwords differ.")
        else:
            try:
                accounts = accounts_of()
                assert accounts is not None  # page_session found a session through it
                accounts.change_password(request.cookies.get(SESSION_COOKIE, ""), current, new)
            except AccountRefused as exc:
                if "current" in exc.errors:
                    errors["current"] = gettext("The current password is wrong.") if exc.message == "wrong" else \
                        gettext("Too many wrong passwords for this account. Try again in %(minutes)d minutes, or "
                                "ask your administrator to unlock it.", minutes=LOCK_SECONDS // 60)
                elif exc.message == "same":
                    errors["new"] = gettext("The new password must differ from the current one.")
                else:
                    errors["new"] = gettext("Choose a password of at least 10 characters that is not your "
                                            "username and not a common one.")
            except StoreUnavailable:
                errors["current"] = gettext("Signing in is not possible right now. Try again shortly.")
            else:
                return redirect(next_path or home_url(session.principal) or url_for("pages.home"))
    return (render_template("pages/password.html", errors=errors, next=next_path or "",
                            forced=session.must_change_password), 422 if errors else 200)


@_shared.post("/signout")
def signout() -> Response:
    """End the session in the identity store (its cookie then opens nothing, in any service) and forget it."""
    accounts = accounts_of()
    if accounts is not None:
        try:
            accounts.end(request.cookies.get(SESSION_COOKIE))
        except (StoreUnavailable, SQLAlchemyError):
            log.warning("sign-out could not end the session: the identity store is unreachable")
    response = redirect(url_for("pages.signin"))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
    return response


@_shared.get("/pages/csrf")
@require_page()
def fresh_csrf() -> Response:
    """A new CSRF token for a page's script that has been open (offline) for a long time."""
    return jsonify(csrf_token=generate_csrf())
