import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { FailingAgent, TopError } from "../src/api/types";
import { FiguresTable, Totals } from "../src/analytics/components/Figures";
import { RangePicker } from "../src/analytics/components/RangePicker";
import { TopErrors, TopFailingAgents } from "../src/analytics/components/TopLists";
import { resolveWindow, type RangeChoice } from "../src/analytics/range";

const now = new Date("2026-12-02T14:30:00Z");

function Picker({ initial = { preset: "7d" } as RangeChoice, seen }: { initial?: RangeChoice; seen: RangeChoice[] }) {
  const [choice, setChoice] = useState(initial);
  const resolved = resolveWindow(choice, now);
  return (
    <RangePicker
      choice={choice}
      window={resolved.window}
      error={resolved.error}
      onChoose={(next) => {
        seen.push(next);
        setChoice(next);
      }}
      onRefresh={() => undefined}
    />
  );
}

const granularity = () => screen.getByLabelText("Group by") as HTMLSelectElement;

describe("RangePicker", () => {
  it("offers 24 hours, 7 days, 30 days and custom, and picks the granularity for the span", async () => {
    const seen: RangeChoice[] = [];
    render(<Picker seen={seen} />);
    const group = screen.getByRole("group", { name: "Range" });
    expect(within(group).getAllByRole("radio").map((r) => r.parentElement?.textContent?.trim())).toEqual([
      "Last 24 hours",
      "Last 7 days",
      "Last 30 days",
      "Custom range",
    ]);
    expect(screen.getByLabelText("Last 7 days")).toHaveProperty("checked", true);
    expect(granularity().value).toBe("day");
    await userEvent.click(screen.getByLabelText("Last 24 hours"));
    expect(granularity().value).toBe("hour");
    expect(seen.at(-1)).toEqual({ preset: "24h" });
    expect(screen.getByTestId("range-said").textContent).toMatch(/by hour/);
  });

  it("lets the user switch the granularity", async () => {
    const seen: RangeChoice[] = [];
    render(<Picker seen={seen} />);
    await userEvent.selectOptions(granularity(), "hour");
    expect(seen.at(-1)).toEqual({ preset: "7d", granularity: "hour" });
    expect(granularity().value).toBe("hour");
    // A new preset starts from its own sensible granularity again.
    await userEvent.click(screen.getByLabelText("Last 30 days"));
    expect(granularity().value).toBe("day");
  });

  it("starts a custom range from the current one and refuses a backwards one", async () => {
    const seen: RangeChoice[] = [];
    render(<Picker seen={seen} />);
    await userEvent.click(screen.getByLabelText("Custom range"));
    const from = screen.getByLabelText("From") as HTMLInputElement;
    const to = screen.getByLabelText("To") as HTMLInputElement;
    expect(new Date(from.value).toISOString()).toBe("2026-11-25T14:30:00.000Z");
    expect(new Date(to.value).toISOString()).toBe(now.toISOString());
    await userEvent.clear(from);
    await userEvent.type(from, "2026-12-03T10:00");
    await userEvent.click(screen.getByRole("button", { name: "Apply range" }));
    expect(screen.getByRole("alert").textContent).toBe("The start must be before the end.");
    expect(from.getAttribute("aria-invalid")).toBe("true");
    expect(seen.at(-1)?.from).not.toBe(new Date("2026-12-03T10:00").toISOString());
  });

  it("applies a custom range and allows hours only up to 31 days", async () => {
    const seen: RangeChoice[] = [];
    render(<Picker seen={seen} initial={{ preset: "custom", from: "2026-09-01T00:00:00.000Z", to: "2026-11-01T00:00:00.000Z" }} />);
    const hour = within(granularity()).getByRole("option", { name: /hour/ }) as HTMLOptionElement;
    expect(hour.disabled).toBe(true);
    expect(hour.textContent).toBe("hour (up to 31 days)");
    const from = screen.getByLabelText("From") as HTMLInputElement;
    await userEvent.clear(from);
    await userEvent.type(from, "2026-10-30T00:00");
    await userEvent.click(screen.getByRole("button", { name: "Apply range" }));
    expect(seen.at(-1)).toMatchObject({ preset: "custom", from: new Date("2026-10-30T00:00").toISOString(), to: "2026-11-01T00:00:00.000Z" });
    expect(granularity().value).toBe("hour");
  });
});

