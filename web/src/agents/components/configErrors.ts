import type { ErrorSchema } from "@rjsf/utils";
import type { FieldError } from "../../api/problem";

/**
 * The API's 422 field errors (`config.items.0.email` after the prefix is cut)
 * as rjsf's error tree, so each message appears under the field it is about.
 * A path the form does not know lands on the form as a whole.
 */
export function toErrorSchema(errors: FieldError[]): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const { field, message } of errors) {
    let node = root;
    for (const part of field.split(".").filter(Boolean)) {
      node[part] = (node[part] as Record<string, unknown> | undefined) ?? {};
      node = node[part] as Record<string, unknown>;
    }
    const list = (node.__errors as string[] | undefined) ?? [];
    node.__errors = [...list, message];
  }
  return root as ErrorSchema;
}
