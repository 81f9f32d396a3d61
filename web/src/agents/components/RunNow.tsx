import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useNavigate } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";

/** Start a run by hand, optionally with a JSON object as its input, and open it. */
export function RunNow({ agentId }: { agentId: string }) {
  const id = useId();
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [parseError, setParseError] = useState<string | null>(null);
  const run = useMutation({
    mutationFn: (input: Record<string, unknown>) =>
      unwrap(api.POST("/api/v1/agents/{agent_id}/run", { params: { path: { agent_id: agentId } }, body: { input } })),
    onSuccess: (accepted) => navigate(`/runs/${accepted.run_id}`),
  });
  function start() {
    let input: unknown = {};
    if (text.trim()) {
      try {
        input = JSON.parse(text);
      } catch (error) {
        setParseError(`The input is not valid JSON: ${error instanceof Error ? error.message : ""}`);
        return;
      }
      if (!input || typeof input !== "object" || Array.isArray(input)) {
        setParseError("The input must be a JSON object, like {\"text\": \"hello\"}.");
        return;
      }
    }
    setParseError(null);
    run.mutate(input as Record<string, unknown>);
  }
  return (
    <div className="run-now">
      <div className="field">
        <label htmlFor={id}>Run input (optional JSON object)</label>
        <textarea
          id={id}
          rows={3}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder='{"subject": "Hello"}'
          aria-invalid={parseError ? true : undefined}
          aria-describedby={parseError ? `${id}-error` : undefined}
        />
        {parseError ? (
          <span id={`${id}-error`} className="field-error">
            {parseError}
          </span>
        ) : null}
      </div>
      <button type="button" className="primary" onClick={start} disabled={run.isPending}>
        Run now
      </button>
      <ProblemAlert error={run.error} prefix="Not started" />
    </div>
  );
}
