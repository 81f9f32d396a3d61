/**
 * The time range an analytics view asks for. A choice (a preset or a custom
 * from-to, and an optional granularity) lives in the page's URL; it resolves
 * to a window against a fixed "now", so the query stays the same until the
 * user picks another range or refreshes.
 */

export type Preset = "24h" | "7d" | "30d" | "custom";
export type Granularity = "hour" | "day";

export interface RangeChoice {
  preset: Preset;
  /** ISO 8601; only for "custom". */
  from?: string;
  to?: string;
  /** Omitted: the sensible one for the span (see `defaultGranularity`). */
  granularity?: Granularity;
}

export interface AnalyticsWindow {
  from: string;
  to: string;
  granularity: Granularity;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const PRESETS: { value: Preset; label: string }[] = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "custom", label: "Custom range" },
];

const PRESET_MS: Record<Exclude<Preset, "custom">, number> = { "24h": DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS };

/** The longest span the API serves at each granularity (analytics/service.py MAX_SPAN). */
export const MAX_SPAN_MS: Record<Granularity, number> = { hour: 31 * DAY_MS, day: 400 * DAY_MS };

export const DEFAULT_CHOICE: RangeChoice = { preset: "7d" };

/** Hours for up to 48 hours, days beyond. */
export function defaultGranularity(spanMs: number): Granularity {
  return spanMs <= 48 * HOUR_MS ? "hour" : "day";
}

export function allowedGranularities(spanMs: number): Granularity[] {
  return (["hour", "day"] as const).filter((g) => spanMs <= MAX_SPAN_MS[g]);
}

export type Resolved = { window: AnalyticsWindow; error: null } | { window: null; error: string };

function parseTime(value: string | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** The window a choice means at `now`, or why it means none. */
export function resolveWindow(choice: RangeChoice, now: Date): Resolved {
  let from: number;
  let to: number;
  if (choice.preset === "custom") {
    const start = parseTime(choice.from);
    const end = parseTime(choice.to);
    if (start == null || end == null) return { window: null, error: "Enter both a start and an end." };
    if (start >= end) return { window: null, error: "The start must be before the end." };
    if (end - start > MAX_SPAN_MS.day) return { window: null, error: "A range spans at most 400 days." };
    [from, to] = [start, end];
  } else {
    to = now.getTime();
    from = to - PRESET_MS[choice.preset];
  }
  const span = to - from;
  const allowed = allowedGranularities(span);
  const granularity =
    choice.granularity && allowed.includes(choice.granularity)
      ? choice.granularity
      : allowed.includes(defaultGranularity(span))
        ? defaultGranularity(span)
        : "day";
  return { window: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), granularity }, error: null };
}

const PRESET_VALUES = new Set<string>(PRESETS.map((p) => p.value));

/** The choice a URL's search parameters hold; anything unreadable falls back to the default. */
export function choiceFromParams(params: URLSearchParams): RangeChoice {
  const preset = params.get("range") ?? "";
  const granularity = params.get("granularity");
  const choice: RangeChoice = { preset: PRESET_VALUES.has(preset) ? (preset as Preset) : DEFAULT_CHOICE.preset };
  if (granularity === "hour" || granularity === "day") choice.granularity = granularity;
  if (choice.preset === "custom") {
    choice.from = params.get("from") ?? undefined;
    choice.to = params.get("to") ?? undefined;
  }
  return choice;
}

/** `params` with the choice written into it (other parameters kept). */
export function paramsWithChoice(params: URLSearchParams, choice: RangeChoice): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const key of ["range", "from", "to", "granularity"]) next.delete(key);
  next.set("range", choice.preset);
  if (choice.preset === "custom") {
    if (choice.from) next.set("from", choice.from);
    if (choice.to) next.set("to", choice.to);
  }
  if (choice.granularity) next.set("granularity", choice.granularity);
  return next;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** An instant as a `datetime-local` input's value, in the browser's time zone. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (the browser's time zone) as ISO 8601 in UTC, or null. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A bucket's start, written in UTC (the rollups' buckets are UTC hours and days). */
export function bucketLabel(iso: string, granularity: Granularity): string {
  const d = new Date(iso);
  const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return granularity === "day" ? day : `${day} ${pad(d.getUTCHours())}:00`;
}
