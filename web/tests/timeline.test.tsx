import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { RunDetail } from "../src/api/types";
import { Timeline } from "../src/runs/components/Timeline";
import { applyRunEvent, mergeSteps, timelineOf } from "../src/runs/hooks/timeline";

const outline = [
  { id: "fetch", kind: "http", name: "Fetch the page", conditional: false, repeated: false },
  { id: "judge", kind: "transform", name: "Judge it", conditional: false, repeated: false },
  { id: "alert", kind: "notify", name: "Alert", conditional: true, repeated: false },
];

function run(patch: Partial<RunDetail> = {}): RunDetail {
  return {
    id: "r1", agent_id: "a1", template_slug: "t", trigger: "manual", status: "running", input: {}, attempts: 1,
    error_kind: null, error_message: null, error_step: null, auto_healed: false, stopped_reason: null, retry_of_id: null,
    created_at: "2026-01-01T00:00:00Z", started_at: null, finished_at: null, duration_ms: null, steps: [], ...patch,
  } as RunDetail;
}

const event = (seq: number, id: string | null, status = "running", extra: Record<string, unknown> = {}) => ({
  type: "run_update", seq, timestamp: "", agent_id: "a1", run_id: "r1", status, ...(id ? { step: { id, status: "succeeded" } } : {}), ...extra,
});

describe("timeline", () => {
  it("shows finished, running and pending steps in workflow order, in words", () => {
    const detail = run({
      steps: [{ step_id: "fetch", position: 0, kind: "http", status: "succeeded", attempts: 2, output: { status: 200 }, error_kind: null, error_message: null, tokens: 12, started_at: "", finished_at: "", duration_ms: 1500 }],
    });
    render(<Timeline steps={timelineOf(detail, outline)} />);
    const items = screen.getAllByRole("listitem");
    expect(items.map((li) => li.getAttribute("data-state"))).toEqual(["succeeded", "running", "pending"]);
    expect(within(items[0]).getByText("succeeded")).toBeTruthy();
    expect(within(items[0]).getByText("1.5 s - 2 attempts - 12 tokens")).toBeTruthy();
    expect(within(items[0]).getByText(/"status": 200/)).toBeTruthy();
    expect(within(items[1]).getByText("running")).toBeTruthy();
  });

  it("shows a failed step's error kind and message", () => {
    const detail = run({
      status: "failed",
      steps: [{ step_id: "fetch", position: 0, kind: "http", status: "failed", attempts: 3, output: null, error_kind: "permanent", error_message: "401 from the API", tokens: null, started_at: "", finished_at: "", duration_ms: 20 }],
    });
    render(<Timeline steps={timelineOf(detail, outline)} />);
    expect(screen.getByText("Error (permanent): 401 from the API")).toBeTruthy();
  });

  it("applies a step event at once and a reload never duplicates it", () => {
    let detail = run();
    detail = applyRunEvent(detail, event(5, "fetch"));
    detail = applyRunEvent(detail, event(5, "fetch")); // the same event replayed
    expect(detail.steps.map((s) => s.step_id)).toEqual(["fetch"]);
    const reloaded = run({ steps: [{ ...detail.steps[0], duration_ms: 30, attempts: 1 } as RunDetail["steps"][0]] });
    const merged = mergeSteps(reloaded, applyRunEvent(detail, event(6, "judge")));
    expect(merged.steps.map((s) => s.step_id)).toEqual(["fetch", "judge"]);
    expect(merged.steps[0].duration_ms).toBe(30);
    expect(timelineOf(merged, outline).map((s) => s.state)).toEqual(["succeeded", "succeeded", "running"]);
  });

  it("finishes the run from the final event and ignores a late step event after it", () => {
    let detail = applyRunEvent(run(), event(7, null, "succeeded", { duration_ms: 80 }));
    expect(detail.status).toBe("succeeded");
    detail = applyRunEvent(detail, event(8, "alert"));
    expect(detail.status).toBe("succeeded");
    expect(detail.duration_ms).toBe(80);
  });

  it("shows the steps after a filter stop as skipped, in words, once the run is final", () => {
    const stopped = run({
      status: "succeeded",
      stopped_reason: "filter judge: nothing to alert",
      steps: [
        { step_id: "fetch", position: 0, kind: "http", status: "succeeded", attempts: 1, output: null, error_kind: null, error_message: null, tokens: null, started_at: "", finished_at: "", duration_ms: 10 },
        { step_id: "judge", position: 1, kind: "filter", status: "stopped", attempts: 1, output: null, error_kind: null, error_message: null, tokens: null, started_at: "", finished_at: "", duration_ms: 1 },
      ],
    } as Partial<RunDetail>);
    render(<Timeline steps={timelineOf(stopped, outline)} />);
    const items = screen.getAllByRole("listitem");
    expect(items.map((li) => li.getAttribute("data-state"))).toEqual(["succeeded", "stopped", "skipped"]);
    expect(within(items[2]).getByText("skipped")).toBeTruthy();
    expect(within(items[2]).queryByText("pending")).toBeNull();
  });

  it("keeps the steps of a run still going as pending", () => {
    const queued = run({ status: "queued" });
    expect(timelineOf(queued, outline).map((s) => s.state)).toEqual(["pending", "pending", "pending"]);
  });

  it("ignores events of other runs", () => {
    const detail = run();
    expect(applyRunEvent(detail, { ...event(3, "fetch"), run_id: "r2" })).toBe(detail);
  });
});
