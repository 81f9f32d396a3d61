import { describe, expect, it } from "vitest";
import {
  allowedGranularities,
  bucketLabel,
  choiceFromParams,
  DAY_MS,
  defaultGranularity,
  fromLocalInput,
  HOUR_MS,
  paramsWithChoice,
  resolveWindow,
  toLocalInput,
} from "../src/analytics/range";

const now = new Date("2026-12-02T14:30:00Z");

describe("analytics range", () => {
  it("groups by hour up to 48 hours and by day beyond", () => {
    expect(defaultGranularity(24 * HOUR_MS)).toBe("hour");
    expect(defaultGranularity(48 * HOUR_MS)).toBe("hour");
    expect(defaultGranularity(48 * HOUR_MS + 1)).toBe("day");
    expect(allowedGranularities(30 * DAY_MS)).toEqual(["hour", "day"]);
    expect(allowedGranularities(32 * DAY_MS)).toEqual(["day"]);
    expect(allowedGranularities(401 * DAY_MS)).toEqual([]);
  });

  it("resolves presets against the moment given, with the sensible granularity", () => {
    expect(resolveWindow({ preset: "24h" }, now)).toEqual({
      window: { from: "2026-12-01T14:30:00.000Z", to: "2026-12-02T14:30:00.000Z", granularity: "hour" },
      error: null,
    });
    expect(resolveWindow({ preset: "7d" }, now).window).toEqual({ from: "2026-11-25T14:30:00.000Z", to: now.toISOString(), granularity: "day" });
    expect(resolveWindow({ preset: "30d" }, now).window?.from).toBe("2026-11-02T14:30:00.000Z");
  });

  it("keeps the granularity the user switched to when the span allows it", () => {
    expect(resolveWindow({ preset: "7d", granularity: "hour" }, now).window?.granularity).toBe("hour");
    expect(resolveWindow({ preset: "24h", granularity: "day" }, now).window?.granularity).toBe("day");
    const long = { preset: "custom" as const, from: "2026-01-01T00:00:00Z", to: "2026-03-01T00:00:00Z", granularity: "hour" as const };
    expect(resolveWindow(long, now).window?.granularity).toBe("day");
  });

  it("explains a custom range that is missing, backwards or too long", () => {
    expect(resolveWindow({ preset: "custom", from: "2026-12-01T00:00:00Z" }, now).error).toMatch(/both/);
    expect(resolveWindow({ preset: "custom", from: "nonsense", to: "2026-12-01T00:00:00Z" }, now).error).toMatch(/both/);
    expect(resolveWindow({ preset: "custom", from: "2026-12-02T00:00:00Z", to: "2026-12-01T00:00:00Z" }, now).error).toMatch(/before/);
    expect(resolveWindow({ preset: "custom", from: "2024-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z" }, now).error).toMatch(/400 days/);
    const fine = resolveWindow({ preset: "custom", from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z" }, now);
    expect(fine.window).toEqual({ from: "2026-12-01T00:00:00.000Z", to: "2026-12-02T00:00:00.000Z", granularity: "hour" });
  });

  it("round-trips a choice through the URL and keeps other parameters", () => {
    const custom = { preset: "custom" as const, from: "2026-12-01T00:00:00.000Z", to: "2026-12-02T00:00:00.000Z", granularity: "day" as const };
    const params = paramsWithChoice(new URLSearchParams("tab=runs&range=7d"), custom);
    expect(params.get("tab")).toBe("runs");
    expect(choiceFromParams(params)).toEqual(custom);
    expect(choiceFromParams(paramsWithChoice(params, { preset: "24h" }))).toEqual({ preset: "24h" });
    expect(choiceFromParams(new URLSearchParams("range=bogus&granularity=minute"))).toEqual({ preset: "7d" });
  });

  it("converts between datetime-local values and UTC instants", () => {
    const iso = "2026-12-01T09:45:00.000Z";
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(fromLocalInput("")).toBeNull();
    expect(toLocalInput("not a date")).toBe("");
  });

  it("writes bucket starts in UTC", () => {
    expect(bucketLabel("2026-12-01T07:00:00Z", "hour")).toBe("2026-12-01 07:00");
    expect(bucketLabel("2026-12-01T00:00:00+00:00", "day")).toBe("2026-12-01");
  });
});
