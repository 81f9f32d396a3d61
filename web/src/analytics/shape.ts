/**
 * From the analytics API's JSON to what the charts draw and what their text
 * alternatives say. Pure functions, so the figures a screen reader hears are
 * the figures the chart shows.
 */
import type { RunFigures, SeriesPoint } from "../api/types";
import { duration, percent } from "../app/components/format";
import { bucketLabel, type Granularity } from "./range";

/** Column-oriented series, x in Unix seconds, as uPlot takes them. */
export interface Columns {
  x: number[];
  succeeded: number[];
  failed: number[];
  cancelled: number[];
  /** 0-100, null where no run succeeded or failed. */
  successRate: (number | null)[];
  p50: (number | null)[];
  p95: (number | null)[];
  tokens: number[];
  cost: number[];
}

export function columns(series: SeriesPoint[]): Columns {
  return {
    x: series.map((p) => Date.parse(p.bucket) / 1000),
    succeeded: series.map((p) => p.succeeded),
    failed: series.map((p) => p.failed),
    cancelled: series.map((p) => p.cancelled),
    successRate: series.map((p) => (p.success_rate == null ? null : Math.round(p.success_rate * 1000) / 10)),
    p50: series.map((p) => p.p50_duration_ms),
    p95: series.map((p) => p.p95_duration_ms),
    tokens: series.map((p) => p.tokens),
    cost: series.map((p) => p.cost_usd),
  };
}

/**
 * Runs by status as stacked bars: each bar is drawn from zero, so the tallest
 * (all runs) goes first and succeeded last, on top. Returns the heights of
 * [succeeded, +failed, +cancelled].
 */
export function stackedRuns(c: Columns): [number[], number[], number[]] {
  const ok = c.succeeded;
  const withFailed = ok.map((v, i) => v + c.failed[i]);
  const all = withFailed.map((v, i) => v + c.cancelled[i]);
  return [ok, withFailed, all];
}

export function hasRuns(series: SeriesPoint[]): boolean {
  return series.some((p) => p.runs > 0);
}

export function usd(value: number): string {
  if (value === 0) return "$0.00";
  if (value < 0.0001) return "under $0.0001";
  return value < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export function hoursSaved(minutes: number): string {
  if (minutes < 60) return count(Math.round(minutes * 10) / 10, "minute");
  return `${(minutes / 60).toFixed(1)} hours`;
}

function peak(series: SeriesPoint[], pick: (p: SeriesPoint) => number | null): SeriesPoint | null {
  let best: SeriesPoint | null = null;
  for (const point of series) {
    const value = pick(point);
    if (value != null && (best == null || value > (pick(best) ?? -Infinity))) best = point;
  }
  return best;
}

/** One sentence per chart: the range's figures and the bucket that stands out. */
export function summaries(totals: RunFigures, series: SeriesPoint[], granularity: Granularity) {
  const label = (p: SeriesPoint) => bucketLabel(p.bucket, granularity);
  const busiest = peak(series, (p) => p.runs);
  const worst = peak(series, (p) => (p.success_rate == null ? null : 1 - p.success_rate));
  const slowest = peak(series, (p) => p.p95_duration_ms);
  const hungriest = peak(series, (p) => p.tokens);
  return {
    runs:
      `${count(totals.runs, "run")}: ${totals.succeeded} succeeded, ${totals.failed} failed, ${totals.cancelled} cancelled.` +
      (busiest && busiest.runs ? ` Busiest: ${label(busiest)} with ${count(busiest.runs, "run")}.` : ""),
    successRate:
      `Success rate ${percent(totals.success_rate)} over the range.` +
      (worst && worst.success_rate != null ? ` Lowest: ${percent(worst.success_rate)} at ${label(worst)}.` : ""),
    duration:
      `Duration p50 ${duration(totals.p50_duration_ms)}, p95 ${duration(totals.p95_duration_ms)} over the range.` +
      (slowest && slowest.p95_duration_ms != null ? ` Slowest p95: ${duration(slowest.p95_duration_ms)} at ${label(slowest)}.` : ""),
    tokens:
      `${count(totals.tokens, "token")}, ${usd(totals.cost_usd)}.` +
      (hungriest && hungriest.tokens ? ` Most: ${count(hungriest.tokens, "token")} at ${label(hungriest)}.` : ""),
  };
}

/** One row per bucket for the figures table, every value written out. */
export function tableRows(series: SeriesPoint[], granularity: Granularity): string[][] {
  return series.map((p) => [
    bucketLabel(p.bucket, granularity),
    String(p.runs),
    String(p.succeeded),
    String(p.failed),
    String(p.cancelled),
    p.success_rate == null ? "-" : percent(p.success_rate),
    duration(p.p50_duration_ms),
    duration(p.p95_duration_ms),
    String(p.tokens),
    usd(p.cost_usd),
  ]);
}

export const TABLE_HEADERS = ["Bucket (UTC)", "Runs", "Succeeded", "Failed", "Cancelled", "Success rate", "p50", "p95", "Tokens", "Cost"];

/** The CSV export of a window: the same endpoint with `format=csv`. */
export function csvHref(path: string, window: { from: string; to: string; granularity: Granularity }): string {
  const query = new URLSearchParams({ from: window.from, to: window.to, granularity: window.granularity, format: "csv" });
  return `${path}?${query.toString()}`;
}

