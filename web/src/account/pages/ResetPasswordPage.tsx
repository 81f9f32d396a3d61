/** The page a reset link opens: choose the new password; the link works once. */
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { fieldErrors } from "../hooks/useFieldErrors";

export default function ResetPasswordPage() {
  usePageTitle("Choose a new password");
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const confirm = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/password-reset/confirm", { body: { token, new_password: password } })),
  });
  const { fields, form } = fieldErrors(confirm.error);
  // A used, expired or unknown link (400) cannot be fixed on this page: ask for a new one.
  const deadLink = confirm.error instanceof ApiError && confirm.error.status === 400;
  if (confirm.isSuccess) {
    return (
      <section className="narrow" aria-labelledby="reset-title">
        <h1 id="reset-title">Password changed</h1>
        <p role="status">Your new password is set, and every earlier login has been signed out.</p>
        <p>
          <Link className="button primary" to="/login">
            Log in with the new password
          </Link>
        </p>
      </section>
    );
  }
  return (
    <section className="narrow" aria-labelledby="reset-title">
      <h1 id="reset-title">Choose a new password</h1>
      {!token ? (
        <p className="alert" role="alert">
          This link has no token. Open the link from the email exactly as it came.
        </p>
      ) : null}
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          confirm.mutate();
        }}
        noValidate
      >
        <Field label="New password" type="password" autoComplete="new-password" hint="8 to 72 characters." required value={password} onChange={(e) => setPassword(e.target.value)} error={fields.new_password} />
        <ProblemAlert error={fields.token ? confirm.error : form} />
        {deadLink ? (
          <p>
            <Link to="/forgot-password">Ask for a new reset link</Link>
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={confirm.isPending || !token}>
          Set the new password
        </button>
      </form>
    </section>
  );
}
