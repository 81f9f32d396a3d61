import { ApiError } from "../../api/problem";

/** The API's 422 messages by field name, plus the one for the whole form. */
export function fieldErrors(error: unknown): { fields: Record<string, string>; form: unknown } {
  if (!(error instanceof ApiError)) return { fields: {}, form: error };
  const fields: Record<string, string> = {};
  for (const e of error.fieldErrors()) fields[e.field] = fields[e.field] ? `${fields[e.field]}; ${e.message}` : e.message;
  if (error.status === 409 && /email/i.test(error.problem.detail)) fields.email = error.problem.detail;
  const shown = Object.keys(fields).length > 0;
  return { fields, form: shown && error.status !== 429 ? null : error };
}
