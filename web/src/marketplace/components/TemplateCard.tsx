import { Link } from "react-router";
import type { TemplateSummary } from "../../api/types";

export function TemplateCard({ template }: { template: TemplateSummary }) {
  return (
    <li className="card template-card">
      <h3 className="card-title">
        <Link to={`/marketplace/${template.slug}`}>{template.name}</Link>
      </h3>
      <p className="muted">
        {template.category}
        {template.featured ? " - featured" : ""} - rated {template.rating.toFixed(1)} of 5 - {template.deployments} deployed
      </p>
      <p>{template.description}</p>
      {template.integrations.length ? (
        <p className="muted">Works with: {template.integrations.join(", ")}</p>
      ) : null}
      <p className="muted">
        Runs on: {template.trigger_type}
        {template.uses_llm ? " - uses an AI model" : ""}
      </p>
    </li>
  );
}
