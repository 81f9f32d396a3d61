import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { fieldErrors } from "../hooks/useFieldErrors";
import { useSession } from "../session";

export default function SignupPage() {
  usePageTitle("Sign up");
  const { logIn } = useSession();
  const navigate = useNavigate();
  const [values, setValues] = useState({ full_name: "", company: "", email: "", password: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { fields, form } = fieldErrors(error);
  const set = (key: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement>) => setValues({ ...values, [key]: e.target.value });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await unwrap(
        api.POST("/api/v1/users", {
          body: { email: values.email, password: values.password, full_name: values.full_name, company: values.company || null },
        }),
      );
      await logIn(values.email, values.password);
      navigate("/onboarding", { replace: true });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="narrow" aria-labelledby="signup-title">
      <h1 id="signup-title">Create your account</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Full name" name="full_name" autoComplete="name" required value={values.full_name} onChange={set("full_name")} error={fields.full_name} />
        <Field label="Company (optional)" name="company" autoComplete="organization" value={values.company} onChange={set("company")} error={fields.company} />
        <Field label="Email" type="email" name="email" autoComplete="email" required value={values.email} onChange={set("email")} error={fields.email} />
        <Field label="Password" type="password" name="password" autoComplete="new-password" required hint="8 to 72 characters." value={values.password} onChange={set("password")} error={fields.password} />
        <ProblemAlert error={form} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Creating..." : "Sign up"}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}
