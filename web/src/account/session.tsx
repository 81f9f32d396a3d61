/**
 * Who is logged in. The session is an httpOnly cookie set by
 * `POST /api/v1/auth/session`; the page only learns the user from `/users/me`.
 * When any request answers 401 the cached data is dropped and the user is sent
 * to the login page, which brings them back to where they were.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useNavigate } from "react-router";
import { api, onUnauthorized } from "../api/client";
import { ApiError, unwrap } from "../api/problem";
import type { components } from "../api/schema";
import type { User } from "../api/types";

export const ME_KEY = ["me"] as const;

interface SessionValue {
  user: User | null;
  loading: boolean;
  /** The session ended under the user (a 401), as opposed to never having started. */
  expired: boolean;
  /** The user, or for a two-factor account the challenge to complete with `completeMfa`. */
  logIn: (email: string, password: string) => Promise<User | MfaChallenge>;
  completeMfa: (mfaToken: string, code: SecondFactor) => Promise<User>;
  logOut: () => Promise<void>;
}

export type MfaChallenge = components["schemas"]["MfaChallenge"];
/** A code from the authenticator app, or one of the recovery codes. */
export type SecondFactor = { code: string } | { recovery_code: string };

export function isMfaChallenge(result: User | MfaChallenge): result is MfaChallenge {
  return "mfa_token" in result;
}

const SessionContext = createContext<SessionValue | null>(null);

async function fetchMe(): Promise<User | null> {
  try {
    return await unwrap(api.GET("/api/v1/users/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export function loginPath(next: string, expired = false): string {
  const params = new URLSearchParams();
  if (next && next !== "/" && !next.startsWith("/login")) params.set("next", next);
  if (expired) params.set("expired", "1");
  const query = params.toString();
  return query ? `/login?${query}` : "/login";
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const me = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: false });
  const user = me.data ?? null;
  const [expired, setExpired] = useState(false);

  useEffect(
    () =>
      onUnauthorized(() => {
        // Anonymous pages (the marketplace) get 401s from /users/me: nothing to end.
        if (client.getQueryData(ME_KEY) == null) return;
        // RequireAuth then sends the user to the login page, which brings them back.
        setExpired(true);
        client.clear();
        client.setQueryData(ME_KEY, null);
      }),
    [client],
  );

  const started = useCallback(
    (signedIn: User) => {
      client.clear();
      client.setQueryData(ME_KEY, signedIn);
      setExpired(false);
      return signedIn;
    },
    [client],
  );

  const logIn = useCallback(
    async (email: string, password: string) => {
      const body = await unwrap(api.POST("/api/v1/auth/session", { body: { email, password } }));
      // A two-factor account answers with a challenge; the code step completes it.
      return "user" in body ? started(body.user) : body;
    },
    [started],
  );

  const completeMfa = useCallback(
    async (mfaToken: string, code: SecondFactor) => {
      const body = await unwrap(api.POST("/api/v1/auth/session/mfa", { body: { mfa_token: mfaToken, ...code } }));
      return started(body.user);
    },
    [started],
  );

  const logOut = useCallback(async () => {
    try {
      await unwrap(api.DELETE("/api/v1/auth/session"));
    } finally {
      client.clear();
      client.setQueryData(ME_KEY, null);
      navigate("/login", { replace: true });
    }
  }, [client, navigate]);

  const value = useMemo(
    () => ({ user, loading: me.isPending, expired, logIn, completeMfa, logOut }),
    [user, me.isPending, expired, logIn, completeMfa, logOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The logged-in user; only for pages under RequireAuth. */
export function useUser(): User {
  const { user } = useSession();
  if (!user) throw new Error("useUser without a user");
  return user;
}
