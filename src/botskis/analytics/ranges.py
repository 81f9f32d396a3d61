"""Time ranges over rollup buckets.

Rollups are hourly and daily; a range is widened to whole hours. A total over
a range reads whole days from the daily rows and only the ragged ends from the
hourly ones, so its cost grows with the days asked, not with the runs made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from botskis.analytics.models import DURATION_BOUNDS_MS, Granularity

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Where "all time" starts.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STEP = {Granularity.HOUR: HOUR, Granularity.DAY: DAY}


def floor_to(moment: datetime, granularity: Granularity) -> datetime:
    moment = moment.astimezone(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if granularity is Granularity.HOUR else hour.replace(hour=0)


def ceil_to(moment: datetime, granularity: Granularity) -> datetime:
    floor = floor_to(moment, granularity)
    return floor if floor == moment else floor + STEP[granularity]


@dataclass(frozen=True)
class Span:
    """Hour buckets starting in [start, end): `start` and `end` are whole hours."""

    start: datetime
    end: datetime

    @classmethod
    def covering(cls, start: datetime | None, end: datetime) -> Span:
        return cls(floor_to(start or EPOCH, Granularity.HOUR), ceil_to(end, Granularity.HOUR))

    def buckets(self, table: Any) -> ColumnElement[bool]:
        """The rows that add up to the span: daily rows for its whole days,
        hourly rows for the rest."""
        hour = table.c.granularity == Granularity.HOUR.value
        day_start = ceil_to(self.start, Granularity.DAY)
        day_end = floor_to(self.end, Granularity.DAY)
        if day_start >= day_end:
            return and_(hour, table.c.bucket >= self.start, table.c.bucket < self.end)
        return or_(
            and_(hour, table.c.bucket >= self.start, table.c.bucket < day_start),
            and_(
                table.c.granularity == Granularity.DAY.value,
                table.c.bucket >= day_start,
                table.c.bucket < day_end,
            ),
            and_(hour, table.c.bucket >= day_end, table.c.bucket < self.end),
        )


def histogram_percentile(counts: list[int], fraction: float, max_ms: int) -> int | None:
    """Nearest-rank percentile from the duration histogram, interpolated
    linearly inside its bucket and never above the slowest run seen."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = DURATION_BOUNDS_MS[index - 1] if index else 0
            upper = DURATION_BOUNDS_MS[index] if index < len(DURATION_BOUNDS_MS) else max_ms
            estimate = lower + (upper - lower) * (rank - seen) / count
            return min(round(estimate), max_ms)
        seen += count
    return max_ms
