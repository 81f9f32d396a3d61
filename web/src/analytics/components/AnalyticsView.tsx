import { lazy, Suspense, type ReactNode } from "react";
import type { AgentAnalytics, Overview } from "../../api/types";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { hasRuns } from "../shape";
import { FiguresTable, Totals } from "./Figures";
import { Heading } from "./Heading";
import { TopErrors } from "./TopLists";

const AnalyticsCharts = lazy(() => import("./AnalyticsCharts"));

export type Level = 2 | 3;

interface Props {
  data: Overview | AgentAnalytics | undefined;
  error: unknown;
  /** The level of this view's section headings; the charts' titles sit one below. */
  level: Level;
  csvHref: string | null;
  /** Shown after the charts (top failing agents, time saved...). */
  children?: ReactNode;
}

/** Totals, charts, the figures table and top errors of one analytics response. */
export function AnalyticsView({ data, error, level, csvHref, children }: Props) {
  if (error) return <ProblemAlert error={error} />;
  if (!data) return <p role="status">Loading...</p>;
  const granularity = data.granularity;
  return (
    <>
      <Totals totals={data.totals} minutesSaved={data.time_saved.minutes} />
      {csvHref ? (
        <p>
          <a href={csvHref} download>
            Download CSV
          </a>{" "}
          <span className="muted">(one row per {granularity})</span>
        </p>
      ) : null}
      <Heading level={level}>Over time</Heading>
      {hasRuns(data.series) ? (
        <>
          <Suspense fallback={<p role="status">Loading the charts...</p>}>
            <AnalyticsCharts totals={data.totals} series={data.series} granularity={granularity} level={level + 1} />
          </Suspense>
          <FiguresTable series={data.series} granularity={granularity} />
        </>
      ) : (
        <p>No runs finished in this range.</p>
      )}
      {children}
      <Heading level={level}>Top errors</Heading>
      <TopErrors errors={data.top_errors} />
    </>
  );
}
