import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { Credential, CredentialKind } from "../../api/types";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";
import { fieldErrors } from "../../account/hooks/useFieldErrors";
import { SecretForm } from "../components/SecretForm";
import { CREDENTIALS_KEY, useCredentialKinds, useCredentials } from "../hooks/useCredentials";

function useRefresh() {
  const client = useQueryClient();
  return () => {
    void client.invalidateQueries({ queryKey: CREDENTIALS_KEY });
    void client.invalidateQueries({ queryKey: ["agents"] });
  };
}

function AddCredential({ kinds, initialKind }: { kinds: CredentialKind[]; initialKind: string }) {
  const id = useId();
  const refresh = useRefresh();
  const [kindName, setKindName] = useState(kinds.some((k) => k.name === initialKind) ? initialKind : kinds[0]?.name ?? "");
  const [name, setName] = useState("");
  const [added, setAdded] = useState(0);
  const kind = kinds.find((k) => k.name === kindName);
  const create = useMutation({
    mutationFn: (secret: Record<string, string>) =>
      unwrap(api.POST("/api/v1/credentials", { body: { kind: kindName, name: name.trim() || kindName, secret } })),
    onSuccess: () => {
      setName("");
      setAdded((n) => n + 1);
      refresh();
    },
  });
  const { fields, form } = fieldErrors(create.error);
  return (
    <section aria-labelledby="add-title" className="card">
      <h2 id="add-title">Add a credential</h2>
      <div className="field">
        <label htmlFor={id}>Kind</label>
        <select id={id} value={kindName} onChange={(e) => setKindName(e.target.value)}>
          {kinds.map((k) => (
            <option key={k.name} value={k.name}>
              {k.name} - {k.description}
            </option>
          ))}
        </select>
      </div>
      <Field label="Name" value={name} placeholder={kindName} onChange={(e) => setName(e.target.value)} error={fields.name} maxLength={100} />
      {kind ? (
        <SecretForm key={`${kind.name}-${added}`} kind={kind} submitLabel={create.isPending ? "Saving..." : "Add credential"} busy={create.isPending} onSubmit={(secret) => create.mutate(secret)}>
          {Object.entries(fields)
            .filter(([field]) => field.startsWith("secret"))
            .map(([field, message]) => (
              <p key={field} className="field-error">
                {field}: {message}
              </p>
            ))}
          <ProblemAlert error={form} prefix="Not saved" />
          {create.isSuccess ? <p role="status">Credential added.</p> : null}
        </SecretForm>
      ) : null}
    </section>
  );
}

function CredentialItem({ credential, kind }: { credential: Credential; kind: CredentialKind | undefined }) {
  const refresh = useRefresh();
  const [name, setName] = useState(credential.name);
  const [replacing, setReplacing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const path = { params: { path: { credential_id: credential.id } } };
  const update = useMutation({
    mutationFn: (body: { name?: string; secret?: Record<string, string> }) => unwrap(api.PATCH("/api/v1/credentials/{credential_id}", { ...path, body })),
    onSuccess: () => {
      setReplacing(false);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/credentials/{credential_id}", path)),
    onSuccess: refresh,
  });
  const { fields, form } = fieldErrors(update.error);
  return (
    <li className="card">
      <h3 className="card-title">
        {credential.name} <span className="tag">{credential.kind}</span>
      </h3>
      <p className="muted">
        Secret ends in <code>{credential.hint || "(hidden)"}</code> - updated {when(credential.updated_at)}
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          update.mutate({ name: name.trim() });
        }}
      >
        <Field label={`New name for ${credential.name}`} value={name} onChange={(e) => setName(e.target.value)} error={fields.name} maxLength={100} />
        <button type="submit" disabled={update.isPending || !name.trim() || name === credential.name}>
          Rename
        </button>
      </form>
      {replacing && kind ? (
        <SecretForm kind={kind} submitLabel="Save new secret" busy={update.isPending} onSubmit={(secret) => update.mutate({ secret })}>
          <button type="button" onClick={() => setReplacing(false)}>
            Keep the current secret
          </button>
        </SecretForm>
      ) : (
        <button type="button" onClick={() => setReplacing(true)}>
          Replace the secret of {credential.name}
        </button>
      )}{" "}
      {confirming ? (
        <span role="group" aria-label="Confirm deletion">
          Delete {credential.name}? Agents using it will fail.{" "}
          <button type="button" className="danger" onClick={() => remove.mutate()}>
            Yes, delete
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </span>
      ) : (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete {credential.name}
        </button>
      )}
      <ProblemAlert error={form ?? remove.error} />
    </li>
  );
}

export default function CredentialsPage() {
  usePageTitle("Credentials");
  const [params] = useSearchParams();
  const credentials = useCredentials();
  const kinds = useCredentialKinds();
  const byName = new Map((kinds.data ?? []).map((k) => [k.name, k]));
  const items = credentials.data?.items ?? [];
  return (
    <section aria-labelledby="credentials-title">
      <h1 id="credentials-title">Credentials</h1>
      <p>Secrets are stored encrypted and never shown again; only their last characters appear here.</p>
      <ProblemAlert error={credentials.error ?? kinds.error} />
      {kinds.data ? <AddCredential kinds={kinds.data} initialKind={params.get("add") ?? ""} /> : null}
      <h2>Your credentials</h2>
      {credentials.data && !items.length ? <p>No credentials yet.</p> : null}
      <ul className="cards">
        {items.map((c) => (
          <CredentialItem key={c.id + c.updated_at} credential={c} kind={byName.get(c.kind)} />
        ))}
      </ul>
    </section>
  );
}
