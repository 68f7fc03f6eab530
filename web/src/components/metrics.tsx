// The charts of one node: cpu, memory and network over time.

import { useMemo } from "preact/hooks";
import { bytes, rate } from "../format";
import type { NodeMetrics } from "../types";
import { TimeChart } from "./chart";

export function NodeCharts({ node, metrics }: { node: string; metrics: NodeMetrics | undefined }) {
  const data = useMemo(() => {
    const s = metrics?.samples ?? [];
    return {
      t: s.map((x) => x.t),
      cpu: s.map((x) => x.cpu_percent),
      mem: s.map((x) => x.memory_bytes),
      rx: s.map((x) => x.rx_bytes_per_sec),
      tx: s.map((x) => x.tx_bytes_per_sec),
    };
  }, [metrics]);
  const cpu = useMemo(() => [{ label: "cpu", color: "#2563eb", values: data.cpu }], [data]);
  const mem = useMemo(() => [{ label: "memory", color: "#7c3aed", values: data.mem }], [data]);
  const net = useMemo(
    () => [
      { label: "rx", color: "#059669", values: data.rx },
      { label: "tx", color: "#d97706", values: data.tx },
    ],
    [data],
  );
  return (
    <div class="node-chart-card" data-node-charts={node}>
      <div class="node-chart-title">{node}</div>
      <TimeChart title="CPU" times={data.t} series={cpu} format={(v) => `${Math.round(v)}%`} />
      <TimeChart title="Memory" times={data.t} series={mem} format={bytes} />
      <TimeChart title="Network" times={data.t} series={net} format={rate} />
    </div>
  );
}
