"""Browsing the catalogue. Templates come from YAML (`catalog`); how often each
one is deployed comes from the agents table, so popularity is measured, not
written down."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.agents.models import Agent, AgentStatus
from botskis.marketplace import schemas
from botskis.marketplace.catalog import Catalog, Template
from botskis.marketplace.errors import TemplateNotFound


async def deployment_counts(session: AsyncSession, *, active_only: bool = False) -> dict[str, int]:
    query = select(Agent.template_slug, func.count()).group_by(Agent.template_slug)
    if active_only:
        query = query.where(Agent.status == AgentStatus.ACTIVE)
    rows = await session.execute(query)
    return {slug: count for slug, count in rows.tuples()}


def summarize(template: Template, deployments: int) -> schemas.TemplateSummary:
    return schemas.TemplateSummary(
        id=template.id,
        slug=template.slug,
        name=template.name,
        description=template.description,
        category=template.category,
        icon=template.icon,
        features=template.features,
        integrations=template.integrations,
        rating=template.rating,
        featured=template.featured,
        credentials=template.credentials,
        trigger_type=template.trigger_type,
        uses_llm=template.uses_llm,
        deployments=deployments,
    )


def matches(template: Template, query: str) -> bool:
    """Every word of the query appears in the name, description, features or integrations."""
    haystack = " ".join(
        [template.name, template.description, *template.features, *template.integrations]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def _sorted(
    summaries: list[schemas.TemplateSummary], sort: schemas.TemplateSort
) -> list[schemas.TemplateSummary]:
    if sort == "name":
        return sorted(summaries, key=lambda t: t.name.casefold())
    if sort == "rating":
        return sorted(summaries, key=lambda t: (-t.rating, -t.deployments, t.name.casefold()))
    return sorted(summaries, key=lambda t: (-t.deployments, -t.rating, t.name.casefold()))


async def list_templates(
    session: AsyncSession,
    catalog: Catalog,
    *,
    category: str | None = None,
    query: str | None = None,
    featured: bool | None = None,
    sort: schemas.TemplateSort = "popular",
) -> list[schemas.TemplateSummary]:
    counts = await deployment_counts(session)
    chosen = [
        summarize(template, counts.get(template.slug, 0))
        for template in catalog.all()
        if (category is None or template.category == category)
        and (query is None or matches(template, query))
        and (featured is None or template.featured == featured)
    ]
    return _sorted(chosen, sort)


def _defaults(template: Template) -> dict[str, object]:
    """The config an agent gets when the deploy form is left as it is."""
    properties = template.config_schema.get("properties", {})
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


async def get_template(
    session: AsyncSession, catalog: Catalog, id_or_slug: str, *, default_llm: bool
) -> schemas.TemplateDetail:
    """`default_llm`: the operator's LLM serves users without an `openai` credential."""
    template = catalog.get(id_or_slug)
    if template is None:
        raise TemplateNotFound(id_or_slug)
    counts = await deployment_counts(session)
    summary = summarize(template, counts.get(template.slug, 0))
    return schemas.TemplateDetail(
        **summary.model_dump(),
        config_schema=template.config_schema,
        trigger=template.trigger,
        llm_credential_needed=not default_llm and template.uses_llm_with(_defaults(template)),
        workflow=[
            schemas.StepOutline(
                id=step.id,
                kind=step.kind,
                name=step.name,
                conditional=step.when is not None,
                repeated=step.foreach is not None,
            )
            for step in template.workflow.steps
        ],
    )


async def categories(session: AsyncSession, catalog: Catalog) -> list[schemas.Category]:
    counts = await deployment_counts(session)
    result: dict[str, schemas.Category] = {}
    for template in catalog.all():
        entry = result.setdefault(
            template.category,
            schemas.Category(category=template.category, templates=0, deployments=0),
        )
        entry.templates += 1
        entry.deployments += counts.get(template.slug, 0)
    return sorted(result.values(), key=lambda c: c.category)


async def stats(session: AsyncSession, catalog: Catalog) -> schemas.MarketplaceStats:
    """Totals over the catalogue; deployments count only agents of templates that exist."""
    templates = catalog.all()
    slugs = {template.slug for template in templates}
    counts = await deployment_counts(session)
    active = await deployment_counts(session, active_only=True)
    ratings = [template.rating for template in templates]
    return schemas.MarketplaceStats(
        templates=len(templates),
        categories=len({template.category for template in templates}),
        featured=sum(1 for template in templates if template.featured),
        integrations=len({name.casefold() for t in templates for name in t.integrations}),
        deployments=sum(count for slug, count in counts.items() if slug in slugs),
        active_deployments=sum(count for slug, count in active.items() if slug in slugs),
        average_rating=round(sum(ratings) / len(ratings), 2) if ratings else 0.0,
    )
