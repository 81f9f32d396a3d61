import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { Field } from "../../app/components/Field";
import { usePageTitle } from "../../app/components/usePageTitle";
import { landingPath } from "../hooks/afterLogin";
import { fieldErrors } from "../hooks/useFieldErrors";
import type { User } from "../../api/types";
import { MfaStep } from "../components/MfaStep";
import { isMfaChallenge, useSession } from "../session";

export default function LoginPage() {
  usePageTitle("Log in");
  const { logIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const { fields, form } = fieldErrors(error);

  async function landed(user: User) {
    navigate(await landingPath(user.id, params.get("next")), { replace: true });
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await logIn(email, password);
      if (isMfaChallenge(result)) {
        setPassword("");
        setMfaToken(result.mfa_token);
      } else await landed(result);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="narrow" aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      {params.get("expired") ? (
        <p className="notice" role="status">
          Your session has ended. Log in again to continue where you were.
        </p>
      ) : null}
      {mfaToken ? (
        <MfaStep mfaToken={mfaToken} onDone={(user) => void landed(user)} onRestart={() => setMfaToken(null)} />
      ) : (
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fields.email} />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={fields.password} />
        <ProblemAlert error={form} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Logging in..." : "Log in"}
        </button>
        <p>
          <Link to={email ? `/forgot-password?email=${encodeURIComponent(email)}` : "/forgot-password"}>Forgot password?</Link>
        </p>
      </form>
      )}
      <p>
        New here? <Link to="/signup">Create an account</Link>
      </p>
    </section>
  );
}
