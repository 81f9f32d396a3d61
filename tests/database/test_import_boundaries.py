"""Dependencies point down: the database layer knows nothing of the layers that
react to its commits (they register hooks on it instead)."""

from __future__ import annotations

import ast
from pathlib import Path

import botskis

PACKAGE = Path(botskis.__file__).parent
# Layer -> packages it must never import (hooks connect them at start instead).
FORBIDDEN = {"database": ("botskis.realtime",)}


def imported_names(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every module (and imported name) `module`'s source imports, relative
    imports resolved, so `from .. import realtime` counts like the absolute form."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append(target)
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def _is_forbidden(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f"{f}.") for f in forbidden)


def test_database_does_not_import_realtime() -> None:
    violations = []
    for path in sorted((PACKAGE / "database").rglob("*.py")):
        parts = ["botskis", *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        for name in imported_names(path.read_text(), module, is_package=is_package):
            if _is_forbidden(name, FORBIDDEN["database"]):
                violations.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert violations == []


def test_the_boundary_check_sees_absolute_and_relative_imports() -> None:
    source = (
        "from botskis.realtime.events import emit\n"
        "import botskis.realtime.bus\n"
        "from ..realtime import sink\n"
        "from .. import realtime\n"
        "from .availability import Availability\n"
    )
    names = imported_names(source, "botskis.database.probe")
    assert [n for n in names if _is_forbidden(n, FORBIDDEN["database"])] == [
        "botskis.realtime.events",
        "botskis.realtime.events.emit",
        "botskis.realtime.bus",
        "botskis.realtime",
        "botskis.realtime.sink",
        "botskis.realtime",
    ]
    assert "botskis.database.availability.Availability" in names
