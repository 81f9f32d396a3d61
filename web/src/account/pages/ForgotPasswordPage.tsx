/**
 * Ask for a password reset link. The answer is the same whether or not an account
 * uses the address, so the page never says which.
 */
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { fieldErrors } from "../hooks/useFieldErrors";

export default function ForgotPasswordPage() {
  usePageTitle("Forgot password");
  const [params] = useSearchParams();
  const [email, setEmail] = useState(params.get("email") ?? "");
  const request = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/auth/password-reset", { body: { email: email.trim() } })) });
  const { fields, form } = fieldErrors(request.error);
  return (
    <section className="narrow" aria-labelledby="forgot-title">
      <h1 id="forgot-title">Forgot your password?</h1>
      <p>Enter the email address of your account and we will send a link to choose a new password.</p>
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          request.reset();
          request.mutate();
        }}
        noValidate
      >
        <Field label="Email" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fields.email} />
        <ProblemAlert error={form} />
        {request.data ? (
          <p role="status" className="notice">
            {request.data.detail}. The link works for an hour.
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={request.isPending}>
          {request.isPending ? "Sending..." : "Send the reset link"}
        </button>
      </form>
      <p>
        <Link to="/login">Back to log in</Link>
      </p>
    </section>
  );
}
