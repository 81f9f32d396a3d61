/** RFC 9457 problem+json as the API sends it, and how the pages show it. */

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  request_id?: string | null;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly problem: Problem;
  readonly retryAfter: number | null;

  constructor(problem: Problem, retryAfter: number | null = null) {
    super(problem.detail || problem.title);
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  get status(): number {
    return this.problem.status;
  }

  /** Field errors whose name starts with `prefix.`, keyed by the rest of the path. */
  fieldErrors(prefix?: string): FieldError[] {
    const all = this.problem.errors ?? [];
    if (!prefix) return all;
    return all
      .filter((e) => e.field === prefix || e.field.startsWith(prefix + "."))
      .map((e) => ({ ...e, field: e.field === prefix ? "" : e.field.slice(prefix.length + 1) }));
  }
}

function asProblem(body: unknown, response: Response): Problem {
  if (body && typeof body === "object" && "status" in body) return body as Problem;
  return {
    title: response.statusText || "Error",
    status: response.status,
    detail: typeof body === "string" && body ? body : `The server answered ${response.status}`,
  };
}

/**
 * The `data` of an openapi-fetch result, or an ApiError carrying the problem.
 * A 429's Retry-After (seconds) travels with the error so the page can say how long to wait.
 */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await promise;
  } catch {
    throw new ApiError({ title: "Network error", status: 0, detail: "The server cannot be reached. Check your connection and try again." });
  }
  const { data, error, response } = result;
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After"));
    throw new ApiError(asProblem(error, response), Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return data as T;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** A Retry-After in words: seconds under two minutes, then minutes, then hours (rounded up). */
export function waitInWords(seconds: number): string {
  if (seconds < 120) return plural(seconds, "second");
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return plural(minutes, "minute");
  return plural(Math.ceil(minutes / 60), "hour");
}

/** One sentence for the user, with the wait for a 429. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429) {
      const wait = error.retryAfter ?? null;
      return wait ? `Too many attempts. Try again in ${waitInWords(wait)}.` : "Too many attempts. Try again in a moment.";
    }
    return error.problem.detail || error.problem.title;
  }
  return error instanceof Error ? error.message : "Something went wrong.";
}