const totals = {
  runs: 5, succeeded: 3, failed: 1, cancelled: 1, auto_healed: 1, success_rate: 0.75, avg_duration_ms: 900,
  p50_duration_ms: 800, p95_duration_ms: 2500, p99_duration_ms: 2500, tokens: 12345, cost_usd: 0.0123,
};

describe("analytics figures", () => {
  it("writes every total as words and figures", () => {
    render(<Totals totals={totals} minutesSaved={90} />);
    expect(screen.getByTestId("total-runs").textContent).toBe("5");
    expect(screen.getByTestId("total-success-rate").textContent).toBe("75%");
    expect(screen.getByTestId("total-p95").textContent).toBe("2.5 s");
    expect(screen.getByTestId("total-tokens").textContent).toBe("12,345");
    expect(screen.getByTestId("total-cost").textContent).toBe("$0.01");
    expect(screen.getByTestId("total-time-saved").textContent).toBe("1.5 hours");
  });

  it("tabulates each bucket with row and column headers", () => {
    const series = [{ ...totals, bucket: "2026-12-01T10:00:00Z" }, { ...totals, runs: 0, succeeded: 0, failed: 0, cancelled: 0, bucket: "2026-12-01T11:00:00Z" }];
    render(<FiguresTable series={series} granularity="hour" />);
    expect(screen.getByText(/as a table \(2 hours, 1 with runs\)/)).toBeTruthy();
    const table = screen.getByRole("table", { hidden: true });
    expect(within(table).getAllByRole("columnheader", { hidden: true })[0].textContent).toBe("Bucket (UTC)");
    expect(within(table).getAllByRole("rowheader", { hidden: true }).map((h) => h.textContent)).toEqual(["2026-12-01 10:00", "2026-12-01 11:00"]);
  });

  it("links failing agents to their page and errors to a run, with the trend in words", () => {
    const agents: FailingAgent[] = [{ agent_id: "a1", name: "Notes", failed: 2, runs: 5, success_rate: 0.6 }];
    const errors: TopError[] = [
      {
        fingerprint: "f1", error_kind: "auth_error", message: "the key was refused", step: "summarize", template_slug: "meeting-notes-summarizer",
        count: 3, previous_count: 1, trend: "rising", last_seen: "2026-12-01T10:00:00Z", sample_run_id: "r9", sample_agent_id: "a1",
      },
      {
        fingerprint: "f2", error_kind: null, message: "", step: null, template_slug: "x",
        count: 1, previous_count: 0, trend: "new", last_seen: "2026-12-01T10:00:00Z", sample_run_id: null, sample_agent_id: null,
      },
    ];
    render(
      <MemoryRouter>
        <TopFailingAgents agents={agents} search="?range=24h" />
        <TopErrors errors={errors} />
      </MemoryRouter>,
    );
    // The drill-down keeps the range.
    expect(screen.getByRole("link", { name: "Notes" }).getAttribute("href")).toBe("/agents/a1?range=24h");
    expect(screen.getByText(/2 failed runs of 5, success rate 60%/)).toBeTruthy();
    expect(screen.getByText("3 (rising; 1 in the range before)")).toBeTruthy();
    expect(screen.getByText("1 (new: none in the range before)")).toBeTruthy();
    expect(screen.getByRole("link", { name: "See the latest run with this error" }).getAttribute("href")).toBe("/runs/r9");
    expect(screen.getAllByRole("link", { name: "All error groups" })).toHaveLength(2);
  });

  it("says so when nothing failed", () => {
    render(
      <MemoryRouter>
        <TopFailingAgents agents={[]} />
        <TopErrors errors={[]} />
      </MemoryRouter>,
    );
    expect(screen.getByText("No agent failed in this range.")).toBeTruthy();
    expect(screen.getByText("No errors in this range.")).toBeTruthy();
  });
});
