/**
 * The first-login wizard: five questions, then recommendations with their
 * reasons, then the picked templates deployed in one call. Each answer is saved
 * on the server as it is given (a text answer when its field is left), so leaving
 * midway and coming back resumes where the user was; "Skip" goes straight to the agents.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import type { Agent, Question, Recommendation } from "../../api/types";
import { markOnboardingSkipped } from "../../account/hooks/afterLogin";
import { useUser } from "../../account/session";
import { ConfigForm, type Config } from "../../agents/components/ConfigForm";
import { WebhookUrl } from "../../agents/components/WebhookUrl";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { useTemplate } from "../../marketplace/hooks/useTemplates";

type Answer = string | string[] | null;

function isEmpty(answer: Answer): boolean {
  return answer === null || answer === "" || (Array.isArray(answer) && answer.length === 0);
}

function QuestionField({ question, value, onChange, onSave }: { question: Question; value: Answer; onChange: (v: Answer) => void; onSave: (v: Answer) => void }) {
  const name = `q-${question.id}`;
  if (question.kind === "text") {
    return (
      <div className="field">
        <label htmlFor={name}>
          {question.text}
          {question.required ? "" : " (optional)"}
        </label>
        <textarea id={name} rows={3} maxLength={question.max_length ?? undefined} value={(value as string) ?? ""} onChange={(e) => onChange(e.target.value)} onBlur={(e) => onSave(e.target.value)} />
      </div>
    );
  }
  const multi = question.kind === "multi";
  const chosen = new Set(Array.isArray(value) ? value : value ? [value] : []);
  return (
    <fieldset>
      <legend>
        {question.text}
        {question.required ? "" : " (optional)"}
      </legend>
      {question.options.map((option) => (
        <label key={option.id} className="radio">
          <input
            type={multi ? "checkbox" : "radio"}
            name={name}
            value={option.id}
            checked={chosen.has(option.id)}
            onChange={(e) => {
              let next: Answer = option.id;
              if (multi) {
                const picked = new Set(chosen);
                if (e.target.checked) picked.add(option.id);
                else picked.delete(option.id);
                next = [...picked];
              }
              onChange(next);
              onSave(next);
            }}
          />{" "}
          {option.label}
        </label>
      ))}
    </fieldset>
  );
}

function PickSettings({ slug, errors, onChange }: { slug: string; errors: ApiError | null; onChange: (c: Config) => void }) {
  const template = useTemplate(slug);
  const schema = template.data?.config_schema as { required?: string[] } | undefined;
  const own = errors?.fieldErrors(`configs.${slug}`) ?? [];
  if (!schema || (!schema.required?.length && !own.length)) return null;
  return (
    <div className="pick-settings">
      <p>{template.data!.name} needs a few settings:</p>
      <ConfigForm schema={template.data!.config_schema} serverErrors={own} onChange={onChange} />
    </div>
  );
}

function Recommendations({ recommendations, onDone }: { recommendations: Recommendation[]; onDone: (agents: Agent[]) => void }) {
  const client = useQueryClient();
  const [picked, setPicked] = useState<Set<string>>(() => new Set(recommendations.slice(0, 2).map((r) => r.slug)));
  const [configs, setConfigs] = useState<Record<string, Config>>({});
  const complete = useMutation({
    mutationFn: () => {
      const ids = recommendations.filter((r) => picked.has(r.slug)).map((r) => r.slug);
      const chosen = Object.fromEntries(Object.entries(configs).filter(([slug]) => picked.has(slug)));
      return unwrap(api.POST("/api/v1/onboarding/complete", { body: { template_ids: ids, configs: chosen } }));
    },
    onSuccess: (done) => {
      void client.invalidateQueries({ queryKey: ["agents"] });
      void client.invalidateQueries({ queryKey: ["onboarding"] });
      onDone(done.agents);
    },
  });
  const error = complete.error instanceof ApiError ? complete.error : null;
  return (
    <form
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        complete.mutate();
      }}
      aria-labelledby="recs-title"
    >
      <h2 id="recs-title">Recommended for you</h2>
      <p>Pick the agents to deploy now; you can change their settings later.</p>
      <ul className="cards">
        {recommendations.map((rec) => (
          <li key={rec.slug} className="card">
            <label className="radio">
              <input
                type="checkbox"
                checked={picked.has(rec.slug)}
                onChange={(e) => {
                  const next = new Set(picked);
                  if (e.target.checked) next.add(rec.slug);
                  else next.delete(rec.slug);
                  setPicked(next);
                }}
              />{" "}
              <strong>{rec.name}</strong> <span className="tag">{rec.category}</span>
            </label>
            <p>Why: {rec.reason}</p>
            {picked.has(rec.slug) ? <PickSettings slug={rec.slug} errors={error} onChange={(c) => setConfigs((all) => ({ ...all, [rec.slug]: c }))} /> : null}
          </li>
        ))}
      </ul>
      <ProblemAlert error={complete.error} prefix="Not deployed" />
      <button type="submit" className="primary" disabled={complete.isPending || picked.size === 0}>
        Deploy {picked.size} agent{picked.size === 1 ? "" : "s"}
      </button>
    </form>
  );
}

export default function OnboardingPage() {
  usePageTitle("Welcome");
  const user = useUser();
  const navigate = useNavigate();
  const client = useQueryClient();
  const session = useQuery({ queryKey: ["onboarding"], queryFn: () => unwrap(api.GET("/api/v1/onboarding")) });
  const [answers, setAnswers] = useState<Record<string, Answer> | null>(null);
  const [recs, setRecs] = useState<Recommendation[] | null>(null);
  const [editing, setEditing] = useState(false);
  const [deployed, setDeployed] = useState<Agent[] | null>(null);

  // One answer as it is given; the server merges it with the others it has.
  const save = useMutation({
    mutationFn: ({ question_id, answer }: { question_id: string; answer: Answer }) =>
      unwrap(api.POST("/api/v1/onboarding/answers", { body: { answers: [{ question_id, answer }] } })),
    onSettled: () => void client.invalidateQueries({ queryKey: ["onboarding"] }),
  });

  const submit = useMutation({
    mutationFn: async (values: Record<string, Answer>) => {
      const list = Object.entries(values)
        .filter(([, a]) => !isEmpty(a))
        .map(([question_id, answer]) => ({ question_id, answer }));
      await unwrap(api.POST("/api/v1/onboarding/answers", { body: { answers: list } }));
      return unwrap(api.POST("/api/v1/onboarding/recommendations"));
    },
    onSuccess: (result) => {
      setRecs(result.recommendations);
      setEditing(false);
      void client.invalidateQueries({ queryKey: ["onboarding"] });
    },
  });

  function skip() {
    markOnboardingSkipped(user.id);
    navigate("/agents");
  }

  if (session.error) return <ProblemAlert error={session.error} />;
  if (!session.data) return <p role="status">Loading...</p>;
  const s = session.data;
  const values = answers ?? (s.answers as Record<string, Answer>);
  const shownRecs = recs ?? s.recommendations;

  if (deployed) {
    return (
      <section aria-labelledby="welcome-title">
        <h1 id="welcome-title">Your agents are ready</h1>
        <ul className="cards">
          {deployed.map((agent) => (
            <li key={agent.id} className="card">
              <h2 className="card-title">
                <Link to={`/agents/${agent.id}`}>{agent.name}</Link>
              </h2>
              {agent.webhook_url ? <WebhookUrl url={agent.webhook_url} /> : null}
            </li>
          ))}
        </ul>
        <p>
          <Link className="button primary" to="/agents">
            Go to your agents
          </Link>
        </p>
      </section>
    );
  }

  const answerStep = !shownRecs || editing;
  return (
    <section aria-labelledby="welcome-title">
      <h1 id="welcome-title">Welcome, {user.full_name}</h1>
      <p>
        {s.completed_at ? "You finished this wizard before; you can run it again. " : ""}
        Step {answerStep ? 1 : 2} of 2: {answerStep ? "five questions about your business" : "pick your agents"}.{" "}
        <button type="button" onClick={skip}>
          Skip for now
        </button>
      </p>
      {answerStep ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit.mutate(values);
          }}
        >
          {s.questions.map((q) => (
            <QuestionField
              key={q.id}
              question={q}
              value={values[q.id] ?? null}
              onChange={(v) => setAnswers({ ...values, [q.id]: v })}
              onSave={(v) => {
                if (!isEmpty(v) && JSON.stringify(v) !== JSON.stringify(s.answers[q.id] ?? null)) save.mutate({ question_id: q.id, answer: v });
              }}
            />
          ))}
          <p className="muted" role="status">
            {save.isSuccess ? "Your answers are saved as you go: you can leave and finish later." : ""}
          </p>
          <ProblemAlert error={save.error ?? submit.error} prefix={save.error ? "Answer not saved" : undefined} />
          <button type="submit" className="primary" disabled={submit.isPending}>
            {submit.isPending ? "Finding agents..." : "See recommendations"}
          </button>
        </form>
      ) : (
        <>
          <button type="button" onClick={() => setEditing(true)}>
            Change my answers
          </button>
          <Recommendations recommendations={shownRecs!} onDone={setDeployed} />
        </>
      )}
    </section>
  );
}
