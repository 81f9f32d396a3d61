import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { NotFoundPage } from "../../app/NotFoundPage";
import { useCredentials } from "../../credentials/hooks/useCredentials";
import { useTemplate } from "../../marketplace/hooks/useTemplates";
import { ConfigForm, type Config } from "../components/ConfigForm";
import { MissingCredentials } from "../components/MissingCredentials";
import { draftOf, TriggerEditor, triggerOf } from "../components/TriggerEditor";

export default function DeployPage() {
  const { slug } = useParams();
  const template = useTemplate(slug);
  const credentials = useCredentials();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [draft, setDraft] = useState(() => draftOf(null));
  const [draftFor, setDraftFor] = useState<string | null>(null);
  usePageTitle(template.data ? `Deploy ${template.data.name}` : "Deploy");

  if (template.data && draftFor !== template.data.slug) {
    setDraftFor(template.data.slug);
    setDraft(draftOf(template.data.trigger));
  }

  const deploy = useMutation({
    mutationFn: (config: Config) =>
      unwrap(
        api.POST("/api/v1/agents/deploy", {
          body: { template_id: template.data!.id, name: name.trim() || null, config, trigger: triggerOf(draft) },
        }),
      ),
    onSuccess: (agent) => {
      void client.invalidateQueries({ queryKey: ["agents"] });
      navigate(`/agents/${agent.id}`, { state: { webhookUrl: agent.webhook_url ?? null, deployed: true } });
    },
  });

  if (template.error instanceof ApiError && template.error.status === 404) return <NotFoundPage what="template" />;
  if (template.error) return <ProblemAlert error={template.error} />;
  if (!template.data) return <p role="status">Loading...</p>;
  const t = template.data;
  const error = deploy.error instanceof ApiError ? deploy.error : null;
  const configErrors = error?.fieldErrors("config") ?? [];
  const triggerError = error?.fieldErrors("trigger").map((e) => e.message).join("; ") || null;
  const nameError = error?.fieldErrors("name").map((e) => e.message).join("; ") || null;
  const placed = configErrors.length || triggerError || nameError;
  const owned = new Set((credentials.data?.items ?? []).map((c) => c.kind));
  // An AI step with no operator default LLM needs the user's own openai credential.
  const needed = t.llm_credential_needed && !t.credentials.includes("openai") ? [...t.credentials, "openai"] : t.credentials;
  const missing = credentials.data ? needed.filter((kind) => !owned.has(kind)) : [];

  return (
    <section aria-labelledby="deploy-title">
      <p>
        <Link to={`/marketplace/${t.slug}`}>Back to {t.name}</Link>
      </p>
      <h1 id="deploy-title">Deploy {t.name}</h1>
      <MissingCredentials kinds={missing} />
      <Field label="Agent name" value={name} placeholder={t.name} onChange={(e) => setName(e.target.value)} error={nameError} maxLength={200} />
      <h2>Configuration</h2>
      <ConfigForm
        key={t.slug}
        schema={t.config_schema}
        serverErrors={configErrors}
        submitLabel={deploy.isPending ? "Deploying..." : "Deploy agent"}
        busy={deploy.isPending}
        onSubmit={(config) => deploy.mutate(config)}
      >
        <TriggerEditor draft={draft} onChange={setDraft} error={triggerError} />
        {deploy.error && !placed ? <ProblemAlert error={deploy.error} prefix="Not deployed" /> : null}
        {placed ? (
          <p className="alert" role="alert">
            Not deployed: the server found problems in the fields marked above.
          </p>
        ) : null}
      </ConfigForm>
    </section>
  );
}
