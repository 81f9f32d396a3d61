import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useCallback, useId, useState } from "react";
import { useLocation, useNavigate, useParams } from "react-router";
import { AgentAnalyticsSection } from "../../analytics/components/AgentAnalyticsSection";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import type { Agent } from "../../api/types";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { StatusWord } from "../../app/components/StatusWord";
import { usePageTitle } from "../../app/components/usePageTitle";
import { NotFoundPage } from "../../app/NotFoundPage";
import type { ServerMessage } from "../../live/connection";
import { useLiveMessages, useWatchAgent } from "../../live/LiveProvider";
import { useTemplate } from "../../marketplace/hooks/useTemplates";
import { RunList } from "../../runs/components/RunList";
import { triggerText } from "../components/AgentCard";
import { ConfigForm, type Config } from "../components/ConfigForm";
import { HealthPanel } from "../components/HealthPanel";
import { MissingCredentials } from "../components/MissingCredentials";
import { RunNow } from "../components/RunNow";
import { draftOf, TriggerEditor, triggerOf } from "../components/TriggerEditor";
import { WebhookUrl } from "../components/WebhookUrl";
import { useAgent, useAgentHealth, useAgentRuns, type RunStatus } from "../hooks/useAgents";

function useAgentAction(agentId: string, onDone?: (agent: Agent) => void) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (action: "pause" | "resume" | "rotate") => {
      const path = { params: { path: { agent_id: agentId } } };
      if (action === "pause") return unwrap(api.POST("/api/v1/agents/{agent_id}/pause", path));
      if (action === "resume") return unwrap(api.POST("/api/v1/agents/{agent_id}/resume", path));
      return unwrap(api.POST("/api/v1/agents/{agent_id}/webhook/rotate", path));
    },
    onSuccess: (agent) => {
      client.setQueryData(["agents", agentId], agent);
      void client.invalidateQueries({ queryKey: ["agents"] });
      onDone?.(agent);
    },
  });
}

function Controls({ agent, onWebhook }: { agent: Agent; onWebhook: (url: string | null) => void }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const action = useAgentAction(agent.id, (updated) => updated.webhook_url && onWebhook(updated.webhook_url));
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agent.id } } })),
    onSuccess: () => {
      client.removeQueries({ queryKey: ["agents", agent.id] });
      void client.invalidateQueries({ queryKey: ["agents"] });
      navigate("/agents", { replace: true });
    },
  });
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="toolbar">
      {agent.status === "paused" ? (
        <button type="button" onClick={() => action.mutate("resume")} disabled={action.isPending}>
          Resume
        </button>
      ) : (
        <button type="button" onClick={() => action.mutate("pause")} disabled={action.isPending}>
          Pause
        </button>
      )}
      {agent.trigger.type === "webhook" ? (
        <button type="button" onClick={() => action.mutate("rotate")} disabled={action.isPending}>
          Rotate webhook URL
        </button>
      ) : null}
      {confirming ? (
        <span role="group" aria-label="Confirm deletion">
          Delete this agent and all its runs?{" "}
          <button type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
            Yes, delete {agent.name}
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </span>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      )}
      <ProblemAlert error={action.error ?? remove.error} />
    </div>
  );
}

