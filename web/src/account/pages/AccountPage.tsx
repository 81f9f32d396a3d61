import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { ApiKeys } from "../components/ApiKeys";
import { fieldErrors } from "../hooks/useFieldErrors";
import { TwoFactorSection } from "../components/TwoFactorSection";
import { isMfaChallenge, useSession, useUser } from "../session";

function ChangePassword() {
  const { logIn } = useSession();
  const user = useUser();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: async () => {
      await unwrap(api.POST("/api/v1/users/me/password", { body: { current_password: current, new_password: next } }));
      // A password change revokes every earlier token, this session's too.
      const again = await logIn(user.email, next);
      // A two-factor account needs its code to log in again: the login page asks for it.
      if (isMfaChallenge(again)) window.location.assign("/login?next=%2Faccount");
    },
    onSuccess: () => {
      setCurrent("");
      setNext("");
    },
  });
  const { fields, form } = fieldErrors(change.error);
  let formError = form;
  // The API's 400 for a wrong current password names no field: it is that one.
  if (change.error instanceof ApiError && change.error.status === 400 && !Object.keys(fields).length) {
    fields.current_password = change.error.problem.detail;
    formError = null;
  }
  return (
    <form
      aria-labelledby="password-title"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        change.mutate();
      }}
      noValidate
    >
      <h2 id="password-title">Change password</h2>
      <Field label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} error={fields.current_password} />
      <Field label="New password" type="password" autoComplete="new-password" hint="8 to 72 characters." value={next} onChange={(e) => setNext(e.target.value)} error={fields.new_password} />
      <ProblemAlert error={formError} />
      {change.isSuccess ? <p role="status">Password changed.</p> : null}
      <button type="submit" disabled={change.isPending}>
        Change password
      </button>
    </form>
  );
}

function DeleteAccount() {
  const user = useUser();
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/users/me", { body: { password, ...(user.two_factor_enabled ? { code: code.trim() } : {}) } })),
    // The 204 cleared the session cookies; a fresh page load leaves nothing of the account in memory.
    onSuccess: () => window.location.replace("/signup"),
  });
  const { fields, form } = fieldErrors(remove.error);
  return (
    <form
      aria-labelledby="delete-title"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        remove.mutate();
      }}
      noValidate
    >
      <h2 id="delete-title">Delete account</h2>
      <p>Deleting the account removes every agent, run and credential. Enter your password to confirm.</p>
      <Field label="Password to confirm deletion" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={fields.password} />
      {user.two_factor_enabled ? (
        <Field label="Two-factor code to confirm deletion" autoComplete="one-time-code" hint="From your authenticator app, or a recovery code." value={code} onChange={(e) => setCode(e.target.value)} error={fields.code} />
      ) : null}
      <ProblemAlert error={form} />
      <button type="submit" className="danger" disabled={remove.isPending}>
        Delete my account
      </button>
    </form>
  );
}

export default function AccountPage() {
  usePageTitle("Account");
  const user = useUser();
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Account</h1>
      <dl className="facts">
        <dt>Name</dt>
        <dd>{user.full_name}</dd>
        <dt>Email</dt>
        <dd>{user.email}</dd>
        <dt>Plan</dt>
        <dd>{user.plan}</dd>
        <dt>User id</dt>
        <dd>
          <code>{user.id}</code>
        </dd>
      </dl>
      <div className="grid2">
        <ChangePassword />
        <DeleteAccount />
      </div>
      <TwoFactorSection />
      <ApiKeys />
    </section>
  );
}
