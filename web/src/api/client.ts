/**
 * The one API client: generated types (schema.d.ts, from the served OpenAPI) over
 * openapi-fetch. The browser session lives in an httpOnly cookie the page never
 * sees; unsafe methods carry the double-submit CSRF header read from the
 * `botskis_csrf` cookie. A 401 tells the session layer, which sends the user to
 * the login page and back.
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

const PUBLIC_401 = ["/api/v1/auth/session", "/api/v1/auth/session/mfa", "/api/v1/auth/login"];

const session: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method)) {
      const csrf = readCookie(CSRF_COOKIE);
      if (csrf) request.headers.set(CSRF_HEADER, csrf);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !PUBLIC_401.some((p) => new URL(request.url).pathname === p)) {
      unauthorizedListeners.forEach((listener) => listener());
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(session);
