import type { RunFigures, SeriesPoint } from "../../api/types";
import { duration, percent } from "../../app/components/format";
import type { Granularity } from "../range";
import { count, hoursSaved, TABLE_HEADERS, tableRows, usd } from "../shape";

/** The range's totals, each figure in words. */
export function Totals({ totals, minutesSaved }: { totals: RunFigures; minutesSaved: number }) {
  const items: [string, string, string][] = [
    ["runs", "Finished runs", String(totals.runs)],
    ["succeeded", "Succeeded", String(totals.succeeded)],
    ["failed", "Failed", String(totals.failed)],
    ["cancelled", "Cancelled", String(totals.cancelled)],
    ["auto-healed", "Healed automatically", String(totals.auto_healed)],
    ["success-rate", "Success rate", percent(totals.success_rate)],
    ["p50", "Duration p50", duration(totals.p50_duration_ms)],
    ["p95", "Duration p95", duration(totals.p95_duration_ms)],
    ["tokens", "Tokens", totals.tokens.toLocaleString("en-US")],
    ["cost", "Cost", usd(totals.cost_usd)],
    ["time-saved", "Time saved (estimate)", hoursSaved(minutesSaved)],
  ];
  return (
    <dl className="totals" data-testid="totals">
      {items.map(([key, label, value]) => (
        <div key={key} className="total">
          <dt>{label}</dt>
          <dd data-testid={`total-${key}`}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Every bucket's figures as a table: the charts' text alternative, folded away. */
export function FiguresTable({ series, granularity }: { series: SeriesPoint[]; granularity: Granularity }) {
  const rows = tableRows(series, granularity);
  const busy = series.filter((p) => p.runs > 0).length;
  return (
    <details className="figures">
      <summary>
        The figures by {granularity}, as a table ({count(series.length, granularity)}, {busy} with runs)
      </summary>
      <div className="table-scroll" role="region" aria-label={`Figures by ${granularity}`} tabIndex={0}>
        <table data-testid="figures-table">
          <caption className="visually-hidden">Runs, success rate, duration, tokens and cost by {granularity} (UTC)</caption>
          <thead>
            <tr>
              {TABLE_HEADERS.map((h) => (
                <th key={h} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(([bucket, ...cells]) => (
              <tr key={bucket}>
                <th scope="row">{bucket}</th>
                {cells.map((cell, i) => (
                  <td key={i}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
