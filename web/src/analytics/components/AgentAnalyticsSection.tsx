import type { Agent } from "../../api/types";
import { useAgentAnalytics, useAnalyticsRange } from "../hooks/useAnalytics";
import { csvHref, hoursSaved } from "../shape";
import { AnalyticsView } from "./AnalyticsView";
import { MinutesSavedForm } from "./MinutesSavedForm";
import { RangePicker } from "./RangePicker";

/** An agent's own analytics: the same range picker, figures and charts as the Analytics page. */
export function AgentAnalyticsSection({ agent }: { agent: Agent }) {
  const range = useAnalyticsRange();
  const analytics = useAgentAnalytics(agent.id, range.window);
  const data = analytics.data;
  return (
    <section aria-labelledby="agent-analytics-title">
      <h2 id="agent-analytics-title">Analytics</h2>
      <RangePicker choice={range.choice} window={range.window} error={range.error} onChoose={range.choose} onRefresh={range.refresh} />
      <div className="analytics" aria-busy={analytics.isFetching} data-testid="analytics">
        <AnalyticsView
          data={data}
          error={analytics.error}
          level={3}
          csvHref={range.window ? csvHref(`/api/v1/agents/${agent.id}/analytics`, range.window) : null}
        >
          {data ? (
            <>
              <h3>Time saved</h3>
              <p data-testid="time-saved">
                About {hoursSaved(data.time_saved.minutes)} saved in this range: {data.totals.succeeded} successful run
                {data.totals.succeeded === 1 ? "" : "s"} at {data.minutes_saved_per_run} minutes each.
              </p>
              <MinutesSavedForm agentId={agent.id} agentName={agent.name} minutes={agent.minutes_saved_per_run} />
            </>
          ) : null}
        </AnalyticsView>
      </div>
    </section>
  );
}
