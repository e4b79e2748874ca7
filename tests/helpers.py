"""Sample data for tests (valid demands and enterprises), and how a malformed reference file is refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.config import PROJECT_ROOT

ENTERPRISES = yaml.safe_load((PROJECT_ROOT / "deploy" / "enterprises.yaml").read_text(encoding="utf-8"))["enterprises"]


def enterprise(street: str = "wujiaochang", key: bool = False) -> dict[str, Any]:
    return next(e for e in ENTERPRISES if e["street"] == street and bool(e.get("key_enterprise")) == key)


def demand_body(
    street: str = "wujiaochang", channel: str = "grid", key: bool = False, **overrides: Any
) -> dict[str, Any]:
    """A valid POST /api/v1/demands body; ``overrides`` replace top-level fields."""
    ent = enterprise(street, key)
    body = {
        "channel": channel,
        "street": street,
        "category": "taxation",
        "complexity": "simple",
        "title": "开具发票遇到困难",
        "description": "企业反映电子发票系统无法登录，需要税务专员协助。",
        "enterprise": {"name": ent["name"], "uscc": ent["uscc"], "contact_name": "王经理",
                       "contact_phone": "13812345678"},
    }
    body.update(copy.deepcopy(overrides))
    return body


def refusal(load: Callable[[Path], object], error: type[Exception], path: Path, content: str) -> str:
    """Write ``content`` to ``path`` and load it: the message of the ``error`` raised, which names the file
    (an operator editing reference YAML must learn which file is wrong, and where)."""
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error) as err:
        load(path)
    assert str(path) in str(err.value)
    return str(err.value)
