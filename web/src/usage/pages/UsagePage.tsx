import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";

function Meter({ label, used, limit }: { label: string; used: number; limit: number | null }) {
  return (
    <div className="meter-row">
      <p>
        <strong>{label}:</strong> {used} of {limit == null ? "unlimited" : limit}
      </p>
      {limit != null ? <progress max={limit} value={Math.min(used, limit)} aria-label={`${label}: ${used} of ${limit}`} /> : null}
    </div>
  );
}

export default function UsagePage() {
  usePageTitle("Usage and plan");
  const usage = useQuery({ queryKey: ["usage"], queryFn: () => unwrap(api.GET("/api/v1/users/me/usage")) });
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage and plan</h1>
      <ProblemAlert error={usage.error} />
      {usage.data ? (
        <>
          <p>
            Plan: <strong>{usage.data.plan}</strong>
          </p>
          <Meter label="Agents" used={usage.data.agents_used} limit={usage.data.limits.agents ?? null} />
          <Meter label="Runs this month" used={usage.data.runs_this_month} limit={usage.data.limits.runs_per_month ?? null} />
          <p className="muted">
            This month runs from {when(usage.data.period_start)} to {when(usage.data.period_end)} (UTC calendar month).
          </p>
        </>
      ) : (
        <p role="status">Loading...</p>
      )}
    </section>
  );
}
