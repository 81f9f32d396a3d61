import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { RunDetail } from "../../api/types";
import type { ServerMessage } from "../../live/connection";
import { useLiveMessages, useWatchAgent } from "../../live/LiveProvider";
import { applyRunEvent, FINAL_RUN_STATES, mergeSteps } from "./timeline";

/**
 * A run kept current: its agent's events are applied to the cached run at once
 * (the step appears with its status), then the run is reloaded for the step's
 * details. When the subscription is confirmed the run is reloaded once more,
 * covering events that happened between the first load and the subscription.
 */
export function useRunTimeline(runId: string | undefined) {
  const client = useQueryClient();
  const key = ["runs", runId];
  const run = useQuery({
    queryKey: key,
    queryFn: async () => {
      const fetched = await unwrap(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId! } } }));
      return mergeSteps(fetched, client.getQueryData<RunDetail>(key));
    },
    enabled: !!runId,
  });
  const agentId = run.data?.agent_id;
  useWatchAgent(agentId);
  useLiveMessages(
    useCallback(
      (message: ServerMessage) => {
        if (message.type === "run_update" && message.run_id === runId) {
          client.setQueryData<RunDetail>(["runs", runId], (cached) => (cached ? applyRunEvent(cached, message) : cached));
          void client.invalidateQueries({ queryKey: ["runs", runId], exact: true });
        } else if (message.type === "subscribed" && message.agent_id === agentId) {
          const cached = client.getQueryData<RunDetail>(["runs", runId]);
          if (!cached || !FINAL_RUN_STATES.has(cached.status)) void client.invalidateQueries({ queryKey: ["runs", runId], exact: true });
        }
      },
      [client, runId, agentId],
    ),
  );
  return run;
}
