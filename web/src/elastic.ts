// Elastic node groups in the UI: the form's fields, the server's rules for them
// (crates/corral-server/src/elastic.rs `validate`, so a form that passes here is not
// refused there for its elasticity), and how bounds, triggers and the last change of
// size are put in words.

import type { Adjustment, ElasticSpec, GroupScaling, NodeGroupSpec } from "./types";

/** Most nodes in a group (cluster.rs MAX_GROUP_NODES). */
export const MAX_GROUP_NODES = 1000;
/** Longest cooldown or idle time: a week. */
const MAX_SECONDS = 7 * 24 * 3600;
/** Longest metrics window: the metrics history keeps a day. */
const MAX_WINDOW = 24 * 3600;
/** The group a queue probe runs in when the trigger names none. */
const DEFAULT_PROBE_GROUP = "head";

/** The three kinds of Senlin adjustment, by their wire names. */
export type AdjustmentKind = "change_in_capacity" | "change_in_percentage" | "exact_capacity";

export const ADJUSTMENT_KINDS: { kind: AdjustmentKind; label: string }[] = [
  { kind: "change_in_capacity", label: "nodes (±)" },
  { kind: "change_in_percentage", label: "percent (±)" },
  { kind: "exact_capacity", label: "exactly" },
];

/** One side (scale out or scale in) of a metrics trigger, as typed. */
export interface SideForm {
  /** Percent of the cpu limit; empty: this side never fires. */
  threshold: string;
  kind: AdjustmentKind;
  value: string;
  /** Least change in nodes of a percentage adjustment. */
  minStep: string;
}

/** A node group's elasticity as typed in the create form. */
export interface ElasticForm {
  on: boolean;
  min: string;
  max: string;
  cooldown: string;
  metrics: boolean;
  window: string;
  out: SideForm;
  in: SideForm;
  /** Triggers the form does not edit (a template's schedule or queue), sent unchanged. */
  kept: Pick<ElasticSpec, "schedule" | "queue">;
}

/** The form of a group without elasticity (bounds around `count` once switched on). */
export function emptyElastic(count: number): ElasticForm {
  return {
    on: false,
    min: String(Math.min(count, 1)),
    max: String(Math.max(count, 1) * 2),
    cooldown: "60",
    metrics: false,
    window: "300",
    out: { threshold: "70", kind: "change_in_capacity", value: "1", minStep: "1" },
    in: { threshold: "20", kind: "change_in_capacity", value: "-1", minStep: "1" },
    kept: {},
  };
}

/** The form showing an existing spec (from a template). */
export function elasticForm(e: ElasticSpec | undefined, count: number): ElasticForm {
  const f = emptyElastic(count);
  if (!e) return f;
  const side = (threshold: number | undefined, a: Adjustment | undefined, fallback: SideForm): SideForm => {
    const s = { ...fallback, threshold: threshold === undefined ? "" : String(threshold) };
    if (!a) return s;
    if ("exact_capacity" in a) return { ...s, kind: "exact_capacity", value: String(a.exact_capacity) };
    if ("change_in_capacity" in a) return { ...s, kind: "change_in_capacity", value: String(a.change_in_capacity) };
    const p = a.change_in_percentage;
    return { ...s, kind: "change_in_percentage", value: String(p.percent), minStep: String(p.min_step ?? 1) };
  };
  const m = e.metrics;
  return {
    on: true,
    min: String(e.min),
    max: String(e.max),
    cooldown: String(e.cooldown ?? 60),
    metrics: !!m,
    window: String(m?.window ?? 300),
    out: side(m?.scale_out_above, m?.scale_out, f.out),
    in: side(m?.scale_in_below, m?.scale_in, f.in),
    kept: { ...(e.schedule ? { schedule: e.schedule } : {}), ...(e.queue ? { queue: e.queue } : {}) },
  };
}

const whole = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN);
const signed = (s: string) => (/^[-+]?\d+$/.test(s.trim()) ? Number(s.trim()) : NaN);

