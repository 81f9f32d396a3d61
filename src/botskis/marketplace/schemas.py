from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel

TemplateSort = Literal["popular", "rating", "name"]


class StepOutline(BaseModel):
    id: str
    kind: str
    name: str | None
    conditional: bool
    repeated: bool


class TemplateSummary(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    category: str
    icon: str
    features: list[str]
    integrations: list[str]
    rating: float
    featured: bool
    credentials: list[str]
    trigger_type: str
    uses_llm: bool
    deployments: int


class TemplateDetail(TemplateSummary):
    config_schema: dict[str, Any]
    trigger: dict[str, Any]
    workflow: list[StepOutline]
    # An llm step runs with the config's defaults and the operator has no default
    # LLM: an agent of this template needs an `openai` credential of its owner.
    llm_credential_needed: bool = False


class Category(BaseModel):
    category: str
    templates: int
    deployments: int


class MarketplaceStats(BaseModel):
    templates: int
    categories: int
    featured: int
    integrations: int
    deployments: int
    active_deployments: int
    average_rating: float
