"""Public marketplace browsing: no account needed to see what can be deployed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.pagination import Page, PageDep
from botskis.marketplace import schemas, service
from botskis.marketplace.catalog import Catalog

router = APIRouter(prefix="/marketplace", tags=["marketplace"])


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


CatalogDep = Annotated[Catalog, Depends(_catalog)]
SearchText = Annotated[str, Query(min_length=1, max_length=100, pattern=r"\S")]
CategoryName = Annotated[str | None, Query(min_length=1, max_length=40)]


def _page(items: list[schemas.TemplateSummary], page: PageDep) -> Page[schemas.TemplateSummary]:
    return Page(
        items=items[page.offset : page.offset + page.limit],
        total=len(items),
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/templates", response_model=Page[schemas.TemplateSummary])
async def list_templates(
    session: SessionDep,
    catalog: CatalogDep,
    page: PageDep,
    category: CategoryName = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"\S")] = None,
    sort: schemas.TemplateSort = "popular",
) -> Page[schemas.TemplateSummary]:
    items = await service.list_templates(session, catalog, category=category, query=q, sort=sort)
    return _page(items, page)


@router.get("/templates/{id_or_slug}", response_model=schemas.TemplateDetail)
async def get_template(
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    id_or_slug: Annotated[str, Path(min_length=1, max_length=100)],
) -> schemas.TemplateDetail:
    return await service.get_template(
        session, catalog, id_or_slug, default_llm=settings.default_llm_configured
    )


@router.get("/featured", response_model=list[schemas.TemplateSummary])
async def featured(session: SessionDep, catalog: CatalogDep) -> list[schemas.TemplateSummary]:
    return await service.list_templates(session, catalog, featured=True, sort="rating")


@router.get("/popular", response_model=list[schemas.TemplateSummary])
async def popular(
    session: SessionDep,
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 6,
) -> list[schemas.TemplateSummary]:
    items = await service.list_templates(session, catalog, sort="popular")
    return items[:limit]


@router.get("/categories", response_model=list[schemas.Category])
async def categories(session: SessionDep, catalog: CatalogDep) -> list[schemas.Category]:
    return await service.categories(session, catalog)


@router.get("/search", response_model=Page[schemas.TemplateSummary])
async def search(
    session: SessionDep,
    catalog: CatalogDep,
    page: PageDep,
    q: SearchText,
    category: CategoryName = None,
    sort: schemas.TemplateSort = "popular",
) -> Page[schemas.TemplateSummary]:
    items = await service.list_templates(session, catalog, category=category, query=q, sort=sort)
    return _page(items, page)


@router.get("/stats", response_model=schemas.MarketplaceStats)
async def stats(session: SessionDep, catalog: CatalogDep) -> schemas.MarketplaceStats:
    return await service.stats(session, catalog)
