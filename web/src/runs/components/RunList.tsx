import { Link } from "react-router";
import type { Run } from "../../api/types";
import { StatusWord } from "../../app/components/StatusWord";
import { duration, when } from "../../app/components/format";

export function RunList({ runs }: { runs: Run[] }) {
  if (!runs.length) return <p>No runs yet.</p>;
  return (
    <ul className="runs">
      {runs.map((run) => (
        <li key={run.id}>
          <Link to={`/runs/${run.id}`}>
            Run of {when(run.created_at)} ({run.trigger})
          </Link>{" "}
          <StatusWord status={run.status} /> {run.duration_ms != null ? <span className="muted">{duration(run.duration_ms)}</span> : null}
          {run.error_message ? <span className="muted"> - {run.error_kind}: {run.error_message}</span> : null}
        </li>
      ))}
    </ul>
  );
}
