import { duration, preview } from "../../app/components/format";
import type { TimelineStep } from "../hooks/timeline";

const WORDS: Record<string, string> = {
  pending: "pending",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  skipped: "skipped",
  stopped: "stopped early",
  cancelled: "not run",
};

/** The run's steps in order, each with its status in words and what it produced. */
export function Timeline({ steps }: { steps: TimelineStep[] }) {
  return (
    <ol className="timeline" aria-label="Steps">
      {steps.map((step) => {
        const r = step.record;
        return (
          <li key={step.id} className={`step step-${step.state}`} data-step={step.id} data-state={step.state}>
            <h3 className="step-title">
              {step.name} <span className="tag">{step.kind}</span> <span className={`status status-${step.state}`}>{WORDS[step.state] ?? step.state}</span>
            </h3>
            {r && r.duration_ms != null ? (
              <p className="muted">
                {duration(r.duration_ms)} - {r.attempts ?? 1} attempt{(r.attempts ?? 1) === 1 ? "" : "s"}
                {r.tokens != null ? ` - ${r.tokens} tokens` : ""}
              </p>
            ) : null}
            {r && (r.error_kind || r.error_message) ? (
              <p className="step-error">
                Error ({r.error_kind ?? "error"}): {r.error_message}
              </p>
            ) : null}
            {r && r.output != null && r.output !== "" ? (
              <details>
                <summary>Output of {step.name}</summary>
                <pre>{preview(r.output, 2000)}</pre>
              </details>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}
