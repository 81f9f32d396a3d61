/** The page a verification link opens: it spends the link's token at once. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { ME_KEY, useSession } from "../session";

export default function VerifyEmailPage() {
  usePageTitle("Verify your email");
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { user } = useSession();
  const client = useQueryClient();
  const verify = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/verify-email", { body: { token } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ME_KEY }),
  });
  // A token works once: send it once, even if the page renders again.
  const sent = useRef(false);
  useEffect(() => {
    if (token && !sent.current) {
      sent.current = true;
      verify.mutate();
    }
  }, [token, verify]);

  return (
    <section className="narrow" aria-labelledby="verify-title">
      <h1 id="verify-title">Verify your email</h1>
      {!token ? (
        <p className="alert" role="alert">
          This link has no token. Open the link from the email exactly as it came.
        </p>
      ) : null}
      {verify.isPending ? <p role="status">Checking the link...</p> : null}
      {verify.data ? (
        <p role="status">
          Thank you: <strong>{verify.data.email}</strong> is verified.
        </p>
      ) : null}
      <ProblemAlert error={verify.error} />
      {verify.error && user ? <p>You can ask for a new link from the banner at the top of the page.</p> : null}
      <p>{user ? <Link to="/agents">Go to your agents</Link> : <Link to="/login">Log in</Link>}</p>
    </section>
  );
}
