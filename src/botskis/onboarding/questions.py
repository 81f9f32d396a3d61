"""The five onboarding questions and their options. Option ids are stable; labels are for people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PAIN_POINTS_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    kind: Literal["single", "multi", "text"]
    options: tuple[Option, ...] = ()
    required: bool = True
    max_length: int | None = None

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


def _options(*pairs: tuple[str, str]) -> tuple[Option, ...]:
    return tuple(Option(id, label) for id, label in pairs)


QUESTIONS: tuple[Question, ...] = (
    Question(
        "role",
        "What is your role?",
        "single",
        _options(
            ("founder", "Founder or owner"),
            ("operations", "Operations"),
            ("sales", "Sales"),
            ("marketing", "Marketing"),
            ("support", "Customer support"),
            ("finance", "Finance"),
            ("hr", "People and hiring"),
            ("engineering", "Engineering or IT"),
            ("other", "Something else"),
        ),
    ),
    Question(
        "company_size",
        "How many people work at your company?",
        "single",
        _options(
            ("1", "Just me"),
            ("2-10", "2-10"),
            ("11-50", "11-50"),
            ("51-200", "51-200"),
            ("201-1000", "201-1,000"),
            ("1000+", "More than 1,000"),
        ),
    ),
    Question(
        "main_goals",
        "What do you most want to automate? Pick any that apply.",
        "multi",
        _options(
            ("email", "Spend less time on email"),
            ("leads", "Qualify and follow up on leads"),
            ("support", "Answer customers faster"),
            ("marketing", "Publish marketing content consistently"),
            ("finance", "Get paid and process invoices and expenses"),
            ("reporting", "Get reports and summaries without assembling them"),
            ("monitoring", "Know when a system or the stock needs attention"),
            ("hiring", "Screen job applicants"),
            ("integrations", "Connect the tools we already use"),
            ("retention", "Keep customers from churning"),
            ("communication", "Keep the team informed without the noise"),
        ),
    ),
    Question(
        "pain_points",
        "What takes up time you would rather spend elsewhere? In your own words.",
        "text",
        required=False,
        max_length=PAIN_POINTS_MAX_CHARS,
    ),
    Question(
        "tools",
        "Which tools does your team use? Pick any that apply.",
        "multi",
        _options(
            ("gmail", "Gmail"),
            ("outlook", "Outlook"),
            ("slack", "Slack"),
            ("trello", "Trello"),
            ("hubspot", "HubSpot"),
            ("shopify", "Shopify"),
            ("stripe", "Stripe"),
            ("quickbooks", "QuickBooks"),
            ("xero", "Xero"),
            ("zendesk", "Zendesk"),
            ("intercom", "Intercom"),
            ("airtable", "Airtable"),
            ("google_calendar", "Google Calendar"),
            ("zoom", "Zoom"),
            ("buffer", "Buffer"),
            ("linkedin", "LinkedIn"),
            ("greenhouse", "Greenhouse"),
            ("google_analytics", "Google Analytics"),
        ),
        required=False,
    ),
)
QUESTIONS_BY_ID = {q.id: q for q in QUESTIONS}


def answer_error(question: Question, answer: object) -> str | None:
    """Why an answer does not fit its question, or None."""
    if question.kind == "text":
        if not isinstance(answer, str):
            return "must be text"
        if question.max_length is not None and len(answer) > question.max_length:
            return f"must be at most {question.max_length} characters"
        return None
    known = ", ".join(o.id for o in question.options)
    if question.kind == "single":
        if not isinstance(answer, str) or question.option(answer) is None:
            return f"must be one of: {known}"
        return None
    if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
        return "must be a list of option ids"
    unknown = [a for a in answer if question.option(a) is None]
    if unknown:
        return f"unknown option(s) {', '.join(unknown)}; choose from: {known}"
    if len(set(answer)) != len(answer):
        return "lists an option twice"
    return None
