"""Which templates to start with: a deterministic score from the answers, which an
LLM (when one is configured) may re-rank and rephrase within the same candidates.

Points: 3 per chosen goal the template serves, 2 per pain-point keyword that
points at it, 1 per chosen tool it integrates with, 1 when it fits the role.
Ties go to the higher editorial rating, then the slug, so the same answers
always give the same answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from openai import AsyncOpenAI, OpenAIError

from botskis.config import Settings
from botskis.marketplace.catalog import Template
from botskis.onboarding.questions import QUESTIONS_BY_ID

TOP = 3
LLM_CANDIDATES = 6
LLM_TIMEOUT_SECONDS = 15.0
GOAL_POINTS, KEYWORD_POINTS, TOOL_POINTS, ROLE_POINTS = 3, 2, 1, 1

GOAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "email": ("email-response-assistant", "gmail-trello-automation", "invoice-email-processor"),
    "leads": ("lead-qualification-bot", "sales-follow-up-automation", "meeting-scheduler"),
    "support": ("customer-support-triager", "faq-responder"),
    "marketing": ("social-media-scheduler", "content-repurposer"),
    "finance": ("payment-reminder-bot", "invoice-email-processor", "expense-report-automation"),
    "reporting": ("report-generator", "meeting-notes-summarizer", "slack-digest"),
    "monitoring": ("system-health-monitor", "inventory-monitor"),
    "hiring": ("resume-screener",),
    "integrations": ("zapier-alternative", "gmail-trello-automation"),
    "retention": ("churn-predictor", "customer-support-triager"),
    "communication": ("slack-digest", "meeting-notes-summarizer"),
}

ROLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "operations": ("operations", "productivity", "ecommerce"),
    "sales": ("sales",),
    "marketing": ("marketing",),
    "support": ("support", "customer_success"),
    "finance": ("finance",),
    "hr": ("hr",),
    "engineering": ("operations", "integration"),
}

# A pain-point word (or phrase) and the templates it points at.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice-email-processor", "payment-reminder-bot"),
    "invoices": ("invoice-email-processor", "payment-reminder-bot"),
    "overdue": ("payment-reminder-bot",),
    "unpaid": ("payment-reminder-bot",),
    "late payments": ("payment-reminder-bot",),
    "chasing": ("payment-reminder-bot", "sales-follow-up-automation"),
    "ticket": ("customer-support-triager",),
    "tickets": ("customer-support-triager",),
    "complaints": ("customer-support-triager",),
    "same questions": ("faq-responder",),
    "faq": ("faq-responder",),
    "lead": ("lead-qualification-bot",),
    "leads": ("lead-qualification-bot",),
    "follow up": ("sales-follow-up-automation",),
    "follow ups": ("sales-follow-up-automation",),
    "meeting": ("meeting-notes-summarizer", "meeting-scheduler"),
    "meetings": ("meeting-notes-summarizer", "meeting-scheduler"),
    "scheduling": ("meeting-scheduler", "social-media-scheduler"),
    "calendar": ("meeting-scheduler",),
    "notes": ("meeting-notes-summarizer",),
    "email": ("email-response-assistant",),
    "emails": ("email-response-assistant",),
    "inbox": ("email-response-assistant", "gmail-trello-automation"),
    "social": ("social-media-scheduler",),
    "posts": ("social-media-scheduler", "content-repurposer"),
    "posting": ("social-media-scheduler",),
    "blog": ("content-repurposer",),
    "content": ("content-repurposer",),
    "report": ("report-generator",),
    "reports": ("report-generator",),
    "reporting": ("report-generator",),
    "expense": ("expense-report-automation",),
    "expenses": ("expense-report-automation",),
    "receipts": ("expense-report-automation",),
    "stock": ("inventory-monitor",),
    "inventory": ("inventory-monitor",),
    "downtime": ("system-health-monitor",),
    "outage": ("system-health-monitor",),
    "outages": ("system-health-monitor",),
    "uptime": ("system-health-monitor",),
    "resumes": ("resume-screener",),
    "cv": ("resume-screener",),
    "candidates": ("resume-screener",),
    "applicants": ("resume-screener",),
    "churn": ("churn-predictor",),
    "cancellations": ("churn-predictor",),
    "notifications": ("slack-digest",),
    "channels": ("slack-digest",),
    "copying": ("zapier-alternative", "gmail-trello-automation"),
    "data entry": ("zapier-alternative", "expense-report-automation"),
    "tasks": ("gmail-trello-automation",),
}


@dataclass
class Recommendation:
    template: Template
    score: int
    reasons: list[str] = field(default_factory=list)
    reason: str = ""


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rank(templates: list[Template], answers: dict[str, Any]) -> list[Recommendation]:
    """Every template, best first, each with its points and the reasons for them."""
    goals = QUESTIONS_BY_ID["main_goals"]
    tools = QUESTIONS_BY_ID["tools"]
    text = _words(str(answers.get("pain_points") or ""))
    said = [word for word in KEYWORDS if f" {word} " in text]
    chosen_tools = [o.label for t in answers.get("tools") or [] if (o := tools.option(t))]
    role_categories = ROLE_CATEGORIES.get(str(answers.get("role")), ())
    ranked = []
    for template in templates:
        rec = Recommendation(template, 0)
        goal_labels = [
            o.label.lower()
            for g in answers.get("main_goals") or []
            if template.slug in GOAL_TEMPLATES.get(g, ()) and (o := goals.option(g))
        ]
        words = [w for w in said if template.slug in KEYWORDS[w]]
        integrations = {i.lower() for i in template.integrations}
        matched_tools = [label for label in chosen_tools if label.lower() in integrations]
        rec.score = (
            GOAL_POINTS * len(goal_labels)
            + KEYWORD_POINTS * len(words)
            + TOOL_POINTS * len(matched_tools)
            + (ROLE_POINTS if template.category in role_categories else 0)
        )
        if goal_labels:
            rec.reasons.append(f"it helps you {_join(goal_labels)}")
        if words:
            rec.reasons.append("you mentioned " + _join([f'"{w}"' for w in words]))
        if matched_tools:
            rec.reasons.append(f"it works with {_join(matched_tools)}, which you use")
        if template.category in role_categories and not rec.reasons:
            rec.reasons.append(f"it is a {template.category.replace('_', ' ')} agent")
        ranked.append(rec)
    ranked.sort(key=lambda r: (-r.score, -r.template.rating, r.template.slug))
    for rec in ranked:
        if rec.reasons:
            rec.reason = f"{rec.template.name}: " + "; ".join(rec.reasons) + "."
        else:
            rec.reason = f"{rec.template.name}: a highly rated place to start."
    return ranked


def _llm_schema(slugs: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["recommendations"],
        "properties": {
            "recommendations": {
                "type": "array",
                "minItems": TOP,
                "maxItems": TOP,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["slug", "reason"],
                    "properties": {
                        "slug": {"type": "string", "enum": slugs},
                        "reason": {"type": "string"},
                    },
                },
            }
        },
    }


def _accept(reply: Any, candidates: dict[str, Recommendation]) -> list[Recommendation] | None:
    """The LLM's pick when it is exactly 3 distinct known candidates with reasons."""
    items = reply.get("recommendations") if isinstance(reply, dict) else None
    if not isinstance(items, list) or len(items) != TOP:
        return None
    picked: list[Recommendation] = []
    for item in items:
        slug = item.get("slug") if isinstance(item, dict) else None
        reason = item.get("reason") if isinstance(item, dict) else None
        if slug not in candidates or any(p.template.slug == slug for p in picked):
            return None
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            return None
        rec = candidates[slug]
        picked.append(Recommendation(rec.template, rec.score, rec.reasons, reason.strip()))
    return picked


