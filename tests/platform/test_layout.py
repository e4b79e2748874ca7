"""One layout for every service, and the layering rules of docs/architecture.md, checked on the tree.

A newcomer finds a rule, a use case, a query, an event built or an error mapped in the same file of every
service; these tests keep it so: the same file names (a service may add only the optional ones, and one
``http/<desk>_pages.py`` per desk whose pages it serves), no Flask
below ``http/``, a pure ``domain/``, a ``shared/`` that imports no service, and a document that names only
folders that exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared.config import PROJECT_ROOT, SERVICES

REQUIRED = {
    "__init__.py", "domain/__init__.py", "commands.py", "queries.py", "repository.py", "announce.py",
    "handlers.py", "timers.py", "reference.py", "metrics.py", "bootstrap.py", "model.py", "app.py", "worker.py",
    "http/__init__.py", "http/api.py", "http/schemas.py", "http/pages.py",
}
OPTIONAL = {"intake": {"http/open311.py"}, "routing": {"http/admin_api.py"}, "sla": set()}
FREE_FOLDERS = ("domain/", "migrations/", "templates/", "static/")  # any file inside these is theirs to name
DESK_PAGES = re.compile(r"http/[a-z]+_pages\.py")  # one desk's page blueprint (http/pages.py holds the first)
WEB_MODULES = ("flask", "flask_smorest", "flask_babel", "flask_wtf", "werkzeug")
IMPURE = ("sqlalchemy", "yaml", "shared.db", "shared.messaging", "shared.config", *WEB_MODULES)


def _service_files(service: str) -> set[str]:
    root = PROJECT_ROOT / f"{service}_service"
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _imports_any(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_files(service):
    files = _service_files(service)
    missing = REQUIRED - files
    assert not missing, f"{service}_service lacks {sorted(missing)}"
    extra = {f for f in files - REQUIRED - OPTIONAL[service] if not f.startswith(FREE_FOLDERS)
             and f != "README.md" and not DESK_PAGES.fullmatch(f)}
    assert not extra, f"{service}_service has files the layout does not name: {sorted(extra)}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_flask_below_http(service):
    """Only ``http/`` (and ``app.py``, which builds the web process) may know Flask."""
    root = PROJECT_ROOT / f"{service}_service"
    offenders = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("http/", "migrations/")) or rel == "app.py":
            continue
        web = _imports_any(_imports(path), WEB_MODULES)
        if web:
            offenders[rel] = sorted(web)
    assert not offenders, f"Flask below http/ in {service}_service: {offenders}"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_is_pure(service):
    """Rules in ``domain/`` read no YAML, open no session, know no web framework or bus."""
    root = PROJECT_ROOT / f"{service}_service" / "domain"
    offenders = {p.name: sorted(_imports_any(_imports(p), IMPURE)) for p in root.rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_shared_imports_no_service_and_knows_flask_only_in_webkit():
    root = PROJECT_ROOT / "shared"
    services = tuple(f"{s}_service" for s in SERVICES)
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        modules = _imports(path)
        assert not _imports_any(modules, (*services, "devstack")), f"shared/{rel} imports a service"
        if not rel.startswith("webkit/"):
            assert not _imports_any(modules, WEB_MODULES), f"shared/{rel} imports Flask outside webkit/"


def test_services_never_import_each_other():
    for service in SERVICES:
        others = tuple(f"{s}_service" for s in SERVICES if s != service)
        for path in (PROJECT_ROOT / f"{service}_service").rglob("*.py"):
            assert not _imports_any(_imports(path), others), f"{path} imports another service"


def test_the_architecture_document_names_only_folders_that_exist():
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)+)`", text))
    assert named, "docs/architecture.md names no folder"
    def exists(folder: str) -> bool:  # a path from the root, or a folder every service has (`http/`)
        return (PROJECT_ROOT / folder).is_dir() or all(
            (PROJECT_ROOT / f"{s}_service" / folder).is_dir() for s in SERVICES)

    missing = sorted(f for f in named if not exists(f))
    assert not missing, f"docs/architecture.md names folders that do not exist: {missing}"


def test_only_announce_builds_events():
    """Every outgoing event of a service is built in its ``announce.py``."""
    for service in SERVICES:
        for path in (PROJECT_ROOT / f"{service}_service").rglob("*.py"):
            if path.name == "announce.py" or "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            assert "new_event(" not in source, f"{path} builds an event outside announce.py"
