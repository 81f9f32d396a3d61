import { useId, useState } from "react";
import { ApiError } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { useMinutesSaved } from "../hooks/useAnalytics";

/** Change the minutes one successful run of an agent saves (the time-saved estimate's figure). */
export function MinutesSavedForm({ agentId, agentName, minutes }: { agentId: string; agentName: string; minutes: number }) {
  const id = useId();
  const [value, setValue] = useState(String(minutes));
  const save = useMinutesSaved(agentId);
  const fieldError = save.error instanceof ApiError ? save.error.fieldErrors("minutes_saved_per_run")[0]?.message : undefined;
  return (
    <form
      className="inline-form minutes-saved"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(Number(value));
      }}
    >
      <div className="field">
        <label htmlFor={id}>Minutes saved per successful run of {agentName}</label>
        <input
          id={id}
          type="number"
          min={0}
          max={1440}
          step="any"
          required
          value={value}
          onChange={(e) => setValue(e.target.value)}
          aria-invalid={fieldError ? true : undefined}
          aria-describedby={fieldError ? `${id}-error` : undefined}
        />
        {fieldError ? (
          <span id={`${id}-error`} className="field-error">
            {fieldError}
          </span>
        ) : null}
      </div>
      <button type="submit" disabled={save.isPending}>
        Save
      </button>
      {save.isSuccess ? <span role="status">Saved.</span> : null}
      {save.error && !fieldError ? <ProblemAlert error={save.error} prefix="Not saved" /> : null}
    </form>
  );
}
