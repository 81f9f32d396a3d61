/** The page a verification link opens: it spends the link's token at once. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import type { User } from "../../api/types";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { usePageTitle } from "../../app/components/usePageTitle";
import { ME_KEY, useSession } from "../session";

export default function VerifyEmailPage() {
  usePageTitle("Verify your email");
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { user } = useSession();
  const client = useQueryClient();
  const verify = useQuery({
    queryKey: ["verify-email", token],
    queryFn: async () => {
      // The query's cache sends each token once, whatever mounts the page again.
      const verified = await unwrap(api.POST("/api/v1/auth/verify-email", { body: { token } }));
      // A /users/me read that started before the token was spent would land after
      // it with the old answer (and the banner): cancel it, keep what the API said.
      await client.cancelQueries({ queryKey: ME_KEY });
      const current = client.getQueryData<User | null>(ME_KEY);
      if (current && current.id === verified.id) client.setQueryData(ME_KEY, verified);
      void client.invalidateQueries({ queryKey: ME_KEY });
      return verified;
    },
    enabled: !!token,
    retry: false,
    staleTime: Infinity,
  });

  return (
    <section className="narrow" aria-labelledby="verify-title">
      <h1 id="verify-title">Verify your email</h1>
      {!token ? (
        <p className="alert" role="alert">
          This link has no token. Open the link from the email exactly as it came.
        </p>
      ) : null}
      {token && verify.isPending ? <p role="status">Checking the link...</p> : null}
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
