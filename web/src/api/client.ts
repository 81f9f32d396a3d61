/**
 * The one API client: generated types (schema.d.ts, from the served OpenAPI) over
 * openapi-fetch. The browser session lives in an httpOnly cookie the page never
 * sees; unsafe methods carry the double-submit CSRF header read from the
 * `botskis_csrf` cookie. The session's access cookie is short-lived: a request
 * that answers 401 renews it once with the refresh cookie
 * (`POST /api/v1/auth/session/refresh`) and is sent again; only when that fails
 * does the 401 reach the session layer, which sends the user to the login page
 * and back.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

export const CSRF_COOKIE = "botskis_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever an authenticated request answers 401 (session expired or revoked). */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

const REFRESH_PATH = "/api/v1/auth/session/refresh";
const PUBLIC_401 = ["/api/v1/auth/session", "/api/v1/auth/session/mfa", "/api/v1/auth/login", REFRESH_PATH];
const REFRESHED_AT = "botskis_refreshed_at";
const REFRESH_LOCK = "botskis-session-refresh";

function refreshedAt(): number {
  try {
    return Number(window.localStorage.getItem(REFRESHED_AT) ?? 0);
  } catch {
    return 0;
  }
}

async function exchangeRefreshCookie(sentAt: number): Promise<boolean> {
  // Another tab (or an earlier request of this one) renewed the cookies after this
  // request left: sending it again is enough, and the refresh token it used is
  // already rotated, so presenting it would read as reuse.
  if (refreshedAt() > sentAt) return true;
  const response = await fetch(REFRESH_PATH, {
    method: "POST",
    credentials: "same-origin",
    headers: { [CSRF_HEADER]: readCookie(CSRF_COOKIE) ?? "" },
  });
  if (!response.ok) return false;
  try {
    window.localStorage.setItem(REFRESHED_AT, String(Date.now()));
  } catch {
    // No storage: tabs then only serialise through the lock.
  }
  return true;
}

let refreshing: Promise<boolean> | null = null;

/**
 * Renew the session's cookies once for every request that failed with 401 since
 * `sentAt`. One refresh at a time in this tab, and across tabs through a Web Lock,
 * so the same refresh token is never presented twice.
 */
export function refreshSession(sentAt: number = Date.now()): Promise<boolean> {
  if (!readCookie(CSRF_COOKIE)) return Promise.resolve(false); // no session to renew
  if (refreshing) return refreshing;
  const run = (): Promise<boolean> => exchangeRefreshCookie(sentAt);
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  const started: Promise<boolean> = locks ? locks.request(REFRESH_LOCK, run).then((ok) => ok) : run();
  const current = started
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  refreshing = current;
  return current;
}

interface Sent {
  copy: Request;
  at: number;
}
const sent = new WeakMap<Request, Sent>();

const session: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method)) {
      const csrf = readCookie(CSRF_COOKIE);
      if (csrf) request.headers.set(CSRF_HEADER, csrf);
    }
    // A copy to send again after a refresh: the body of `request` is spent by then.
    sent.set(request, { copy: request.clone(), at: Date.now() });
    return request;
  },
  async onResponse({ response, request }) {
    if (response.status !== 401 || PUBLIC_401.includes(new URL(request.url).pathname)) return response;
    const first = sent.get(request);
    let final = response;
    if (first && (await refreshSession(first.at))) {
      final = await fetch(first.copy);
    }
    if (final.status === 401) unauthorizedListeners.forEach((listener) => listener());
    return final;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);
