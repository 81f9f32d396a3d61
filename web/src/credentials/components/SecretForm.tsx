/**
 * A credential kind's secret fields as a JSON-Schema form (the same renderer as
 * agent configs): the kind's required fields are required, secrets are masked.
 */
import Form from "@rjsf/core";
import type { RJSFSchema, UiSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState, type ReactNode } from "react";
import type { CredentialKind } from "../../api/types";
import { humanize } from "../../agents/components/ConfigForm";

const SECRET = /key|token|password|secret|value/i;

function schemaOf(kind: CredentialKind): { schema: RJSFSchema; uiSchema: UiSchema } {
  const fields = [...kind.required, ...kind.optional];
  const schema: RJSFSchema = {
    type: "object",
    required: kind.required,
    properties: Object.fromEntries(fields.map((f) => [f, { type: "string", title: humanize(f), maxLength: 4096 }])),
  };
  const uiSchema: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  for (const f of fields) if (SECRET.test(f) && f !== "header_name") uiSchema[f] = { "ui:widget": "password" };
  return { schema, uiSchema };
}

export function SecretForm({
  kind,
  submitLabel,
  busy,
  onSubmit,
  children,
}: {
  kind: CredentialKind;
  submitLabel: string;
  busy?: boolean;
  onSubmit: (secret: Record<string, string>) => void;
  children?: ReactNode;
}) {
  const { schema, uiSchema } = useMemo(() => schemaOf(kind), [kind]);
  const [data, setData] = useState<Record<string, string>>({});
  return (
    <Form
      schema={schema}
      uiSchema={uiSchema}
      validator={validator}
      formData={data}
      onChange={(e) => setData(e.formData as Record<string, string>)}
      onSubmit={(e) => {
        const secret = Object.fromEntries(Object.entries(e.formData as Record<string, string>).filter(([, v]) => v !== undefined && v !== ""));
        onSubmit(secret);
      }}
      showErrorList={false}
      noHtml5Validate
      className="schema-form"
    >
      {children}
      <button type="submit" className="primary" disabled={busy}>
        {submitLabel}
      </button>
    </Form>
  );
}
