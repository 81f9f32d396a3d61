/**
 * A run's timeline as pure data: the template's step outline, overlaid with the
 * steps the run has finished, in workflow order. Live events and HTTP reloads
 * both go through `applyRunEvent` / `mergeSteps`, which key steps by id, so the
 * same step arriving twice (a replay after reconnect, then a reload) is shown once.
 */
import type { RunDetail, RunStep, StepOutline } from "../../api/types";
import type { ServerMessage } from "../../live/connection";

export type StepState = "pending" | "running" | "succeeded" | "failed" | "skipped" | "stopped" | "cancelled";

export interface TimelineStep {
  id: string;
  name: string;
  kind: string;
  state: StepState;
  record: Partial<RunStep> | null;
}

export const FINAL_RUN_STATES = new Set(["succeeded", "failed", "cancelled"]);

/** A step event's status on top of the run: a placeholder record until the reload brings the details. */
export function applyRunEvent(run: RunDetail, message: ServerMessage): RunDetail {
  if (message.type !== "run_update" || message.run_id !== run.id) return run;
  let steps = run.steps;
  if (message.step) {
    const known = steps.find((s) => s.step_id === message.step!.id);
    if (known) {
      steps = steps.map((s) => (s.step_id === message.step!.id ? { ...s, status: message.step!.status as RunStep["status"] } : s));
    } else {
      const placeholder = { step_id: message.step.id, status: message.step.status, position: steps.length } as RunStep;
      steps = [...steps, placeholder];
    }
  }
  // A late step event never moves a finished run back to running.
  const status = FINAL_RUN_STATES.has(run.status) && !FINAL_RUN_STATES.has(message.status ?? "") ? run.status : (message.status as RunDetail["status"]) ?? run.status;
  return {
    ...run,
    status,
    steps,
    error_kind: (message.error_kind as string | undefined) ?? run.error_kind,
    error_message: (message.error_message as string | undefined) ?? run.error_message,
    duration_ms: (message.duration_ms as number | undefined) ?? run.duration_ms,
  };
}

/** A reload's steps, keeping any step only the live stream knows about yet. */
export function mergeSteps(fetched: RunDetail, cached: RunDetail | undefined): RunDetail {
  if (!cached || cached.id !== fetched.id) return fetched;
  const ids = new Set(fetched.steps.map((s) => s.step_id));
  const liveOnly = cached.steps.filter((s) => !ids.has(s.step_id));
  const status = FINAL_RUN_STATES.has(cached.status) && !FINAL_RUN_STATES.has(fetched.status) ? cached.status : fetched.status;
  return liveOnly.length || status !== fetched.status ? { ...fetched, status, steps: [...fetched.steps, ...liveOnly] } : fetched;
}

export function timelineOf(run: RunDetail, outline: StepOutline[] | undefined): TimelineStep[] {
  const records = new Map(run.steps.map((s) => [s.step_id, s]));
  const order: { id: string; name: string; kind: string }[] = (outline ?? []).map((o) => ({ id: o.id, name: o.name ?? o.id, kind: o.kind }));
  for (const step of [...run.steps].sort((a, b) => (a.position ?? 0) - (b.position ?? 0))) {
    if (!order.some((o) => o.id === step.step_id)) order.push({ id: step.step_id, name: step.step_id, kind: step.kind ?? "" });
  }
  let runningShown = false;
  return order.map(({ id, name, kind }) => {
    const record = records.get(id) ?? null;
    let state: StepState;
    if (record) state = record.status as StepState;
    else if (run.status === "running" && !runningShown) {
      state = "running";
      runningShown = true;
    } else if (run.status === "cancelled") state = "cancelled";
    // A finished run never reaches its remaining steps (a filter stopped it, or a step failed).
    else if (FINAL_RUN_STATES.has(run.status)) state = "skipped";
    else state = "pending";
    return { id, name, kind: kind || record?.kind || "", state, record };
  });
}
