"""Imports every domain's models so `Base.metadata` is complete.

Alembic's autogenerate and the test schema need the whole metadata. Each
domain's tables live in its own `models.py`, found here by that name, so this
layer names no domain above it and a new domain needs no line here.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType

import botskis
from botskis.database.base import Base


def _domain_models() -> list[ModuleType]:
    found = []
    for package in pkgutil.iter_modules(botskis.__path__):
        if not package.ispkg or package.name == "database":
            continue
        name = f"botskis.{package.name}.models"
        if importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found


DOMAIN_MODELS = _domain_models()

__all__ = ["DOMAIN_MODELS", "Base"]