function adjustment(s: SideForm): Adjustment {
  switch (s.kind) {
    case "exact_capacity":
      return { exact_capacity: whole(s.value) };
    case "change_in_capacity":
      return { change_in_capacity: signed(s.value) };
    case "change_in_percentage":
      return { change_in_percentage: { percent: signed(s.value), min_step: whole(s.minStep) } };
  }
}

/** The wire spec of a valid form. */
export function elasticSpec(f: ElasticForm): ElasticSpec {
  const e: ElasticSpec = { min: whole(f.min), max: whole(f.max), cooldown: whole(f.cooldown), ...f.kept };
  if (f.metrics) {
    e.metrics = { window: whole(f.window), scale_out: adjustment(f.out), scale_in: adjustment(f.in) };
    if (f.out.threshold.trim()) e.metrics.scale_out_above = whole(f.out.threshold);
    if (f.in.threshold.trim()) e.metrics.scale_in_below = whole(f.in.threshold);
  }
  return e;
}

/**
 * What is wrong with a group's elasticity, by field (`min`, `max`, `cooldown`,
 * `window`, `out.threshold`, `out.value`, `out.minStep`, the same for `in`, and
 * `kept`); a field without a problem is absent. `count` is the group's starting size,
 * `groups` the names of the cluster's groups.
 */
export function elasticProblems(f: ElasticForm, count: number, groups: string[]): Record<string, string> {
  const p: Record<string, string> = {};
  if (!f.on) return p;
  const min = whole(f.min);
  const max = whole(f.max);
  if (Number.isNaN(min)) p.min = "min is a whole number of nodes";
  if (Number.isNaN(max)) p.max = "max is a whole number of nodes";
  else if (max > MAX_GROUP_NODES) p.max = `max ${max} is above ${MAX_GROUP_NODES}, the most nodes in a group`;
  if (!p.min && !p.max && min > max) p.min = `min ${min} is above max ${max}`;
  if (!p.min && !p.max && !Number.isNaN(count) && (count < min || count > max)) {
    p.max = `the group starts with ${count} nodes, outside min ${min} to max ${max}: start within them`;
  }
  const cooldown = whole(f.cooldown);
  if (Number.isNaN(cooldown)) p.cooldown = "cooldown is a whole number of seconds";
  else if (cooldown > MAX_SECONDS) p.cooldown = `cooldown ${cooldown} s is longer than a week`;
  const q = f.kept.queue;
  if (q) {
    const runner = q.probe_group ?? DEFAULT_PROBE_GROUP;
    if (!groups.includes(runner)) p.kept = `the queue trigger asks the first node of group "${runner}", which the cluster does not have`;
  }
  if (!f.metrics) return p;

  const window = whole(f.window);
  if (Number.isNaN(window) || window < 1 || window > MAX_WINDOW) p.window = `the window is 1 to ${MAX_WINDOW} seconds (a day)`;
  const out = f.out.threshold.trim() ? whole(f.out.threshold) : undefined;
  const inn = f.in.threshold.trim() ? whole(f.in.threshold) : undefined;
  if (out === undefined && inn === undefined) p["out.threshold"] = "give a scale-out threshold, a scale-in threshold or both";
  if (out !== undefined && !(out >= 1 && out <= 100)) p["out.threshold"] = "scale out above a percentage of the cpu limit, 1 to 100";
  if (inn !== undefined && !(inn >= 1 && inn <= 99)) p["in.threshold"] = "scale in below a percentage of the cpu limit, 1 to 99";
  if (out !== undefined && inn !== undefined && !p["out.threshold"] && !p["in.threshold"] && inn >= out) {
    p["in.threshold"] = `scale in below ${inn}% must be under scale out above ${out}%, or the group would flap`;
  }
  const side = (key: "out" | "in", s: SideForm) => {
    const grow = key === "out";
    const name = grow ? "scale out" : "scale in";
    const dir = grow ? "positive, to grow" : "negative, to shrink";
    if (s.kind === "exact_capacity") {
      const n = whole(s.value);
      if (Number.isNaN(n)) p[`${key}.value`] = `${name}: exactly how many nodes, a whole number`;
      else if (!p.min && !p.max && (n < min || n > max)) p[`${key}.value`] = `${name} to exactly ${n} is outside min ${min} to max ${max}`;
    } else if (s.kind === "change_in_capacity") {
      const n = signed(s.value);
      if (Number.isNaN(n) || n === 0 || n > 0 !== grow || Math.abs(n) > MAX_GROUP_NODES) {
        p[`${key}.value`] = `${name} by a number of nodes: ${dir}, at most ${MAX_GROUP_NODES}`;
      }
    } else {
      const n = signed(s.value);
      if (Number.isNaN(n) || n === 0 || n > 0 !== grow || n < -100 || n > 1000) {
        p[`${key}.value`] = `${name} by a percentage: ${dir}, between -100 and 1000`;
      }
      const step = whole(s.minStep);
      if (Number.isNaN(step) || step > MAX_GROUP_NODES) p[`${key}.minStep`] = `the least step is 0 to ${MAX_GROUP_NODES} nodes`;
    }
  };
  side("out", f.out);
  side("in", f.in);
  return p;
}

