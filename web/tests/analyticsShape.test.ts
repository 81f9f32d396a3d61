import { describe, expect, it } from "vitest";
import type { RunFigures, SeriesPoint } from "../src/api/types";
import { columns, csvHref, hasRuns, hoursSaved, stackedRuns, summaries, tableRows, usd } from "../src/analytics/shape";

const empty: RunFigures = {
  runs: 0, succeeded: 0, failed: 0, cancelled: 0, auto_healed: 0, success_rate: null, avg_duration_ms: null,
  p50_duration_ms: null, p95_duration_ms: null, p99_duration_ms: null, tokens: 0, cost_usd: 0,
};

const point = (bucket: string, figures: Partial<RunFigures>): SeriesPoint => ({ ...empty, ...figures, bucket });

const series: SeriesPoint[] = [
  point("2026-12-01T00:00:00Z", { runs: 4, succeeded: 3, failed: 1, success_rate: 0.75, p50_duration_ms: 800, p95_duration_ms: 1500, tokens: 120, cost_usd: 0.00012 }),
  point("2026-12-02T00:00:00Z", {}),
  point("2026-12-03T00:00:00Z", { runs: 6, succeeded: 2, failed: 2, cancelled: 2, success_rate: 0.5, p50_duration_ms: 2000, p95_duration_ms: 61_000, tokens: 30, cost_usd: 0.5 }),
];
const totals: RunFigures = { ...empty, runs: 10, succeeded: 5, failed: 3, cancelled: 2, success_rate: 0.625, p50_duration_ms: 900, p95_duration_ms: 30_000, tokens: 150, cost_usd: 0.50012 };

describe("analytics data shaping", () => {
  it("turns the series into uPlot columns, x in seconds, rates in percent, gaps as null", () => {
    const c = columns(series);
    expect(c.x).toEqual([Date.parse("2026-12-01T00:00:00Z") / 1000, Date.parse("2026-12-02T00:00:00Z") / 1000, Date.parse("2026-12-03T00:00:00Z") / 1000]);
    expect(c.successRate).toEqual([75, null, 50]);
    expect(c.p95).toEqual([1500, null, 61_000]);
    expect(c.tokens).toEqual([120, 0, 30]);
  });

  it("stacks runs by status so each bar's top is the running total", () => {
    const [ok, withFailed, all] = stackedRuns(columns(series));
    expect(ok).toEqual([3, 0, 2]);
    expect(withFailed).toEqual([4, 0, 4]);
    expect(all).toEqual([4, 0, 6]);
    expect(all).toEqual(series.map((p) => p.runs));
  });

  it("says each chart's figures in words, naming the bucket that stands out", () => {
    const said = summaries(totals, series, "day");
    expect(said.runs).toBe("10 runs: 5 succeeded, 3 failed, 2 cancelled. Busiest: 2026-12-03 with 6 runs.");
    expect(said.successRate).toBe("Success rate 63% over the range. Lowest: 50% at 2026-12-03.");
    expect(said.duration).toBe("Duration p50 900 ms, p95 30.0 s over the range. Slowest p95: 1 min 1 s at 2026-12-03.");
    expect(said.tokens).toBe("150 tokens, $0.50. Most: 120 tokens at 2026-12-01.");
    expect(summaries(empty, [point("2026-12-01T00:00:00Z", {})], "hour").runs).toBe("0 runs: 0 succeeded, 0 failed, 0 cancelled.");
  });

  it("writes one table row per bucket, empty buckets included", () => {
    const rows = tableRows(series, "day");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual(["2026-12-01", "4", "3", "1", "0", "75%", "800 ms", "1.5 s", "120", "$0.0001"]);
    expect(rows[1]).toEqual(["2026-12-02", "0", "0", "0", "0", "-", "-", "-", "0", "$0.00"]);
    expect(hasRuns(series)).toBe(true);
    expect(hasRuns([series[1]])).toBe(false);
  });

  it("formats money and time saved, and links the CSV export of the same window", () => {
    expect([usd(0), usd(0.0000378), usd(0.00012), usd(1.5)]).toEqual(["$0.00", "under $0.0001", "$0.0001", "$1.50"]);
    expect([hoursSaved(1), hoursSaved(45.5), hoursSaved(150)]).toEqual(["1 minute", "45.5 minutes", "2.5 hours"]);
    const href = csvHref("/api/v1/analytics/overview", { from: "2026-12-01T00:00:00.000Z", to: "2026-12-02T00:00:00.000Z", granularity: "hour" });
    const url = new URL(href, "http://x");
    expect(url.pathname).toBe("/api/v1/analytics/overview");
    expect(Object.fromEntries(url.searchParams)).toEqual({ from: "2026-12-01T00:00:00.000Z", to: "2026-12-02T00:00:00.000Z", granularity: "hour", format: "csv" });
  });
});
