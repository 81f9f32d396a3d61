import type { AgentHealth } from "../../api/types";
import { duration, percent, when } from "../../app/components/format";

export function HealthPanel({ health }: { health: AgentHealth }) {
  return (
    <dl className="facts health">
      <dt>Success rate (7 days)</dt>
      <dd>{percent(health.success_rate)}</dd>
      <dt>Runs in 24 hours</dt>
      <dd>{health.runs_24h}</dd>
      <dt>Runs in 7 days</dt>
      <dd>
        {health.runs_7d} ({health.succeeded_7d} succeeded, {health.failed_7d} failed)
      </dd>
      <dt>Duration p50 / p95</dt>
      <dd>
        {duration(health.p50_duration_ms)} / {duration(health.p95_duration_ms)}
      </dd>
      <dt>Failures in a row</dt>
      <dd>{health.consecutive_failures}</dd>
      <dt>Next run</dt>
      <dd>{health.next_run_at ? when(health.next_run_at) : "not scheduled"}</dd>
      {health.next_probe_at ? (
        <>
          <dt>Next probe</dt>
          <dd>{when(health.next_probe_at)}</dd>
        </>
      ) : null}
      {health.last_error ? (
        <>
          <dt>Last error</dt>
          <dd>{health.last_error}</dd>
        </>
      ) : null}
    </dl>
  );
}
