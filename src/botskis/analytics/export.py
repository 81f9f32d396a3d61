"""CSV export of an analytics time series: one row per bucket."""

from __future__ import annotations

import csv
import io

from botskis.analytics import schemas

COLUMNS = tuple(schemas.SeriesPoint.model_fields)


def series_csv(points: list[schemas.SeriesPoint]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["bucket", *(c for c in COLUMNS if c != "bucket")])
    for point in points:
        values = point.model_dump(mode="json")
        writer.writerow(
            [
                values["bucket"],
                *("" if values[c] is None else values[c] for c in COLUMNS if c != "bucket"),
            ]
        )
    return out.getvalue()
