import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { StatusWord } from "../../app/components/StatusWord";
import { duration, preview, when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";
import { NotFoundPage } from "../../app/NotFoundPage";
import { useTemplate } from "../../marketplace/hooks/useTemplates";
import { Timeline } from "../components/Timeline";
import { FINAL_RUN_STATES, timelineOf } from "../hooks/timeline";
import { useRunTimeline } from "../hooks/useRunTimeline";

export default function RunPage() {
  const { runId } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const run = useRunTimeline(runId);
  const template = useTemplate(run.data?.template_slug);
  usePageTitle(run.data ? `Run ${run.data.status}` : "Run");
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: runId! } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ["runs", runId] }),
  });
  const retry = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: runId! } } })),
    onSuccess: (accepted) => navigate(`/runs/${accepted.run_id}`),
  });

  if (run.error instanceof ApiError && (run.error.status === 404 || run.error.status === 422)) return <NotFoundPage what="run" />;
  if (run.error) return <ProblemAlert error={run.error} />;
  if (!run.data) return <p role="status">Loading...</p>;
  const r = run.data;
  const finished = FINAL_RUN_STATES.has(r.status);
  return (
    <article aria-labelledby="run-title">
      <p>
        <Link to={`/agents/${r.agent_id}`}>Back to the agent</Link>
      </p>
      <h1 id="run-title">Run of {template.data?.name ?? r.template_slug}</h1>
      <p aria-live="polite" data-testid="run-status">
        Status: <StatusWord status={r.status} />
        {r.auto_healed ? " (healed by a retry)" : ""}
      </p>
      <dl className="facts compact">
        <dt>Trigger</dt>
        <dd>{r.trigger}</dd>
        <dt>Created</dt>
        <dd>{when(r.created_at)}</dd>
        <dt>Duration</dt>
        <dd>{duration(r.duration_ms)}</dd>
        <dt>Attempts</dt>
        <dd>{r.attempts}</dd>
        {r.stopped_reason ? (
          <>
            <dt>Stopped early</dt>
            <dd>{r.stopped_reason}</dd>
          </>
        ) : null}
        {r.retry_of_id ? (
          <>
            <dt>Retry of</dt>
            <dd>
              <Link to={`/runs/${r.retry_of_id}`}>the earlier run</Link>
            </dd>
          </>
        ) : null}
      </dl>
      {r.error_message ? (
        <p className="alert" role="alert">
          Failed at step {r.error_step ?? "?"} ({r.error_kind}): {r.error_message}
        </p>
      ) : null}
      <div className="toolbar">
        {!finished ? (
          <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel run
          </button>
        ) : null}
        {r.status === "failed" || r.status === "cancelled" ? (
          <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
            Retry run
          </button>
        ) : null}
      </div>
      <ProblemAlert error={cancel.error ?? retry.error} />
      <h2>Steps</h2>
      <Timeline steps={timelineOf(r, template.data?.workflow)} />
      {Object.keys(r.input ?? {}).length ? (
        <details>
          <summary>Run input</summary>
          <pre>{preview(r.input, 4000)}</pre>
        </details>
      ) : null}
    </article>
  );
}
