import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";

export default function ErrorsPage() {
  usePageTitle("Errors");
  const groups = useQuery({ queryKey: ["errors"], queryFn: () => unwrap(api.GET("/api/v1/monitoring/errors")) });
  const items = groups.data?.items ?? [];
  return (
    <section aria-labelledby="errors-title">
      <h1 id="errors-title">Errors</h1>
      <p>Failed runs grouped by what went wrong, most recent first.</p>
      <ProblemAlert error={groups.error} />
      {groups.isPending ? <p role="status">Loading...</p> : null}
      {groups.data ? (
        <p>
          {groups.data.total_failed_runs} failed run{groups.data.total_failed_runs === 1 ? "" : "s"} in {items.length} group
          {items.length === 1 ? "" : "s"}.
        </p>
      ) : null}
      <ul className="cards">
        {items.map((g) => (
          <li key={g.fingerprint} className="card error-group">
            <h2 className="card-title">
              {g.error_kind ?? "error"}: {g.message}
            </h2>
            <dl className="facts compact">
              <dt>Occurrences</dt>
              <dd>{g.count}</dd>
              <dt>Template</dt>
              <dd>{g.template_slug}</dd>
              <dt>Step</dt>
              <dd>{g.step ?? "-"}</dd>
              <dt>First seen</dt>
              <dd>{when(g.first_seen)}</dd>
              <dt>Last seen</dt>
              <dd>{when(g.last_seen)}</dd>
            </dl>
            {g.sample_message && g.sample_message !== g.message ? <p className="muted">For example: {g.sample_message}</p> : null}
            <p>
              <Link to={`/runs/${g.sample_run_id}`}>See a run with this error</Link> - <Link to={`/agents/${g.sample_agent_id}`}>its agent</Link>
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