async def rerank_with_llm(
    settings: Settings, answers: dict[str, Any], ranked: list[Recommendation]
) -> list[Recommendation] | None:
    """The LLM's top 3 among the best candidates, or None on any failure."""
    candidates = {r.template.slug: r for r in ranked[:LLM_CANDIDATES]}
    prompt = {
        "answers": answers,
        "candidates": [
            {
                "slug": r.template.slug,
                "name": r.template.name,
                "description": r.template.description,
                "score": r.score,
                "why": r.reason,
            }
            for r in candidates.values()
        ],
    }
    client = AsyncOpenAI(
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        timeout=LLM_TIMEOUT_SECONDS,
        max_retries=0,
    )
    try:
        completion = await client.chat.completions.create(
            model=settings.openai_model,
            messages=[
                {
                    "role": "system",
                    "content": (
                        "You recommend automation agents to a small business. Choose the 3 "
                        "candidates that fit the answers best, best first, and give each a "
                        "one-sentence reason addressed to the user. Use only candidate slugs."
                    ),
                },
                {"role": "user", "content": json.dumps(prompt)},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "recommendations",
                    "schema": _llm_schema(list(candidates)),
                    "strict": True,
                },
            },
        )
        content = completion.choices[0].message.content or ""
        reply = json.loads(content)
    except (OpenAIError, ValueError, IndexError, AttributeError) as exc:
        logger.bind(reason=type(exc).__name__).warning("onboarding llm failed; using rules")
        return None
    finally:
        await client.close()
    picked = _accept(reply, candidates)
    if picked is None:
        logger.warning("onboarding llm reply unusable; using rules")
    return picked
