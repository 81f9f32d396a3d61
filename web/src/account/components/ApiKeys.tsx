import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { ApiKey, ApiKeyCreated, Scope } from "../../api/types";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { fieldErrors } from "../hooks/useFieldErrors";
import { API_KEYS_KEY, useApiKeys } from "../hooks/useApiKeys";

const SCOPES: { scope: Scope; label: string }[] = [
  { scope: "agents:read", label: "See agents and their health" },
  { scope: "agents:write", label: "Deploy, change, pause and delete agents" },
  { scope: "runs:read", label: "See runs, analytics, notifications and the live feed" },
  { scope: "runs:write", label: "Start, retry and cancel runs" },
  { scope: "credentials:read", label: "See credentials (never their secrets)" },
  { scope: "credentials:write", label: "Add, replace and delete credentials" },
];

function ShownOnce({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <div className="card" role="region" aria-labelledby="new-key-title">
      <h3 id="new-key-title">Key {created.name} created</h3>
      <p>Copy it now: it is shown only this once, and only its hash is stored.</p>
      <p>
        <code data-testid="new-api-key">{created.key}</code>
      </p>
      <button
        type="button"
        onClick={() => {
          navigator.clipboard.writeText(created.key).then(
            () => setCopied(true),
            () => setCopied(false),
          );
        }}
      >
        Copy the key
      </button>{" "}
      <button type="button" onClick={onDone}>
        Done
      </button>
      {copied === null ? null : <p role="status">{copied ? "Copied to the clipboard." : "The browser refused the clipboard: select the key and copy it by hand."}</p>}
    </div>
  );
}

function CreateKey() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<Scope>>(new Set());
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/users/me/api-keys", {
          body: {
            name: name.trim(),
            scopes: SCOPES.map((s) => s.scope).filter((s) => scopes.has(s)),
            // The end of the chosen day, in the browser's time zone.
            expires_at: expires ? new Date(`${expires}T23:59:59`).toISOString() : null,
          },
        }),
      ),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      setScopes(new Set());
      setExpires("");
      void client.invalidateQueries({ queryKey: API_KEYS_KEY });
    },
  });
  const { fields, form } = fieldErrors(create.error);
  if (created) return <ShownOnce created={created} onDone={() => setCreated(null)} />;
  return (
    <form
      aria-labelledby="new-key-form-title"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        create.mutate();
      }}
      noValidate
    >
      <h3 id="new-key-form-title">Create a key</h3>
      <Field label="Key name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} error={fields.name} />
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map(({ scope, label }) => (
          <label key={scope} className="radio">
            <input
              type="checkbox"
              value={scope}
              checked={scopes.has(scope)}
              onChange={(e) => {
                const next = new Set(scopes);
                if (e.target.checked) next.add(scope);
                else next.delete(scope);
                setScopes(next);
              }}
            />{" "}
            <code>{scope}</code> {label}
          </label>
        ))}
        {fields.scopes ? <p className="field-error">{fields.scopes}</p> : null}
      </fieldset>
      <Field label="Expires on (optional)" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} error={fields.expires_at} />
      <ProblemAlert error={form} prefix="Not created" />
      <button type="submit" disabled={create.isPending}>
        Create key
      </button>
    </form>
  );
}

function KeyItem({ apiKey }: { apiKey: ApiKey }) {
  const client = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const revoke = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/users/me/api-keys/{key_id}", { params: { path: { key_id: apiKey.id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: API_KEYS_KEY }),
  });
  return (
    <li className="card">
      <h4 className="card-title">
        {apiKey.name} <code>{apiKey.prefix}...</code>
      </h4>
      <p>
        {apiKey.scopes.map((s) => (
          <span key={s} className="tag">
            {s}
          </span>
        ))}
      </p>
      <p className="muted">
        Created {when(apiKey.created_at)} - last used {when(apiKey.last_used_at)} - {apiKey.expires_at ? `expires ${when(apiKey.expires_at)}` : "never expires"}
      </p>
      {confirming ? (
        <span role="group" aria-label={`Confirm revoking ${apiKey.name}`}>
          Revoke {apiKey.name}? Scripts using it stop working at once.{" "}
          <button type="button" className="danger" onClick={() => revoke.mutate()} disabled={revoke.isPending}>
            Yes, revoke
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </span>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Revoke {apiKey.name}
        </button>
      )}
      <ProblemAlert error={revoke.error} />
    </li>
  );
}

/** Personal API keys for scripts: `Authorization: Bearer bk_live_...`, limited to their scopes. */
export function ApiKeys() {
  const keys = useApiKeys();
  const items = keys.data ?? [];
  return (
    <section aria-labelledby="api-keys-title">
      <h2 id="api-keys-title">API keys</h2>
      <p>
        Scripts send a key as <code>Authorization: Bearer bk_live_...</code>. A key reaches only what its scopes allow and never changes the account (profile, password, two-factor, keys, billing).
      </p>
      <CreateKey />
      <ProblemAlert error={keys.error} />
      {keys.data && !items.length ? <p>No API keys yet.</p> : null}
      <ul className="cards" aria-label="Your API keys">
        {items.map((k) => (
          <KeyItem key={k.id} apiKey={k} />
        ))}
      </ul>
    </section>
  );
}
