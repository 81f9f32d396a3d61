/**
 * The charts (uPlot, drawn on a canvas). This module loads on its own, after
 * the page's figures, so uPlot never weighs on a page that shows no chart.
 * Each chart is a figure whose caption says its figures in words; the canvas
 * itself is hidden from assistive technology.
 */
import { useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { RunFigures, SeriesPoint } from "../../api/types";
import type { Granularity } from "../range";
import { columns, stackedRuns, summaries, usd } from "../shape";
import { Heading } from "./Heading";

const COLOR = { ok: "#146c2e", failed: "#b3261e", cancelled: "#8a4b00", accent: "#0b57d0", muted: "#505a66", grid: "#e3e7ec" };
const HEIGHT = 200;
const STEP_SECONDS: Record<Granularity, number> = { hour: 3600, day: 86400 };

type PlotOptions = Omit<uPlot.Options, "width" | "height">;

function Plot({ options, data }: { options: PlotOptions; data: uPlot.AlignedData }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const size = () => ({ width: Math.max(240, el.clientWidth), height: HEIGHT });
    const plot = new uPlot({ ...options, ...size() }, data, el);
    const observer = new ResizeObserver(() => plot.setSize(size()));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [options, data]);
  return <div ref={ref} className="plot" aria-hidden="true" />;
}

interface FigureProps {
  title: string;
  summary: string;
  options: PlotOptions;
  data: uPlot.AlignedData;
  level: number;
}

function Figure({ title, summary, options, data, level }: FigureProps) {
  return (
    <figure className="chart">
      <figcaption>
        <Heading level={level}>{title}</Heading>
        <p className="chart-summary">{summary}</p>
      </figcaption>
      <Plot options={options} data={data} />
    </figure>
  );
}

function compactDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${+(ms / 60_000).toFixed(1)} min`;
}

function axis(format?: (v: number) => string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: COLOR.muted,
    grid: { stroke: COLOR.grid, width: 1 },
    ticks: { stroke: COLOR.grid, width: 1 },
    ...(format ? { values: (_u: uPlot, splits: number[]) => splits.map((v) => (v == null ? "" : format(v))) } : {}),
    ...extra,
  };
}

function base(granularity: Granularity): Pick<PlotOptions, "scales" | "axes" | "tzDate" | "legend" | "cursor"> {
  const half = STEP_SECONDS[granularity] / 2;
  return {
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    scales: { x: { time: true, range: (_u, min, max) => [min - half, max + half] } },
    axes: [axis()],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

const bars = () => uPlot.paths.bars!({ size: [0.7, 48], align: 0 });

interface Props {
  totals: RunFigures;
  series: SeriesPoint[];
  granularity: Granularity;
  /** The charts' heading level. */
  level: number;
}

export default function AnalyticsCharts({ totals, series, granularity, level }: Props) {
  const charts = useMemo(() => {
    const c = columns(series);
    const [ok, withFailed, all] = stackedRuns(c);
    const said = summaries(totals, series, granularity);
    const whole = (v: number) => String(Math.round(v));
    const raw = (values: number[]) => (_u: uPlot, _v: number | null, _s: number, i: number | null) => (i == null ? "-" : String(values[i]));
    const common = base(granularity);
    return [
      {
        title: "Runs by status",
        summary: said.runs,
        data: [c.x, all, withFailed, ok] as uPlot.AlignedData,
        options: {
          ...common,
          axes: [axis(), axis(whole)],
          scales: { ...common.scales, y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max)] } },
          series: [
            {},
            { label: "Cancelled", fill: COLOR.cancelled, stroke: COLOR.cancelled, paths: bars(), points: { show: false }, value: raw(c.cancelled) },
            { label: "Failed", fill: COLOR.failed, stroke: COLOR.failed, paths: bars(), points: { show: false }, value: raw(c.failed) },
            { label: "Succeeded", fill: COLOR.ok, stroke: COLOR.ok, paths: bars(), points: { show: false }, value: raw(c.succeeded) },
          ],
        } as PlotOptions,
      },
      {
        title: "Success rate",
        summary: said.successRate,
        data: [c.x, c.successRate] as uPlot.AlignedData,
        options: {
          ...common,
          axes: [axis(), axis((v) => `${v}%`)],
          scales: { ...common.scales, y: { range: [0, 100] } },
          series: [{}, { label: "Success rate", stroke: COLOR.ok, width: 2, points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v == null ? "-" : `${v}%`) }],
        } as PlotOptions,
      },
      {
        title: "Duration p50 and p95",
        summary: said.duration,
        data: [c.x, c.p50, c.p95] as uPlot.AlignedData,
        options: {
          ...common,
          axes: [axis(), axis(compactDuration, { size: 60 })],
          scales: { ...common.scales, y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(10, max * 1.1)] } },
          series: [
            {},
            { label: "p50", stroke: COLOR.accent, width: 2, points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v == null ? "-" : compactDuration(v)) },
            { label: "p95", stroke: COLOR.failed, width: 2, dash: [6, 4], points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v == null ? "-" : compactDuration(v)) },
          ],
        } as PlotOptions,
      },
      {
        title: "Tokens and cost",
        summary: said.tokens,
        data: [c.x, c.tokens, c.cost] as uPlot.AlignedData,
        options: {
          ...common,
          axes: [axis(), axis(whole, { scale: "tokens", size: 60 }), axis(usd, { scale: "usd", side: 1, grid: { show: false }, size: 70 })],
          scales: {
            ...common.scales,
            tokens: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1, max)] },
            usd: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(0.01, max)] },
          },
          series: [
            {},
            { label: "Tokens", scale: "tokens", fill: "#c9d9f5", stroke: COLOR.accent, paths: bars(), points: { show: false }, value: (_u: uPlot, v: number | null) => (v == null ? "-" : whole(v)) },
            { label: "Cost", scale: "usd", stroke: COLOR.muted, width: 2, points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => (v == null ? "-" : usd(v)) },
          ],
        } as PlotOptions,
      },
    ];
  }, [totals, series, granularity]);
  return (
    <div className="charts">
      {charts.map((chart) => (
        <Figure key={chart.title} level={level} {...chart} />
      ))}
    </div>
  );
}
