/**
 * Two-factor authentication on the account page: set up (the QR code and the
 * secret), turn on with a first code (then the recovery codes, shown once), and
 * turn off with the password and a code.
 *
 * The QR code is the server's SVG shown as an image from a data: URL, never
 * injected as markup, so nothing in it can run (the page's CSP allows data: images).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { ApiError, unwrap } from "../../api/problem";
import { Field } from "../../app/components/Field";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { ME_KEY, useUser } from "../session";

function codeError(error: unknown): string | null {
  if (!(error instanceof ApiError)) return null;
  const named = error.fieldErrors("code").map((e) => e.message);
  if (named.length) return named.join("; ");
  return error.problem.reason === "code_invalid" ? error.problem.detail : null;
}

export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const text = codes.join("\n") + "\n";
  return (
    <div className="card">
      <h3 id="recovery-title">Your recovery codes</h3>
      <p>
        Each code logs you in once if you lose your phone. Save them somewhere safe now: <strong>they are not shown again</strong>.
      </p>
      <ul className="recovery-codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <div className="toolbar">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard.writeText(text).then(() => setCopied(true));
          }}
        >
          Copy the codes
        </button>
        <a className="button" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="botskis-recovery-codes.txt">
          Download the codes
        </a>
        <button type="button" className="primary" onClick={onDone}>
          I have saved them
        </button>
      </div>
      {copied ? <p role="status">Copied to the clipboard.</p> : null}
    </div>
  );
}

function SetUp({ onEnabled }: { onEnabled: (codes: string[]) => void }) {
  const [code, setCode] = useState("");
  const setup = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/users/me/2fa/setup")) });
  const enable = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users/me/2fa/enable", { body: { code: code.trim() } })),
    onSuccess: (result) => onEnabled(result.recovery_codes),
  });
  if (!setup.data) {
    return (
      <>
        <p>Status: off. Add a second step to logging in: a code from an authenticator app on your phone.</p>
        <button type="button" onClick={() => setup.mutate()} disabled={setup.isPending}>
          Set up two-factor authentication
        </button>
        <ProblemAlert error={setup.error} />
      </>
    );
  }
  const wrong = codeError(enable.error);
  return (
    <form
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        enable.mutate();
      }}
      noValidate
    >
      <p>Status: off until you enter a code. 1. Scan this QR code with your authenticator app.</p>
      <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.data.qr_svg)}`} alt="QR code to add Botskis to an authenticator app" width={200} height={200} />
      <p>
        Or enter this key by hand: <code data-testid="totp-secret">{setup.data.secret}</code>
      </p>
      <p>2. Enter the 6-digit code the app shows.</p>
      <Field label="Code from the app" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} error={wrong} />
      <ProblemAlert error={wrong ? null : enable.error} />
      <button type="submit" className="primary" disabled={enable.isPending || !code.trim()}>
        Turn on two-factor authentication
      </button>
    </form>
  );
}

function TurnOff({ onDisabled }: { onDisabled: () => void }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const disable = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users/me/2fa/disable", { body: { password, code: code.trim() } })),
    onSuccess: onDisabled,
  });
  const error = disable.error instanceof ApiError ? disable.error : null;
  const passwordError = error?.fieldErrors("password").map((e) => e.message).join("; ") || (error?.status === 400 && !codeError(error) ? error.problem.detail : null);
  const wrongCode = codeError(error);
  return (
    <form
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        disable.mutate();
      }}
      noValidate
    >
      <p>Status: on. Logging in asks for a code from your authenticator app.</p>
      <h3>Turn off two-factor authentication</h3>
      <Field label="Password to turn off two-factor" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={passwordError} />
      <Field label="Code to turn off two-factor" autoComplete="one-time-code" hint="From your authenticator app, or a recovery code." value={code} onChange={(e) => setCode(e.target.value)} error={wrongCode} />
      <ProblemAlert error={passwordError || wrongCode ? null : disable.error} />
      <button type="submit" className="danger" disabled={disable.isPending}>
        Turn off two-factor authentication
      </button>
    </form>
  );
}

export function TwoFactorSection() {
  const user = useUser();
  const client = useQueryClient();
  const [codes, setCodes] = useState<string[] | null>(null);
  const [off, setOff] = useState(false);
  const refresh = () => void client.invalidateQueries({ queryKey: ME_KEY });
  return (
    <section aria-labelledby="two-factor-title">
      <h2 id="two-factor-title">Two-factor authentication</h2>
      {codes ? <p role="status">Two-factor authentication is on.</p> : null}
      {off ? <p role="status">Two-factor authentication is off.</p> : null}
      {codes ? (
        <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />
      ) : user.two_factor_enabled ? (
        <TurnOff
          onDisabled={() => {
            setOff(true);
            refresh();
          }}
        />
      ) : (
        <SetUp
          key={String(off)}
          onEnabled={(recovery) => {
            setCodes(recovery);
            setOff(false);
            refresh();
          }}
        />
      )}
    </section>
  );
}
