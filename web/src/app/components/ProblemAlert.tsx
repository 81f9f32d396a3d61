import { describe } from "../../api/problem";

/** An API failure in words, announced to screen readers. */
export function ProblemAlert({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p className="alert" role="alert">
      {prefix ? `${prefix}: ` : ""}
      {describe(error)}
    </p>
  );
}
