"""Reference data every service shares: Yangpu's 12 streets, demand categories and departments.

The facts live in YAML next to this module (copied from the project's domain notes) so that they are
versioned with the code and reviewable; they are loaded once, at import, into frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent

__all__ = [
    "CATEGORIES",
    "DEFAULT_DEPARTMENT",
    "DEPARTMENTS",
    "STREETS",
    "Category",
    "Department",
    "Street",
    "department_for",
]


@dataclass(frozen=True)
class Street:
    """One of the 12 streets (街道); ``local_service`` is the service it promises enterprises."""

    code: str
    name_zh: str
    name_en: str
    local_service: str


@dataclass(frozen=True)
class Category:
    """A demand category and the district department it is transferred to."""

    code: str
    name_zh: str
    department: str


@dataclass(frozen=True)
class Department:
    """A district bureau (区级业务部门) that receives transferred demands."""

    code: str
    name_zh: str
    name_en: str


def _read(name: str) -> Any:
    with (_HERE / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _load() -> tuple[dict[str, Street], dict[str, Category], dict[str, Department]]:
    """Parse both files and fail loudly at import if they disagree, rather than mid-request."""
    streets: dict[str, Street] = {}
    for row in _read("streets.yaml"):
        street = Street(
            code=str(row["code"]),
            name_zh=str(row["name_zh"]),
            name_en=str(row["name_en"]),
            local_service=str(row["local_service"]),
        )
        if street.code in streets:
            raise ValueError(f"duplicate street code {street.code!r} in streets.yaml")
        streets[street.code] = street

    data = _read("categories.yaml")
    departments: dict[str, Department] = {}
    for row in data["departments"]:
        dept = Department(code=str(row["code"]), name_zh=str(row["name_zh"]), name_en=str(row["name_en"]))
        if dept.code in departments:
            raise ValueError(f"duplicate department code {dept.code!r} in categories.yaml")
        departments[dept.code] = dept

    categories: dict[str, Category] = {}
    for row in data["categories"]:
        cat = Category(code=str(row["code"]), name_zh=str(row["name_zh"]), department=str(row["department"]))
        if cat.code in categories:
            raise ValueError(f"duplicate category code {cat.code!r} in categories.yaml")
        if cat.department not in departments:
            raise ValueError(f"category {cat.code!r} names unknown department {cat.department!r}")
        categories[cat.code] = cat
    return streets, categories, departments


STREETS: dict[str, Street]
CATEGORIES: dict[str, Category]
DEPARTMENTS: dict[str, Department]
STREETS, CATEGORIES, DEPARTMENTS = _load()

# Where a demand goes when nobody more specific owns it (the business-environment office).
DEFAULT_DEPARTMENT = "business_office"


def department_for(category_code: str) -> str:
    """The department code a category is transferred to; raises KeyError for unknown categories.

    Unknown codes are an error rather than a silent default so that typos surface in tests.
    """
    try:
        return CATEGORIES[category_code].department
    except KeyError:
        raise KeyError(f"unknown category {category_code!r}") from None
