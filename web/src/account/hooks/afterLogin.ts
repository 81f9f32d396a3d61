import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

const SKIPPED = "botskis.onboarding.skipped";

/** Skipping the wizard is a choice of this browser; it holds no secret. */
export function markOnboardingSkipped(userId: string): void {
  localStorage.setItem(`${SKIPPED}.${userId}`, "1");
}

/** Where a user lands after logging in: where they were, else the wizard until it is done or skipped. */
export async function landingPath(userId: string, next: string | null): Promise<string> {
  if (next && next.startsWith("/") && !next.startsWith("//")) return next;
  if (localStorage.getItem(`${SKIPPED}.${userId}`)) return "/agents";
  try {
    const session = await unwrap(api.GET("/api/v1/onboarding"));
    return session.completed_at ? "/agents" : "/onboarding";
  } catch {
    return "/agents";
  }
}
