// One cluster: its node groups (size, elastic bounds and triggers, last change of
// size), its nodes (address, host, state), live charts per node, scale / stop / start /
// delete with confirmation, saving a node as an image, and its events.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, documentedPaths, follow, ownerQuery, type Session } from "../api";
import { NodeGroups } from "../components/elastic";
import { EventList } from "../components/events";
import { NodeCharts } from "../components/metrics";
import { Badge, Card, Confirm, ErrorBox, OperationStatus, Spinner, useAction } from "../components/ui";
import { ago, bytes, cpus } from "../format";
import { useApi } from "../hooks";
import { nameProblem } from "../names";
import { boundsProblem } from "../elastic";
import { href, navigate } from "../router";
import type { Cluster, Node, NodeGroupSpec, NodeMetrics, Operation } from "../types";

type Dialog =
  | { kind: "scale" }
  | { kind: "stop" }
  | { kind: "start" }
  | { kind: "delete" }
  | { kind: "save"; node: Node }
  | null;

export function ClusterPage({ owner, name }: { session: Session; owner: string; name: string }) {
  const q = ownerQuery(owner);
  const base = `/v1/clusters/${encodeURIComponent(name)}`;
  const [op, setOp] = useState<Operation>();
  const busyOp = op?.status === "running";
  const cluster = useApi<Cluster>(`${base}${q}`, busyOp ? 2000 : 5000);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [busy, error, run, clearError] = useAction();
  const metrics = useMetrics(base, q, !!cluster.data);

  const act = (f: () => Promise<Operation>, after?: (op: Operation) => void) => {
    setDialog(null);
    run(async () => {
      const end = await follow(await f(), (o) => {
        setOp(o);
        cluster.reload();
      });
      after?.(end);
    });
  };

  const c = cluster.data;
  if (!c) {
    return (
      <div class="page">
        <Breadcrumb name={name} />
        {cluster.error ? <ErrorBox error={cluster.error} /> : <Spinner />}
      </div>
    );
  }
  const groups: NodeGroupSpec[] = c.spec.node_groups.length ? c.spec.node_groups : [{ name: "node", count: c.spec.nodes ?? 1 }];
  const stopped = c.state === "stopped";
  const running = c.nodes.filter((n) => n.state === "running").length;

  return (
    <div class="page">
      <Breadcrumb name={name} />
      <div class="page-head">
        <div>
          <h1>
            {c.name} <Badge state={c.state} />
          </h1>
          <div class="muted">
            owner <strong>{c.owner}</strong> · image <strong>{c.spec.image}</strong> · network {c.network.subnet} · created {ago(c.created_at)}
          </div>
        </div>
        <div class="actions">
          <button class="btn" onClick={() => setDialog({ kind: "scale" })} disabled={busy || stopped} data-testid="scale">
            Scale
          </button>
          {stopped ? (
            <button class="btn" onClick={() => setDialog({ kind: "start" })} disabled={busy} data-testid="start">
              Start
            </button>
          ) : (
            <button class="btn" onClick={() => setDialog({ kind: "stop" })} disabled={busy} data-testid="stop">
              Stop
            </button>
          )}
          <button class="btn btn-danger" onClick={() => setDialog({ kind: "delete" })} disabled={busy} data-testid="delete">
            Delete
          </button>
        </div>
      </div>
      <ErrorBox error={error} onClose={clearError} />
      <OperationStatus op={op} />

      <div class="stats stats-small">
        <Mini label="Nodes running" value={`${running} / ${c.nodes.length}`} />
        <Mini label="CPU" value={cpus(c.nodes.reduce((a, n) => a + n.cpu_millis, 0))} />
        <Mini label="Memory" value={bytes(c.nodes.reduce((a, n) => a + n.memory_bytes, 0))} />
        <Mini label="Placement" value={c.spec.placement ?? "spread"} />
        <Mini label="Groups" value={groups.map((g) => `${g.name} ×${g.count}`).join(", ")} />
      </div>

      <Card title="Node groups">
        <NodeGroups cluster={c} groups={groups} />
      </Card>

      <Card title="Nodes">
        <table class="table" data-testid="nodes">
          <thead>
            <tr>
              <th>Node</th>
              <th>State</th>
              <th>Address</th>
              <th>Host</th>
              <th class="num">CPU</th>
              <th class="num">Memory</th>
              <th>Started</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {c.nodes.map((n) => (
              <tr key={n.name} data-node={n.name}>
                <td>
                  <strong>{n.name}</strong>
                  <div class="muted small">{n.group}</div>
                </td>
                <td>
                  <Badge state={n.state} />
                  {n.error && <div class="small text-warn">{n.error}</div>}
                  {n.oom_kills > 0 && <div class="small text-warn">{n.oom_kills} out-of-memory kills</div>}
                </td>
                <td class="mono">{n.address}</td>
                <td>{n.host ?? <span class="muted">not placed</span>}</td>
                <td class="num">{cpus(n.cpu_millis)}</td>
                <td class="num">{bytes(n.memory_bytes)}</td>
                <td class="muted">{n.started_at ? ago(n.started_at) : "–"}</td>
                <td class="num nowrap">
                  <a
                    class={`btn btn-small ${n.state === "running" ? "" : "disabled"}`}
                    href={href("clusters", c.owner, c.name, "terminal", n.name)}
                    data-testid={`terminal-${n.name}`}
                  >
                    Terminal
                  </a>{" "}
                  <button class="btn btn-small" disabled={busy || n.state !== "running"} onClick={() => setDialog({ kind: "save", node: n })}>
                    Save as image
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>

      <Card title="Node use" actions={<span class="muted small">{metrics.note}</span>}>
        <div class="node-charts">
          {c.nodes.map((n) => (
            <NodeCharts key={n.name} node={n.name} metrics={metrics.byNode.get(n.name)} />
          ))}
        </div>
      </Card>

      <Card title="Events">
        <EventList
          path={`${base}/events${q}`}
          accept={(e) =>
            (e.target === `clusters/${c.name}` || e.target.startsWith(`clusters/${c.name}/`)) &&
            (!e.owner || e.owner === c.owner)
          }
          limit={30}
        />
      </Card>

      {dialog?.kind === "scale" && (
        <ScaleDialog
          groups={groups.map((g) => ({ ...g, count: c.nodes.filter((n) => n.group === g.name).length || g.count }))}
          onCancel={() => setDialog(null)}
          onScale={(group, nodes) => act(() => api<Operation>("POST", `${base}/scale${q}`, { group, nodes }))}
        />
      )}
      {dialog?.kind === "stop" && (
        <Confirm title={`Stop ${c.name}?`} confirm="Stop cluster" onCancel={() => setDialog(null)} onConfirm={() => act(() => api<Operation>("POST", `${base}/stop${q}`))}>
          Its {c.nodes.length} nodes stop; their files and addresses are kept, and Start brings them back.
        </Confirm>
      )}
      {dialog?.kind === "start" && (
        <Confirm title={`Start ${c.name}?`} confirm="Start cluster" onCancel={() => setDialog(null)} onConfirm={() => act(() => api<Operation>("POST", `${base}/start${q}`))}>
          Its {c.nodes.length} nodes start again with their files and addresses.
        </Confirm>
      )}
      {dialog?.kind === "delete" && (
        <Confirm
          title={`Delete ${c.name}?`}
          confirm="Delete cluster"
          danger
          onCancel={() => setDialog(null)}
          onConfirm={() => {
            setDialog(null);
            // The cluster disappears while being deleted: follow it from the list.
            run(async () => {
              await api<Operation>("DELETE", `${base}${q}`);
              navigate("clusters");
            });
          }}
        >
          All {c.nodes.length} nodes and their files are deleted. This cannot be undone; save a node as an image first to keep its files.
        </Confirm>
      )}
      {dialog?.kind === "save" && (
        <SaveDialog
          node={dialog.node}
          onCancel={() => setDialog(null)}
          onSave={(as) => act(() => api<Operation>("POST", `${base}/nodes/${encodeURIComponent(dialog.node.name)}/save${q}`, { as }))}
        />
      )}
    </div>
  );
}

function Breadcrumb({ name }: { name: string }) {
  return (
    <div class="breadcrumb">
      <a href={href("clusters")}>Clusters</a> / {name}
    </div>
  );
}

function Mini({ label, value }: { label: string; value: ComponentChildren }) {
  return (
    <div class="mini">
      <div class="stat-label">{label}</div>
      <div class="mini-value">{value}</div>
    </div>
  );
}

/** Scale one group; an elastic group's bounds are named, and sizes outside refused. */
function ScaleDialog(props: { groups: NodeGroupSpec[]; onCancel: () => void; onScale: (group: string, nodes: number) => void }) {
  const [group, setGroup] = useState(props.groups[0].name);
  const chosen = props.groups.find((g) => g.name === group) ?? props.groups[0];
  const current = chosen.count;
  const e = chosen.elastic;
  const [nodes, setNodes] = useState(String(e ? Math.min(current + 1, Math.max(e.max, current)) : current + 1));
  const n = Number(nodes);
  const problem = /^\d+$/.test(nodes) && n <= 1000 ? boundsProblem(chosen, current, n) : "a whole number from 0 to 1000";
  return (
    <Confirm
      title="Scale cluster"
      confirm={problem ? "Scale" : `Scale to ${n}`}
      onCancel={props.onCancel}
      onConfirm={() => !problem && props.onScale(group, n)}
    >
      {props.groups.length > 1 && (
        <label class="field">
          <span class="field-label">Node group</span>
          <select value={group} onChange={(e) => setGroup(e.currentTarget.value)}>
            {props.groups.map((g) => (
              <option key={g.name} value={g.name}>
                {g.name} ({g.count} nodes)
              </option>
            ))}
          </select>
        </label>
      )}
      <label class={`field ${problem ? "has-error" : ""}`}>
        <span class="field-label">
          Nodes in {group} (now {current}
          {e ? `; elastic, ${e.min} to ${e.max}` : ""})
        </span>
        <input name="nodes" type="number" min={0} value={nodes} onInput={(e) => setNodes(e.currentTarget.value)} />
        {problem ? <div class="field-error">{problem}</div> : n < current && <span class="field-help text-warn">The newest {current - n} nodes and their files are deleted.</span>}
      </label>
    </Confirm>
  );
}

function SaveDialog(props: { node: Node; onCancel: () => void; onSave: (as: string) => void }) {
  const [as, setAs] = useState(`${props.node.cluster}-${props.node.name}`.slice(0, 40).replace(/-+$/, ""));
  const problem = nameProblem("image", as);
  return (
    <Confirm title={`Save ${props.node.name} as an image`} confirm="Save image" onCancel={props.onCancel} onConfirm={() => !problem && props.onSave(as)}>
      <p>The node's files on top of its image become a new private image you can start clusters from.</p>
      <label class={`field ${problem ? "has-error" : ""}`}>
        <span class="field-label">Image name</span>
        <input name="image-name" value={as} onInput={(e) => setAs(e.currentTarget.value)} />
        {problem && <div class="field-error">{problem}</div>}
      </label>
    </Confirm>
  );
}

/** Node metrics every 10 s, when the server has the metrics endpoint. */
function useMetrics(base: string, q: string, enabled: boolean): { byNode: Map<string, NodeMetrics>; note: string } {
  const [byNode, setByNode] = useState(new Map<string, NodeMetrics>());
  const [note, setNote] = useState("");
  useEffect(() => {
    if (!enabled) return;
    let alive = true;
    let timer: ReturnType<typeof setInterval> | undefined;
    const load = async () => {
      const since = Math.floor(Date.now() / 1000) - 15 * 60;
      const sep = q ? "&" : "?";
      try {
        const list = await api<NodeMetrics[]>("GET", `${base}/metrics${q}${sep}since=${since}`);
        if (alive) {
          setByNode(new Map(list.map((m) => [m.node, m])));
          setNote("last 15 minutes, every 10 s");
        }
      } catch {
        // No samples (yet) for this cluster: the charts say so.
        if (alive) setByNode(new Map());
      }
    };
    // Ask only a server that has the endpoint: a 404 would be noise in the console.
    documentedPaths().then((paths) => {
      if (!alive) return;
      if (!paths.has("/v1/clusters/{name}/metrics")) {
        setNote("this server does not record node metrics");
        return;
      }
      load();
      timer = setInterval(load, 10_000);
    });
    return () => {
      alive = false;
      if (timer) clearInterval(timer);
    };
  }, [base, q, enabled]);
  return { byNode, note };
}
