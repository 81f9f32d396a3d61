import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { AgentAnalytics, Overview } from "../../api/types";
import { choiceFromParams, paramsWithChoice, resolveWindow, type AnalyticsWindow, type RangeChoice } from "../range";

/**
 * The range in the page's URL, resolved against the moment it was picked (or
 * refreshed), so the query does not change on every render.
 */
export function useAnalyticsRange() {
  const [params, setParams] = useSearchParams();
  const choice = useMemo(() => choiceFromParams(params), [params]);
  const [now, setNow] = useState(() => new Date());
  const resolved = useMemo(() => resolveWindow(choice, now), [choice, now]);
  const choose = useCallback(
    (next: RangeChoice) => {
      setNow(new Date());
      setParams((current) => paramsWithChoice(current, next), { replace: true });
    },
    [setParams],
  );
  const refresh = useCallback(() => setNow(new Date()), []);
  return { choice, window: resolved.window, error: resolved.error, choose, refresh };
}

export function useOverview(window: AnalyticsWindow | null) {
  return useQuery({
    queryKey: ["analytics", "overview", window],
    queryFn: () => unwrap(api.GET("/api/v1/analytics/overview", { params: { query: window! } })) as Promise<Overview>,
    enabled: !!window,
    placeholderData: keepPreviousData,
  });
}

export function useAgentAnalytics(agentId: string, window: AnalyticsWindow | null) {
  return useQuery({
    queryKey: ["analytics", "agent", agentId, window],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/agents/{agent_id}/analytics", { params: { path: { agent_id: agentId }, query: window! } }),
      ) as Promise<AgentAnalytics>,
    enabled: !!window,
    placeholderData: keepPreviousData,
  });
}

/** The owner's estimate of the minutes one successful run of an agent saves. */
export function useMinutesSaved(agentId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (minutes: number) =>
      unwrap(
        api.PATCH("/api/v1/agents/{agent_id}", {
          params: { path: { agent_id: agentId } },
          body: { minutes_saved_per_run: minutes },
        }),
      ),
    onSuccess: (agent) => {
      client.setQueryData(["agents", agentId], agent);
      void client.invalidateQueries({ queryKey: ["agents", "list"] });
      void client.invalidateQueries({ queryKey: ["analytics"] });
    },
  });
}
