import { Link, useParams } from "react-router";
import { ApiError } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { NotFoundPage } from "../../app/NotFoundPage";
import { usePageTitle } from "../../app/components/usePageTitle";
import { useSession } from "../../account/session";
import { useTemplate } from "../hooks/useTemplates";

export default function TemplatePage() {
  const { slug } = useParams();
  const { user } = useSession();
  const template = useTemplate(slug);
  usePageTitle(template.data?.name ?? "Template");
  if (template.error instanceof ApiError && template.error.status === 404) return <NotFoundPage what="template" />;
  if (template.error) return <ProblemAlert error={template.error} />;
  if (!template.data) return <p role="status">Loading...</p>;
  const t = template.data;
  const deploy = `/marketplace/${t.slug}/deploy`;
  return (
    <article aria-labelledby="template-title">
      <p>
        <Link to="/marketplace">Back to the marketplace</Link>
      </p>
      <h1 id="template-title">{t.name}</h1>
      <p className="muted">
        {t.category} - rated {t.rating.toFixed(1)} of 5 - {t.deployments} deployed{t.uses_llm ? " - uses an AI model" : ""}
      </p>
      <p>{t.description}</p>
      <p>
        <Link className="button primary" to={user ? deploy : `/login?next=${encodeURIComponent(deploy)}`}>
          Deploy {t.name}
        </Link>
      </p>
      <div className="grid2">
        <section aria-labelledby="features-title">
          <h2 id="features-title">What it does</h2>
          <ul>
            {t.features.map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="needs-title">
          <h2 id="needs-title">What it needs</h2>
          <dl className="facts">
            <dt>Integrations</dt>
            <dd>{t.integrations.length ? t.integrations.join(", ") : "none"}</dd>
            <dt>Credentials</dt>
            <dd>{t.credentials.length ? t.credentials.join(", ") : "none"}</dd>
            <dt>Default trigger</dt>
            <dd>{t.trigger_type}</dd>
          </dl>
        </section>
      </div>
      <section aria-labelledby="steps-title">
        <h2 id="steps-title">Steps</h2>
        <ol className="steps">
          {t.workflow.map((step) => (
            <li key={step.id}>
              <strong>{step.name ?? step.id}</strong> <span className="tag">{step.kind}</span>
              {step.conditional ? <span className="tag">only when its condition holds</span> : null}
              {step.repeated ? <span className="tag">repeated for each item</span> : null}
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}
