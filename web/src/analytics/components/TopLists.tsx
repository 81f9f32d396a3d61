import { Link } from "react-router";
import type { FailingAgent, TopError } from "../../api/types";
import { percent, when } from "../../app/components/format";
import { count } from "../shape";

const TREND: Record<TopError["trend"], string> = {
  new: "new: none in the range before",
  rising: "rising",
  falling: "falling",
  steady: "steady",
};

/** `search`: the query string the agents' links carry (the range, for their own charts). */
export function TopFailingAgents({ agents, search = "" }: { agents: FailingAgent[]; search?: string }) {
  if (!agents.length) return <p>No agent failed in this range.</p>;
  return (
    <ol className="cards ranked" data-testid="top-failing-agents">
      {agents.map((a) => (
        <li key={a.agent_id} className="card">
          <Link to={{ pathname: `/agents/${a.agent_id}`, search }}>{a.name}</Link>
          <span className="muted">
            {" "}
            - {count(a.failed, "failed run")} of {a.runs}, success rate {percent(a.success_rate)}
          </span>
        </li>
      ))}
    </ol>
  );
}

export function TopErrors({ errors }: { errors: TopError[] }) {
  if (!errors.length) return <p>No errors in this range.</p>;
  return (
    <ol className="cards ranked" data-testid="top-errors">
      {errors.map((e) => (
        <li key={e.fingerprint} className="card error-group">
          <p className="card-title">
            <strong>{e.error_kind ?? "error"}</strong>: {e.message || "(no message)"}
          </p>
          <dl className="facts compact">
            <dt>Occurrences</dt>
            <dd>
              {e.count} ({TREND[e.trend]}
              {e.trend === "new" ? "" : `; ${e.previous_count} in the range before`})
            </dd>
            <dt>Template and step</dt>
            <dd>
              {e.template_slug || "-"} / {e.step ?? "-"}
            </dd>
            <dt>Last seen</dt>
            <dd>{when(e.last_seen)}</dd>
          </dl>
          <p>
            {e.sample_run_id ? <Link to={`/runs/${e.sample_run_id}`}>See the latest run with this error</Link> : null}
            {e.sample_run_id ? " - " : null}
            <Link to="/errors">All error groups</Link>
          </p>
        </li>
      ))}
    </ol>
  );
}
