/**
 * Charts of vitals over time with uPlot (canvas: hundreds of points and dozens of sparklines redraw
 * in a few milliseconds). A canvas says nothing to a screen reader, so every chart is a figure
 * whose label and caption give its latest value and range in words.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./monitoring.css";

export interface Line {
  label: string;
  t: number[];
  v: number[];
  color: string;
}

export const COLORS = ["#0b5cad", "#a4161a", "#126b3a", "#6b2d8f", "#7a4d00"] as const;

/** The lines on one time axis: the union of their times, each line null where it has no point. */
function aligned(lines: Line[]): uPlot.AlignedData {
  const times = [...new Set(lines.flatMap((l) => l.t))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const ys = lines.map((l) => {
    const y: (number | null)[] = new Array<number | null>(times.length).fill(null);
    l.t.forEach((t, i) => (y[index.get(t) as number] = l.v[i] as number));
    return y;
  });
  return [times, ...ys];
}

/** Keeps a uPlot instance in `ref`, redrawn with new data and resized with its box. */
function usePlot(
  box: React.RefObject<HTMLDivElement | null>,
  options: (width: number) => uPlot.Options,
  data: uPlot.AlignedData,
  key: string,
) {
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(options(Math.max(80, el.clientWidth)), data, el);
    plot.current = u;
    const resize = new ResizeObserver(() =>
      u.setSize({ width: Math.max(80, el.clientWidth), height: u.height }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // the chart is rebuilt only when its shape (series) changes; data is set below
  }, [key]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
}

/** A chart with a time axis and a value axis in `unit`. */
export function TimeChart(props: {
  title: string;
  unit: string;
  lines: Line[];
  caption: string;
  height?: number;
  /** The value axis shows at least this range (the range a reading usually falls in). */
  range?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  const data = aligned(props.lines);
  usePlot(
    box,
    (width) => ({
      width,
      height: props.height ?? 180,
      ms: 1,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        ...(props.range
          ? {
              y: {
                range: (_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax => [
                  Math.min(min ?? Infinity, props.range![0]),
                  Math.max(max ?? -Infinity, props.range![1]),
                ],
              },
            }
          : {}),
      },
      axes: [
        // wide tick spacing: the date line under the times must not run into the next one
        { stroke: "#4a5968", grid: { stroke: "#e4e9ee" }, space: 90 },
        { stroke: "#4a5968", grid: { stroke: "#e4e9ee" }, label: props.unit, size: 56 },
      ],
      series: [
        {},
        ...props.lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, spanGaps: true })),
      ],
    }),
    data,
    props.lines.map((l) => l.label).join("|"),
  );
  return (
    <figure className="chart" aria-label={`${props.title}: ${props.caption}`}>
      <figcaption>
        <strong>{props.title}</strong> <span className="muted">({props.unit})</span>
        <div className="muted">{props.caption}</div>
        {props.lines.length > 1 ? (
          <div className="chart-key" aria-hidden="true">
            {props.lines.map((l) => (
              <span key={l.label} className={`key-${COLORS.indexOf(l.color as (typeof COLORS)[number])}`}>
                {l.label}
              </span>
            ))}
          </div>
        ) : null}
      </figcaption>
      <div ref={box} className="chart-canvas" />
    </figure>
  );
}

/** A small line without axes for one value over the window (the ward board's rows). */
export function Sparkline(props: { label: string; t: number[]; v: number[]; color?: string | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const data: uPlot.AlignedData = [props.t, props.v];
  usePlot(
    box,
    (width) => ({
      width: Math.min(width, 160),
      height: 36,
      ms: 1,
      legend: { show: false },
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: props.color ?? COLORS[0], width: 1.5, spanGaps: true }],
    }),
    data,
    props.label,
  );
  return <div ref={box} className="sparkline" aria-hidden="true" />;
}
