/**
 * An agent's configuration as a form generated from its template's JSON Schema
 * (rjsf): defaults filled, enums as selects, arrays and nested objects
 * editable, formats checked in the browser. The API checks again, and its 422
 * errors are placed on the fields they name.
 */
import Form from "@rjsf/core";
import type { RJSFSchema, UiSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState, type ReactNode } from "react";
import type { FieldError } from "../../api/problem";
import { toErrorSchema } from "./configErrors";

export type Config = Record<string, unknown>;

interface ConfigFormProps {
  schema: Record<string, unknown>;
  initial?: Config;
  /** Field errors from the API, with paths relative to the config. */
  serverErrors?: FieldError[];
  /** Without a label the form has no submit button of its own (it is part of a larger form). */
  submitLabel?: string;
  busy?: boolean;
  onSubmit?: (config: Config) => void;
  onChange?: (config: Config) => void;
  children?: ReactNode;
}

/** `max_latency_ms` reads as "Max latency ms". */
export function humanize(key: string): string {
  const words = key.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function uiSchemaFor(schema: Record<string, unknown>): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, property] of Object.entries(properties)) {
    const field: UiSchema = {};
    if (!property.title) field["ui:title"] = humanize(key);
    if (property.type === "string" && typeof property.maxLength === "number" && property.maxLength > 300) {
      field["ui:widget"] = "textarea";
    }
    ui[key] = field;
  }
  return ui;
}

export function ConfigForm({ schema, initial, serverErrors, submitLabel, busy, onSubmit, onChange, children }: ConfigFormProps) {
  const [formData, setFormData] = useState<Config>(initial ?? {});
  const uiSchema = useMemo(() => uiSchemaFor(schema), [schema]);
  const extraErrors = useMemo(() => (serverErrors?.length ? toErrorSchema(serverErrors) : undefined), [serverErrors]);
  const unplaced = (serverErrors ?? []).filter((e) => !e.field);
  return (
    <Form
      schema={schema as RJSFSchema}
      uiSchema={uiSchema}
      validator={validator}
      formData={formData}
      onChange={(event) => {
        setFormData(event.formData as Config);
        onChange?.(event.formData as Config);
      }}
      onSubmit={(event) => onSubmit?.(event.formData as Config)}
      extraErrors={extraErrors}
      showErrorList="top"
      noHtml5Validate
      focusOnFirstError
      className="schema-form"
    >
      {unplaced.map((e) => (
        <p key={e.message} className="field-error" role="alert">
          {e.message}
        </p>
      ))}
      {children}
      {submitLabel ? (
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
      ) : (
        <></>
      )}
    </Form>
  );
}
