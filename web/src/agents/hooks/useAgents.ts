import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

export type AgentStatus = "active" | "paused" | "failing";

export function useAgents(filters: { status: AgentStatus | ""; category: string }) {
  return useQuery({
    queryKey: ["agents", "list", filters],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/agents", {
          params: { query: { status: filters.status || undefined, category: filters.category || undefined, limit: 100 } },
        }),
      ),
  });
}

export function useAgent(agentId: string | undefined) {
  return useQuery({
    queryKey: ["agents", agentId],
    queryFn: () => unwrap(api.GET("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agentId! } } })),
    enabled: !!agentId,
  });
}

export function useAgentHealth(agentId: string | undefined) {
  return useQuery({
    queryKey: ["agents", agentId, "health"],
    queryFn: () => unwrap(api.GET("/api/v1/agents/{agent_id}/health", { params: { path: { agent_id: agentId! } } })),
    enabled: !!agentId,
  });
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export function useAgentRuns(agentId: string | undefined, status: RunStatus | "") {
  return useQuery({
    queryKey: ["agents", agentId, "runs", status],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/agents/{agent_id}/runs", {
          params: { path: { agent_id: agentId! }, query: { status: status || undefined, limit: 50 } },
        }),
      ),
    enabled: !!agentId,
  });
}
