/**
 * Shown on every page to a logged-in user whose email address is not verified
 * yet, with a button to send the link again.
 */
import { useMutation } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { useSession } from "../session";

export function VerifyBanner() {
  const { user } = useSession();
  const resend = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/auth/verify-email/resend")) });
  if (!user || user.email_verified_at) return null;
  return (
    <section className="notice verify-banner" aria-label="Email verification">
      <p>
        Please verify your email address: open the link we sent to <strong>{user.email}</strong>.
      </p>
      <button type="button" onClick={() => resend.mutate()} disabled={resend.isPending}>
        Resend the verification link
      </button>
      {resend.data ? <p role="status">{resend.data.detail}.</p> : null}
      <ProblemAlert error={resend.error} prefix="Not sent" />
    </section>
  );
}
