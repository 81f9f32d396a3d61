from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from botskis.agents.schemas import Agent

TemplateKey = Annotated[str, Field(min_length=1, max_length=100)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(BaseModel):
    id: str
    label: str


class Question(BaseModel):
    id: str
    text: str
    kind: Literal["single", "multi", "text"]
    required: bool
    options: list[Option]
    max_length: int | None


class Recommendation(BaseModel):
    template_id: uuid.UUID
    slug: str
    name: str
    category: str
    score: int
    reason: str


class Session(BaseModel):
    id: uuid.UUID
    questions: list[Question]
    answers: dict[str, Any]
    recommendations: list[Recommendation] | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Answer(StrictModel):
    question_id: Annotated[str, Field(min_length=1, max_length=40)]
    # Checked against the question: an option id, a list of them, or text.
    answer: str | list[Annotated[str, Field(max_length=40)]] | None


class AnswersIn(StrictModel):
    answers: Annotated[list[Answer], Field(min_length=1, max_length=10)]


class Recommendations(BaseModel):
    source: Literal["rules", "llm"]
    recommendations: list[Recommendation]


class CompleteIn(StrictModel):
    template_ids: Annotated[list[TemplateKey], Field(min_length=1, max_length=5)]
    # Config per template, keyed as in `template_ids`; templates without required
    # settings may be left out.
    configs: Annotated[dict[TemplateKey, dict[str, Any]], Field(max_length=5)] = Field(
        default_factory=dict
    )


class Completed(BaseModel):
    agents: list[Agent]
