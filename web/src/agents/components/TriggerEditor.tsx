/**
 * How an agent starts: by hand, on a cron schedule in a time zone (with its next
 * three fire times), every N seconds, or when its webhook is called.
 */
import { CronExpressionParser } from "cron-parser";
import { useId, useMemo } from "react";

export type Trigger =
  | { type: "manual" }
  | { type: "webhook" }
  | { type: "schedule"; cron: string; timezone?: string }
  | { type: "schedule"; interval_seconds: number };

export type TriggerChoice = "manual" | "cron" | "interval" | "webhook";

export interface TriggerDraft {
  choice: TriggerChoice;
  cron: string;
  timezone: string;
  interval: string;
}

const ZONES: string[] = (() => {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
})();

export function draftOf(trigger: Record<string, unknown> | undefined | null): TriggerDraft {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const base: TriggerDraft = { choice: "manual", cron: "0 9 * * 1-5", timezone: zone, interval: "3600" };
  if (!trigger) return base;
  if (trigger.type === "webhook") return { ...base, choice: "webhook" };
  if (trigger.type === "schedule" && typeof trigger.cron === "string")
    return { ...base, choice: "cron", cron: trigger.cron, timezone: (trigger.timezone as string | undefined) ?? "UTC" };
  if (trigger.type === "schedule" && trigger.interval_seconds != null)
    return { ...base, choice: "interval", interval: String(trigger.interval_seconds) };
  return base;
}

export function triggerOf(draft: TriggerDraft): Trigger {
  switch (draft.choice) {
    case "cron":
      return { type: "schedule", cron: draft.cron.trim(), timezone: draft.timezone };
    case "interval":
      return { type: "schedule", interval_seconds: Number(draft.interval) };
    case "webhook":
      return { type: "webhook" };
    default:
      return { type: "manual" };
  }
}

/** The next `count` fire times, or the reason the expression does not parse. */
export function nextFireTimes(cron: string, timezone: string, count = 3, from = new Date()): Date[] | string {
  try {
    const parsed = CronExpressionParser.parse(cron.trim(), { tz: timezone, currentDate: from });
    return parsed.take(count).map((d) => d.toDate());
  } catch (error) {
    return error instanceof Error ? error.message : "not a valid cron expression";
  }
}

const LABELS: Record<TriggerChoice, string> = {
  manual: "Manually (Run now)",
  cron: "On a schedule (cron)",
  interval: "Every N seconds",
  webhook: "When its webhook is called",
};

export function TriggerEditor({
  draft,
  onChange,
  error,
}: {
  draft: TriggerDraft;
  onChange: (draft: TriggerDraft) => void;
  error?: string | null;
}) {
  const id = useId();
  const fires = useMemo(
    () => (draft.choice === "cron" ? nextFireTimes(draft.cron, draft.timezone) : []),
    [draft.choice, draft.cron, draft.timezone],
  );
  const set = (patch: Partial<TriggerDraft>) => onChange({ ...draft, ...patch });
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: draft.timezone });
  return (
    <fieldset className="trigger">
      <legend>Trigger</legend>
      {(Object.keys(LABELS) as TriggerChoice[]).map((choice) => (
        <label key={choice} className="radio">
          <input type="radio" name={`${id}-choice`} value={choice} checked={draft.choice === choice} onChange={() => set({ choice })} />{" "}
          {LABELS[choice]}
        </label>
      ))}
      {draft.choice === "cron" ? (
        <div className="grid2">
          <div className="field">
            <label htmlFor={`${id}-cron`}>Cron expression (minute hour day month weekday)</label>
            <input id={`${id}-cron`} value={draft.cron} onChange={(e) => set({ cron: e.target.value })} aria-describedby={`${id}-fires`} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-tz`}>Time zone</label>
            <select id={`${id}-tz`} value={draft.timezone} onChange={(e) => set({ timezone: e.target.value })}>
              {(ZONES.includes(draft.timezone) ? ZONES : [draft.timezone, ...ZONES]).map((zone) => (
                <option key={zone} value={zone}>
                  {zone}
                </option>
              ))}
            </select>
          </div>
          <div id={`${id}-fires`} aria-live="polite">
            {typeof fires === "string" ? (
              <p className="field-error">Not a valid cron expression: {fires}</p>
            ) : (
              <>
                <p>Next runs ({draft.timezone}):</p>
                <ol className="fires">
                  {fires.map((date) => (
                    <li key={date.toISOString()}>{fmt.format(date)}</li>
                  ))}
                </ol>
              </>
            )}
          </div>
        </div>
      ) : null}
      {draft.choice === "interval" ? (
        <div className="field">
          <label htmlFor={`${id}-interval`}>Seconds between runs (60 or more)</label>
          <input id={`${id}-interval`} type="number" min={60} value={draft.interval} onChange={(e) => set({ interval: e.target.value })} />
        </div>
      ) : null}
      {draft.choice === "webhook" ? <p className="muted">The webhook URL is shown once after saving; keep it secret.</p> : null}
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}
