import { useLocation } from "react-router";
import { useAgents } from "../../agents/hooks/useAgents";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { AnalyticsView } from "../components/AnalyticsView";
import { MinutesSavedForm } from "../components/MinutesSavedForm";
import { RangePicker } from "../components/RangePicker";
import { TopFailingAgents } from "../components/TopLists";
import { useAnalyticsRange, useOverview } from "../hooks/useAnalytics";
import { csvHref, hoursSaved } from "../shape";

function MinutesSavedList() {
  const agents = useAgents({ status: "", category: "" });
  return (
    <details className="minutes-saved-list">
      <summary>Change the minutes each agent saves</summary>
      <ProblemAlert error={agents.error} />
      {agents.data?.items.length === 0 ? <p>No agents yet.</p> : null}
      {agents.data?.items.map((agent) => (
        <MinutesSavedForm key={agent.id} agentId={agent.id} agentName={agent.name} minutes={agent.minutes_saved_per_run} />
      ))}
    </details>
  );
}

export default function AnalyticsPage() {
  usePageTitle("Analytics");
  // A failing agent's link keeps the range, so its page opens on the same one.
  const { search } = useLocation();
  const range = useAnalyticsRange();
  const overview = useOverview(range.window);
  const data = overview.data;
  return (
    <section aria-labelledby="analytics-title">
      <h1 id="analytics-title">Analytics</h1>
      <p>Your agents' finished runs over a range: how many, how well, how fast, what they cost and the time they saved.</p>
      <RangePicker choice={range.choice} window={range.window} error={range.error} onChoose={range.choose} onRefresh={range.refresh} />
      <div className="analytics" aria-busy={overview.isFetching} data-testid="analytics">
        <AnalyticsView
          data={data}
          error={overview.error}
          level={2}
          csvHref={range.window ? csvHref("/api/v1/analytics/overview", range.window) : null}
        >
          {data ? (
            <>
              <h2>Top failing agents</h2>
              <TopFailingAgents agents={data.top_failing_agents} search={search} />
              <h2>Time saved</h2>
              <p data-testid="time-saved">
                About {hoursSaved(data.time_saved.minutes)} saved in this range: each successful run counts the minutes its agent is set to
                save.
              </p>
              <MinutesSavedList />
            </>
          ) : null}
        </AnalyticsView>
      </div>
    </section>
  );
}
