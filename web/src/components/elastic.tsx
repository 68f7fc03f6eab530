// Elastic node groups: the create form's fields for one group, and the cluster
// page's table of each group's bounds, triggers and last change of size.

import { ADJUSTMENT_KINDS, triggerWords, scalingParts, type AdjustmentKind, type ElasticForm, type SideForm } from "../elastic";
import { ago, time } from "../format";
import type { Cluster, NodeGroupSpec } from "../types";

/** The fields of one group's elasticity; inputs are named `<prefix>-<field>`. */
export function ElasticFields(props: { prefix: string; form: ElasticForm; problem: (field: string) => string | null; onChange: (f: ElasticForm) => void }) {
  const { prefix, form: f, problem } = props;
  const set = (patch: Partial<ElasticForm>) => props.onChange({ ...f, ...patch });
  const num = (field: "min" | "max" | "cooldown" | "window", label: string, help: string) => (
    <label class={`field ${problem(field) ? "has-error" : ""}`}>
      <span class="field-label">{label}</span>
      <input name={`${prefix}-${field}`} class="narrow" inputMode="numeric" value={f[field]} onInput={(e) => set({ [field]: e.currentTarget.value } as Partial<ElasticForm>)} />
      {problem(field) ? <div class="field-error">{problem(field)}</div> : <span class="field-help">{help}</span>}
    </label>
  );
  const kept = [f.kept.schedule && "a calendar schedule", f.kept.queue && `the ${f.kept.queue.probe} queue`].filter(Boolean);
  return (
    <div class="elastic">
      <div class="elastic-grid">
        {num("min", "Min nodes", "fewest nodes")}
        {num("max", "Max nodes", "most nodes")}
        {num("cooldown", "Cooldown (s)", "triggers wait this long after any change")}
        <label class="check elastic-toggle">
          <input type="checkbox" name={`${prefix}-metrics`} checked={f.metrics} onChange={(e) => set({ metrics: e.currentTarget.checked })} />
          scale on cpu use
        </label>
      </div>
      {f.metrics && (
        <div class="elastic-grid">
          {num("window", "Window (s)", "mean cpu over this long")}
          <Side prefix={`${prefix}-out`} title="Scale out when cpu is above (%)" side={f.out} problem={(x) => problem(`out.${x}`)} onChange={(out) => set({ out })} />
          <Side prefix={`${prefix}-in`} title="Scale in when cpu is below (%)" side={f.in} problem={(x) => problem(`in.${x}`)} onChange={(inn) => set({ in: inn })} />
        </div>
      )}
      {kept.length > 0 && <p class="muted small">Also from the template: {kept.join(" and ")}, sent as it is.</p>}
      {problem("kept") && <div class="field-error">{problem("kept")}</div>}
    </div>
  );
}

/** One side of the metrics trigger: its threshold and its adjustment. */
function Side(props: { prefix: string; title: string; side: SideForm; problem: (field: string) => string | null; onChange: (s: SideForm) => void }) {
  const { prefix, side: s, problem } = props;
  const set = (patch: Partial<SideForm>) => props.onChange({ ...s, ...patch });
  const errors = [problem("threshold"), problem("value"), problem("minStep")].filter(Boolean);
  return (
    <div class={`field elastic-side ${errors.length ? "has-error" : ""}`}>
      <span class="field-label">{props.title}</span>
      <div class="elastic-inline">
        <input name={`${prefix}-threshold`} class="narrow" inputMode="numeric" placeholder="never" value={s.threshold} onInput={(e) => set({ threshold: e.currentTarget.value })} />
        <span class="muted">by</span>
        <input name={`${prefix}-value`} class="narrow" inputMode="numeric" value={s.value} onInput={(e) => set({ value: e.currentTarget.value })} />
        <select name={`${prefix}-kind`} value={s.kind} onChange={(e) => set({ kind: e.currentTarget.value as AdjustmentKind })}>
          {ADJUSTMENT_KINDS.map((k) => (
            <option key={k.kind} value={k.kind}>
              {k.label}
            </option>
          ))}
        </select>
        {s.kind === "change_in_percentage" && (
          <>
            <span class="muted">at least</span>
            <input name={`${prefix}-min-step`} class="narrow" inputMode="numeric" value={s.minStep} onInput={(e) => set({ minStep: e.currentTarget.value })} />
          </>
        )}
      </div>
      {errors.length ? errors.map((e) => <div class="field-error">{e}</div>) : <span class="field-help">Leave the percentage empty for never.</span>}
    </div>
  );
}

/** Each node group: its size, its elasticity and what last changed its size. */
export function NodeGroups({ cluster: c, groups }: { cluster: Cluster; groups: NodeGroupSpec[] }) {
  return (
    <table class="table" data-testid="groups">
      <thead>
        <tr>
          <th>Group</th>
          <th class="num">Nodes</th>
          <th>Bounds</th>
          <th>Triggers</th>
          <th>Last scaled</th>
        </tr>
      </thead>
      <tbody>
        {groups.map((g) => {
          const e = g.elastic;
          const live = c.nodes.filter((n) => n.group === g.name).length;
          const last = c.scaling?.[g.name];
          const parts = last && scalingParts(last);
          const triggers = e ? triggerWords(e) : [];
          return (
            <tr key={g.name} data-group={g.name}>
              <td>
                <strong>{g.name}</strong>
              </td>
              <td class="num">
                {live}
                {live !== g.count && <div class="muted small">→ {g.count}</div>}
              </td>
              <td data-bounds={e ? `${e.min}-${e.max}` : undefined}>
                {e ? (
                  <>
                    elastic, {e.min} to {e.max} nodes
                    <div class="muted small">cooldown {e.cooldown ?? 60} s</div>
                  </>
                ) : (
                  <span class="muted">fixed size</span>
                )}
              </td>
              <td>
                {triggers.length ? (
                  triggers.map((t) => <div key={t}>{t}</div>)
                ) : (
                  <span class="muted">{e ? "none: only Scale and the nodes change it" : "–"}</span>
                )}
              </td>
              <td data-scaled={last ? parts?.change ?? "" : undefined}>
                {last && parts ? (
                  <>
                    <span title={time(last.last_scaled)}>{ago(last.last_scaled)}</span>
                    {parts.change && <strong> {parts.change}</strong>} by {last.actor}
                    {parts.why && <div class="muted small">{parts.why}</div>}
                  </>
                ) : (
                  <span class="muted">not since created</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
