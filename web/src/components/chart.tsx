// A small time-series chart (uPlot) that fits its container's width.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

/** A line chart of `series` over `times` (unix seconds); "no samples yet" when empty. */
export function TimeChart(props: {
  title: string;
  times: number[];
  series: Series[];
  format: (v: number) => string;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const empty = props.times.length === 0;
  const key = props.series.map((s) => s.label).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el || empty) return;
    const fmt = props.format;
    const opts: uPlot.Options = {
      width: Math.max(160, el.clientWidth),
      height: props.height ?? 130,
      // One series says what it is in the title; only several need a legend.
      legend: { show: props.series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      axes: [
        {
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#eef0f3" },
          font: "11px system-ui",
          values: (_u, vals) => vals.map((v) => new Date(v * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
        },
        {
          stroke: "#6b7280",
          grid: { stroke: "#eef0f3" },
          ticks: { stroke: "#eef0f3" },
          font: "11px system-ui",
          size: 64,
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          fill: s.color + "22",
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v == null ? "–" : fmt(v)),
        })),
      ],
    };
    const u = new uPlot(opts, [props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(160, el.clientWidth), height: opts.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [empty, key]);

  useEffect(() => {
    plot.current?.setData([props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  }, [props.times, props.series]);

  return (
    <div class="chart" data-chart={props.title}>
      <div class="chart-title">{props.title}</div>
      {empty ? <div class="chart-empty">no samples yet</div> : <div ref={box} class="chart-plot" />}
    </div>
  );
}
