"""Limit/offset pagination shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


async def fetch_page(
    session: AsyncSession,
    query: Select[RowT],
    order_by: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    page: PageParams,
    *,
    count_cap: int | None = None,
) -> tuple[list[RowT], int]:
    """A page of `query`'s rows in `order_by` order, and how many rows there are
    (at most `count_cap` when given). One row more than the page is fetched: when
    it is not there, the total is known and the count query is skipped, which
    is the common case for an account's agents, credentials and notifications.
    `query` is a plain filtered SELECT (no DISTINCT or GROUP BY), unordered."""
    rows = list(
        await session.scalars(query.order_by(*order_by).limit(page.limit + 1).offset(page.offset))
    )
    if len(rows) <= page.limit and (rows or page.offset == 0):
        total = page.offset + len(rows)
        return rows, total if count_cap is None else min(total, count_cap)
    counted: Select[Any] = query.with_only_columns(literal_column("1"), maintain_column_froms=True)
    if count_cap is not None:
        counted = counted.limit(count_cap)
    total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    return rows[: page.limit], total
