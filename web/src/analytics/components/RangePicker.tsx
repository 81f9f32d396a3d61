import { useId, useState } from "react";
import { when } from "../../app/components/format";
import {
  allowedGranularities,
  fromLocalInput,
  PRESETS,
  resolveWindow,
  toLocalInput,
  type AnalyticsWindow,
  type Granularity,
  type Preset,
  type RangeChoice,
} from "../range";

interface Props {
  choice: RangeChoice;
  /** The window the choice resolved to; null when it is not valid. */
  window: AnalyticsWindow | null;
  error: string | null;
  onChoose: (choice: RangeChoice) => void;
  onRefresh: () => void;
}

function CustomRange({ choice, window, onChoose }: { choice: RangeChoice; window: AnalyticsWindow | null; onChoose: (c: RangeChoice) => void }) {
  const id = useId();
  const [from, setFrom] = useState(() => toLocalInput(choice.from ?? window?.from ?? ""));
  const [to, setTo] = useState(() => toLocalInput(choice.to ?? window?.to ?? ""));
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="inline-form range-custom"
      onSubmit={(e) => {
        e.preventDefault();
        const next: RangeChoice = { preset: "custom", from: fromLocalInput(from) ?? undefined, to: fromLocalInput(to) ?? undefined, granularity: choice.granularity };
        const checked = resolveWindow(next, new Date());
        setError(checked.error);
        if (!checked.error) onChoose(next);
      }}
    >
      <div className="field">
        <label htmlFor={`${id}-from`}>From</label>
        <input id={`${id}-from`} type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-to`}>To</label>
        <input id={`${id}-to`} type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : undefined} />
      </div>
      <button type="submit">Apply range</button>
      {error ? (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** Pick a range (24 hours, 7 days, 30 days or custom) and how to group it. */
export function RangePicker({ choice, window, error, onChoose, onRefresh }: Props) {
  const id = useId();
  const span = window ? Date.parse(window.to) - Date.parse(window.from) : 0;
  const allowed = window ? allowedGranularities(span) : [];
  return (
    <div className="range-picker">
      <fieldset className="range-presets">
        <legend>Range</legend>
        {PRESETS.map((preset) => (
          <label key={preset.value} className="chip-radio">
            <input
              type="radio"
              name={`${id}-preset`}
              value={preset.value}
              checked={choice.preset === preset.value}
              onChange={() =>
                onChoose(
                  preset.value === "custom"
                    ? { preset: "custom", from: window?.from, to: window?.to }
                    : { preset: preset.value as Exclude<Preset, "custom"> },
                )
              }
            />{" "}
            {preset.label}
          </label>
        ))}
      </fieldset>
      {choice.preset === "custom" ? <CustomRange key={`${choice.from}-${choice.to}`} choice={choice} window={window} onChoose={onChoose} /> : null}
      <div className="toolbar range-tools">
        <div className="field inline">
          <label htmlFor={`${id}-granularity`}>Group by</label>
          <select
            id={`${id}-granularity`}
            value={window?.granularity ?? "day"}
            disabled={!window}
            onChange={(e) => onChoose({ ...choice, granularity: e.target.value as Granularity })}
          >
            <option value="hour" disabled={!allowed.includes("hour")}>
              hour{allowed.includes("hour") ? "" : " (up to 31 days)"}
            </option>
            <option value="day">day</option>
          </select>
        </div>
        <button type="button" onClick={onRefresh}>
          Refresh
        </button>
      </div>
      {window ? (
        <p className="muted range-said" data-testid="range-said">
          From {when(window.from)} to {when(window.to)}, by {window.granularity} (buckets are UTC {window.granularity}s).
        </p>
      ) : null}
      {error ? (
        <p className="alert" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
