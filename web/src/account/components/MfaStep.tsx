/**
 * The second step of logging in to a two-factor account: the code from the
 * authenticator app, or one of the recovery codes, completes the challenge the
 * password step returned (POST /api/v1/auth/session/mfa).
 */
import { useState, type FormEvent } from "react";
import type { User } from "../../api/types";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { ApiError } from "../../api/problem";
import { useSession } from "../session";

export function MfaStep({ mfaToken, onDone, onRestart }: { mfaToken: string; onDone: (user: User) => void; onRestart: () => void }) {
  const { completeMfa } = useSession();
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The challenge lasts a few minutes and is spent by a right code: a 401 about it means starting over.
  const expired = error instanceof ApiError && error.problem.reason === "mfa_token_invalid";
  const wrongCode = error instanceof ApiError && error.status === 401 && !expired;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const value = code.trim();
      onDone(await completeMfa(mfaToken, recovery ? { recovery_code: value } : { code: value }));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby="mfa-title">
      <h2 id="mfa-title">Two-factor authentication</h2>
      <p>
        {recovery
          ? "Enter one of the recovery codes you saved when you turned on two-factor authentication. Each works once."
          : "Enter the 6-digit code from your authenticator app."}
      </p>
      {recovery ? (
        <Field key="recovery" label="Recovery code" name="recovery_code" autoComplete="off" required value={code} onChange={(e) => setCode(e.target.value)} error={wrongCode ? "This code is not valid." : null} />
      ) : (
        <Field
          key="code"
          label="Authentication code"
          name="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
          error={wrongCode ? "This code is not valid. Check the time on your phone and try the newest code." : null}
        />
      )}
      {expired ? (
        <p className="alert" role="alert">
          This login took too long. <button type="button" onClick={onRestart}>Enter your password again</button>
        </p>
      ) : (
        <ProblemAlert error={wrongCode ? null : error} />
      )}
      <button type="submit" className="primary" disabled={busy || !code.trim()}>
        {busy ? "Checking..." : "Verify"}
      </button>{" "}
      <button
        type="button"
        onClick={() => {
          setRecovery(!recovery);
          setCode("");
          setError(null);
        }}
      >
        {recovery ? "Use a code from the app instead" : "Use a recovery code instead"}
      </button>
    </form>
  );
}