function Settings({ agent, onWebhook }: { agent: Agent; onWebhook: (url: string) => void }) {
  const client = useQueryClient();
  const template = useTemplate(agent.template_slug);
  const [draft, setDraft] = useState(() => draftOf(agent.trigger));
  const save = useMutation({
    mutationFn: (body: { config?: Config; trigger?: Record<string, unknown> }) =>
      unwrap(api.PATCH("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agent.id } }, body })),
    onSuccess: (updated) => {
      client.setQueryData(["agents", agent.id], updated);
      void client.invalidateQueries({ queryKey: ["agents"] });
      setDraft(draftOf(updated.trigger));
      if (updated.webhook_url) onWebhook(updated.webhook_url);
    },
  });
  const error = save.error instanceof ApiError ? save.error : null;
  const triggerError = error?.fieldErrors("trigger").map((e) => e.message).join("; ") || null;
  return (
    <>
      <section aria-labelledby="trigger-title">
        <h2 id="trigger-title">Trigger</h2>
        <p>Now: {triggerText(agent.trigger)}</p>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({ trigger: triggerOf(draft) });
          }}
          // The API's message goes under the trigger, as on the deploy page, not a browser bubble.
          noValidate
        >
          <TriggerEditor draft={draft} onChange={setDraft} error={triggerError} />
          <button type="submit" disabled={save.isPending}>
            Save trigger
          </button>
        </form>
      </section>
      <section aria-labelledby="config-title">
        <h2 id="config-title">Configuration</h2>
        {template.data ? (
          <ConfigForm
            // A saved (or elsewhere changed) agent starts the form again from the server's config.
            key={agent.updated_at}
            schema={template.data.config_schema}
            initial={agent.config}
            serverErrors={error?.fieldErrors("config")}
            submitLabel="Save configuration"
            busy={save.isPending}
            onSubmit={(config) => save.mutate({ config })}
          >
            {save.isSuccess && save.variables?.config ? <p role="status">Saved.</p> : null}
          </ConfigForm>
        ) : (
          <ProblemAlert error={template.error} />
        )}
        {save.error && !error?.problem.errors?.length ? <ProblemAlert error={save.error} prefix="Not saved" /> : null}
      </section>
    </>
  );
}

export default function AgentPage() {
  const { agentId } = useParams();
  const location = useLocation();
  const client = useQueryClient();
  const filterId = useId();
  const agent = useAgent(agentId);
  const health = useAgentHealth(agentId);
  const [runStatus, setRunStatus] = useState<RunStatus | "">("");
  const runs = useAgentRuns(agentId, runStatus);
  const initialWebhook = (location.state as { webhookUrl?: string | null } | null)?.webhookUrl ?? null;
  const [webhook, setWebhook] = useState<string | null>(initialWebhook);
  usePageTitle(agent.data?.name ?? "Agent");
  useWatchAgent(agent.data?.id);
  useLiveMessages(
    useCallback(
      (message: ServerMessage) => {
        if (message.type === "run_update" && message.agent_id === agentId) {
          void client.invalidateQueries({ queryKey: ["agents", agentId, "runs"] });
          if (!message.step) {
            void client.invalidateQueries({ queryKey: ["agents", agentId, "health"] });
            void client.invalidateQueries({ queryKey: ["analytics", "agent", agentId] });
          }
        }
        if (message.type === "subscribed" && message.agent_id === agentId) {
          void client.invalidateQueries({ queryKey: ["agents", agentId, "runs"] });
        }
      },
      [client, agentId],
    ),
  );

  if (agent.error instanceof ApiError && (agent.error.status === 404 || agent.error.status === 422)) return <NotFoundPage what="agent" />;
  if (agent.error) return <ProblemAlert error={agent.error} />;
  if (!agent.data) return <p role="status">Loading...</p>;
  const a = agent.data;
  return (
    <article aria-labelledby="agent-title">
      <h1 id="agent-title">{a.name}</h1>
      <p>
        Status: <StatusWord status={a.status} reason={a.status_reason ?? (a.status === "failing" ? a.last_error : null)} /> - template{" "}
        {a.template_slug}
      </p>
      {webhook ? <WebhookUrl url={webhook} /> : null}
      <MissingCredentials kinds={a.needs_credentials ?? []} />
      <Controls agent={a} onWebhook={setWebhook} />
      <div className="grid2">
        <section aria-labelledby="health-title">
          <h2 id="health-title">Health</h2>
          {health.data ? <HealthPanel health={health.data} /> : <ProblemAlert error={health.error} />}
        </section>
        <section aria-labelledby="run-title">
          <h2 id="run-title">Run now</h2>
          <RunNow agentId={a.id} />
        </section>
      </div>
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        <div className="field inline">
          <label htmlFor={filterId}>Show runs</label>
          <select id={filterId} value={runStatus} onChange={(e) => setRunStatus(e.target.value as RunStatus | "")}>
            <option value="">all</option>
            <option value="queued">queued</option>
            <option value="running">running</option>
            <option value="succeeded">succeeded</option>
            <option value="failed">failed</option>
            <option value="cancelled">cancelled</option>
          </select>
        </div>
        <ProblemAlert error={runs.error} />
        {runs.data ? <RunList runs={runs.data.items} /> : null}
      </section>
      <AgentAnalyticsSection agent={a} />
      <Settings key={a.id} agent={a} onWebhook={setWebhook} />
    </article>
  );
}