/** An adjustment in words: "+1 node", "−50 % (at least 1 node)", "to exactly 4 nodes". */
export function adjustmentWords(a: Adjustment | undefined, grow: boolean): string {
  const nodes = (n: number) => `${n} node${Math.abs(n) === 1 ? "" : "s"}`;
  if (!a) return grow ? "+1 node" : "−1 node";
  if ("exact_capacity" in a) return `to exactly ${nodes(a.exact_capacity)}`;
  if ("change_in_capacity" in a) return `${a.change_in_capacity > 0 ? "+" : "−"}${nodes(Math.abs(a.change_in_capacity))}`;
  const p = a.change_in_percentage;
  return `${p.percent > 0 ? "+" : "−"}${Math.abs(p.percent)}% (at least ${nodes(p.min_step ?? 1)})`;
}

/** Each trigger of an elastic group, one line each. */
export function triggerWords(e: ElasticSpec): string[] {
  const lines: string[] = [];
  const m = e.metrics;
  if (m) {
    const w = `over ${m.window ?? 300} s`;
    if (m.scale_out_above !== undefined) lines.push(`cpu above ${m.scale_out_above}% ${w}: ${adjustmentWords(m.scale_out, true)}`);
    if (m.scale_in_below !== undefined) lines.push(`cpu below ${m.scale_in_below}% ${w}: ${adjustmentWords(m.scale_in, false)}`);
  }
  for (const r of e.schedule?.rules ?? []) {
    lines.push(`at least ${r.min} on ${r.days ?? "daily"} ${r.start}–${r.end} (${e.schedule?.timezone ?? "UTC"})`);
  }
  if (e.queue) {
    lines.push(`${e.queue.probe} queue: grow for pending jobs, remove nodes idle ${e.queue.idle_time ?? 300} s`);
  }
  return lines;
}

/** Why `nodes` is refused for a group (outside an elastic group's bounds), or null. */
export function boundsProblem(g: Pick<NodeGroupSpec, "name" | "elastic">, current: number, nodes: number): string | null {
  const e = g.elastic;
  // As the server: a move back towards bounds that were narrowed is let through.
  if (!e || !((nodes < e.min && nodes < current) || (nodes > e.max && nodes > current))) return null;
  return `${g.name} is elastic with ${e.min} to ${e.max} nodes: ${nodes} is outside [${e.min}, ${e.max}]`;
}

/** The parts of a last change of size: "2→3" and its reason, from its decision text. */
export function scalingParts(s: GroupScaling): { change: string | null; why: string } {
  // The server writes "scaled GROUP FROM→TO" and, when given, ": WHY".
  const m = /^scaled \S+ (\d+→\d+)(?:: (.*))?$/s.exec(s.last_decision);
  return m ? { change: m[1], why: m[2] ?? "" } : { change: null, why: s.last_decision };
}
