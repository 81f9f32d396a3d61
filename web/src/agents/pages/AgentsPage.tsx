import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { useCategories } from "../../marketplace/hooks/useTemplates";
import { useWatchAgents } from "../../live/LiveProvider";
import { AgentCard } from "../components/AgentCard";
import { useAgents, type AgentStatus } from "../hooks/useAgents";

export default function AgentsPage() {
  usePageTitle("Agents");
  const ids = { status: useId(), category: useId() };
  const [params, setParams] = useSearchParams();
  const filters = { status: (params.get("status") ?? "") as AgentStatus | "", category: params.get("category") ?? "" };
  const agents = useAgents(filters);
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const items = agents.data?.items ?? [];
  useWatchAgents(items.map((a) => a.id));
  const categories = (useCategories().data ?? []).map((c) => c.category);
  return (
    <section aria-labelledby="agents-title">
      <h1 id="agents-title">Your agents</h1>
      <div className="toolbar">
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={filters.status} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any status</option>
            <option value="active">active</option>
            <option value="paused">paused</option>
            <option value="failing">failing</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.category}>Category</label>
          <select id={ids.category} value={filters.category} onChange={(e) => set("category", e.target.value)}>
            <option value="">Any category</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <Link className="button primary" to="/marketplace">
          Deploy a new agent
        </Link>
      </div>
      <ProblemAlert error={agents.error} />
      {agents.isPending ? <p role="status">Loading...</p> : null}
      {agents.data && items.length === 0 ? (
        <p>
          No agents {filters.status || filters.category ? "match these filters" : "yet"}. <Link to="/marketplace">Pick one in the marketplace</Link>.
        </p>
      ) : null}
      <ul className="cards grid">
        {items.map((agent) => (
          <AgentCard key={agent.id} agent={agent} />
        ))}
      </ul>
    </section>
  );
}
