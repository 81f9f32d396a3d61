import { Link } from "react-router";
import type { Agent } from "../../api/types";
import { StatusWord } from "../../app/components/StatusWord";
import { when } from "../../app/components/format";

export function triggerText(trigger: Record<string, unknown>): string {
  if (trigger.type === "webhook") return "webhook";
  if (trigger.type === "schedule" && trigger.cron) return `cron ${String(trigger.cron)} (${String(trigger.timezone ?? "UTC")})`;
  if (trigger.type === "schedule" && trigger.interval_seconds) return `every ${String(trigger.interval_seconds)} s`;
  return "manual";
}

export function AgentCard({ agent }: { agent: Agent }) {
  return (
    <li className="card agent-card">
      <h2 className="card-title">
        <Link to={`/agents/${agent.id}`}>{agent.name}</Link>
      </h2>
      <p>
        Status: <StatusWord status={agent.status} reason={agent.status === "failing" ? agent.status_reason ?? agent.last_error : agent.status_reason} />
      </p>
      <dl className="facts compact">
        <dt>Template</dt>
        <dd>{agent.template_slug}</dd>
        <dt>Trigger</dt>
        <dd>{triggerText(agent.trigger)}</dd>
        <dt>Runs</dt>
        <dd>
          {agent.total_runs} total, {agent.successful_runs} succeeded, {agent.failed_runs} failed
        </dd>
        <dt>Last run</dt>
        <dd>{when(agent.last_run_at)}</dd>
        {agent.next_run_at ? (
          <>
            <dt>Next run</dt>
            <dd>{when(agent.next_run_at)}</dd>
          </>
        ) : null}
      </dl>
      {agent.needs_credentials?.length ? <p className="notice">Needs credentials: {agent.needs_credentials.join(", ")}</p> : null}
    </li>
  );
}
