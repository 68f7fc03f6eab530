// The create-cluster form: name, image, node groups with count, resources and
// elasticity, scripts and placement, checked with the server's rules before it is
// sent; it can start from a built-in template (GET /v1/templates).

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, documentedPaths, follow, type Session } from "../api";
import { ElasticFields } from "../components/elastic";
import { Card, ErrorBox, OperationStatus, useAction } from "../components/ui";
import { elasticForm, elasticProblems, elasticSpec, emptyElastic, type ElasticForm } from "../elastic";
import { bytes, cpus } from "../format";
import { useApi } from "../hooks";
import { cpuProblem, memoryProblem, nameProblem } from "../names";
import { href, navigate } from "../router";
import type { ClusterSpec, ClusterTemplate, Image, Operation, Placement } from "../types";

interface GroupRow {
  name: string;
  count: string;
  cpu: string;
  memory: string;
  /** The group's own image (from a template; the form does not edit it). */
  image?: string;
  elastic: ElasticForm;
}

/** A new row: `count` nodes, no elasticity. */
function newGroup(name: string, count: number): GroupRow {
  return { name, count: String(count), cpu: "", memory: "", elastic: emptyElastic(count) };
}

/** Millicpus of a valid cpu amount. */
function millis(s: string): number {
  const t = s.trim();
  return t.endsWith("m") ? Number(t.slice(0, -1)) : Math.round(Number(t) * 1000);
}

const UNIT: Record<string, number> = { "": 1, B: 1, K: 1024, Ki: 1024, KiB: 1024, k: 1024, M: 2 ** 20, Mi: 2 ** 20, MiB: 2 ** 20, G: 2 ** 30, Gi: 2 ** 30, GiB: 2 ** 30, T: 2 ** 40, Ti: 2 ** 40, TiB: 2 ** 40, KB: 1e3, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Bytes of a valid size. */
function sizeBytes(s: string): number {
  const m = /^(\d*\.?\d+)\s*([A-Za-z]*)$/.exec(s.trim());
  return m ? Number(m[1]) * (UNIT[m[2]] ?? 0) : 0;
}

/** `k=v` pairs, one per line or comma-separated. */
function pairs(text: string): [Record<string, string>, string | null] {
  const out: Record<string, string> = {};
  for (const part of text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i <= 0) return [out, `"${part}" is not KEY=VALUE`];
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return [out, null];
}

export function CreateCluster({ session }: { session: Session }) {
  const images = useApi<Image[]>("/v1/images");
  const [name, setName] = useState("");
  const [image, setImage] = useState("");
  const [cpu, setCpu] = useState("1");
  const [memory, setMemory] = useState("512MiB");
  const [groups, setGroups] = useState<GroupRow[]>([newGroup("node", 2)]);
  const [placement, setPlacement] = useState<Placement>("spread");
  const [constraints, setConstraints] = useState("");
  const [env, setEnv] = useState("");
  const [onCreate, setOnCreate] = useState("");
  const [onDestroy, setOnDestroy] = useState("");
  const [onRecovery, setOnRecovery] = useState("");
  const templates = useTemplates();
  const [template, setTemplate] = useState<ClusterTemplate | null>(null);
  // What a template sets that the form does not show, sent unchanged.
  const [kept, setKept] = useState<Partial<ClusterSpec>>({});
  const [tried, setTried] = useState(false);
  const [op, setOp] = useState<Operation>();
  const [busy, error, run] = useAction();

  const chosenImage = image || images.data?.find((i) => i.name === "minimal")?.name || images.data?.[0]?.name || "";
  const imageMissing = !!image && !!images.data && !images.data.some((i) => i.name === image);

  // Every problem by field, with the same rules as the server (names.rs, quantity.rs,
  // elastic.rs).
  const problems: Record<string, string | null> = {
    name: nameProblem("cluster", name),
    image: imageMissing
      ? `there is no image "${image}" yet: ${session.role === "admin" ? "build it" : "ask the admin to build it"} on the Images page (recipe ${image}, a few minutes), then open this form again`
      : chosenImage
        ? null
        : "pick an image (build or import one on the Images page first)",
    cpu: cpuProblem(cpu),
    memory: memoryProblem(memory),
    constraints: pairs(constraints)[1],
    env: pairs(env)[1],
  };
  const names = new Set<string>();
  groups.forEach((g, i) => {
    problems[`g${i}.name`] = nameProblem("node group", g.name) ?? (names.has(g.name) ? `node group "${g.name}" appears twice` : null);
    names.add(g.name);
    const n = Number(g.count);
    problems[`g${i}.count`] = /^\d+$/.test(g.count) && n <= 1000 ? null : "count is a whole number from 0 to 1000";
    problems[`g${i}.cpu`] = g.cpu ? cpuProblem(g.cpu) : null;
    problems[`g${i}.memory`] = g.memory ? memoryProblem(g.memory) : null;
    for (const [field, problem] of Object.entries(elasticProblems(g.elastic, n, groups.map((x) => x.name)))) {
      problems[`g${i}.e.${field}`] = problem;
    }
  });
  if (!groups.length) problems.groups = "add at least one node group";
  const valid = Object.values(problems).every((p) => !p);

  const total = groups.reduce(
    (a, g) => {
      const n = Number(g.count) || 0;
      const c = cpuProblem(g.cpu || cpu) ? 0 : millis(g.cpu || cpu);
      const m = memoryProblem(g.memory || memory) ? 0 : sizeBytes(g.memory || memory);
      return { nodes: a.nodes + n, cpu: a.cpu + n * c, mem: a.mem + n * m };
    },
    { nodes: 0, cpu: 0, mem: 0 },
  );

  const shown = (key: string, edited: boolean) => (tried || edited ? problems[key] : null);
  const setGroup = (i: number, patch: Partial<GroupRow>) => setGroups(groups.map((g, j) => (j === i ? { ...g, ...patch } : g)));

  const submit = (e: Event) => {
    e.preventDefault();
    setTried(true);
    if (!valid) return;
    const spec: ClusterSpec = {
      name,
      image: chosenImage,
      resources: { cpu: cpu.trim(), memory: memory.trim(), pids: 1024 },
      node_groups: groups.map((g) => ({
        name: g.name,
        count: Number(g.count),
        ...(g.cpu || g.memory ? { resources: { cpu: (g.cpu || cpu).trim(), memory: (g.memory || memory).trim(), pids: 1024 } } : {}),
        ...(g.image ? { image: g.image } : {}),
        ...(g.elastic.on ? { elastic: elasticSpec(g.elastic) } : {}),
      })),
      placement,
      ...kept,
    };
    const [cons] = pairs(constraints);
    if (Object.keys(cons).length) spec.constraints = cons;
    const [vars] = pairs(env);
    if (Object.keys(vars).length) spec.env = vars;
    if (onCreate.trim() || onDestroy.trim() || onRecovery.trim()) {
      spec.scripts = {};
      if (onCreate.trim()) spec.scripts.on_create = onCreate;
      if (onDestroy.trim()) spec.scripts.on_destroy = onDestroy;
      if (onRecovery.trim()) spec.scripts.on_recovery = onRecovery;
    }
    run(async () => {
      const first = await api<Operation>("POST", "/v1/clusters", spec);
      const end = await follow(first, setOp);
      if (end.status === "succeeded") navigate("clusters", session.user, name);
    });
  };

  /** Fills the form from a template (or back to the defaults for none). */
  const applyTemplate = (t: ClusterTemplate | null) => {
    setTemplate(t);
    const spec = t?.spec;
    const res = spec?.resources;
    setImage(spec?.image ?? "");
    setCpu(res?.cpu ?? "1");
    setMemory(res?.memory ?? "512MiB");
    setGroups(
      spec?.node_groups.length
        ? spec.node_groups.map((g) => ({
            ...newGroup(g.name, g.count),
            cpu: g.resources?.cpu ?? "",
            memory: g.resources?.memory ?? "",
            image: g.image,
            elastic: elasticForm(g.elastic, g.count),
          }))
        : [newGroup("node", spec?.nodes ?? 2)],
    );
    setPlacement(spec?.placement ?? "spread");
    setConstraints(Object.entries(spec?.constraints ?? {}).map(([k, v]) => `${k}=${v}`).join(", "));
    setEnv(Object.entries(spec?.env ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"));
    setOnCreate(spec?.scripts?.on_create ?? "");
    setOnDestroy(spec?.scripts?.on_destroy ?? "");
    setOnRecovery(spec?.scripts?.on_recovery ?? "");
    const rest: Partial<ClusterSpec> = {};
    if (spec?.subnet) rest.subnet = spec.subnet;
    if (spec?.recovery) rest.recovery = spec.recovery;
    if (spec?.max_unavailable !== undefined) rest.max_unavailable = spec.max_unavailable;
    setKept(rest);
  };

  return (
    <div class="page">
      <div class="page-head">
        <h1>New cluster</h1>
        <a class="btn" href={href("clusters")}>
          Cancel
        </a>
      </div>
      <form class="form" onSubmit={submit} noValidate>
        <Card title="Cluster">
          <div class="form-grid">
            {templates.length > 0 && (
              <Field label="Template" problem={null} help={template ? template.description : "Start from an empty form, or from a ready-made cluster."}>
                <select name="template" value={template?.name ?? ""} onChange={(e) => applyTemplate(templates.find((t) => t.name === e.currentTarget.value) ?? null)}>
                  <option value="">none</option>
                  {templates.map((t) => (
                    <option key={t.name} value={t.name}>
                      {t.name}
                    </option>
                  ))}
                </select>
              </Field>
            )}
            <Field label="Name" problem={shown("name", name !== "")} help="Lowercase letters, digits and '-'; it names the cluster's nodes' domain.">
              <input name="name" value={name} placeholder="e.g. hpc-lab" onInput={(e) => setName(e.currentTarget.value)} autoFocus />
            </Field>
            <Field label="Image" problem={shown("image", imageMissing)} help="Every node starts from this image.">
              <select name="image" value={chosenImage} onChange={(e) => setImage(e.currentTarget.value)}>
                {imageMissing && <option value={image}>{image} (not built yet)</option>}
                {(images.data ?? []).map((i) => (
                  <option key={`${i.owner}/${i.name}`} value={i.name}>
                    {i.name} {i.owner !== session.user ? `(${i.owner})` : ""}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="CPU per node" problem={shown("cpu", cpu !== "1")} help="e.g. 1, 0.5 or 500m">
              <input name="cpu" value={cpu} onInput={(e) => setCpu(e.currentTarget.value)} />
            </Field>
            <Field label="Memory per node" problem={shown("memory", memory !== "512MiB")} help="e.g. 512MiB or 2GiB">
              <input name="memory" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
            </Field>
          </div>
        </Card>

        <Card
          title="Node groups"
          actions={
            <button type="button" class="btn btn-small" onClick={() => setGroups([...groups, newGroup(`group${groups.length + 1}`, 1)])}>
              Add group
            </button>
          }
        >
          <p class="muted small">
            Nodes are named &lt;group&gt;-0, &lt;group&gt;-1, …; leave cpu and memory empty to use the cluster's. An elastic group stays between its min and max
            nodes; triggers move it, and so can you (Scale) or the nodes themselves.
          </p>
          {problems.groups && tried && <div class="field-error">{problems.groups}</div>}
          <table class="table table-form">
            <thead>
              <tr>
                <th>Group</th>
                <th>Nodes</th>
                <th>CPU</th>
                <th>Memory</th>
                <th>Elastic</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {groups.map((g, i) => [
                <tr key={i}>
                  <td>
                    <input name={`group-${i}-name`} value={g.name} onInput={(e) => setGroup(i, { name: e.currentTarget.value })} />
                    <FieldError problem={shown(`g${i}.name`, true)} />
                  </td>
                  <td>
                    <input name={`group-${i}-count`} class="narrow" type="number" min={0} value={g.count} onInput={(e) => setGroup(i, { count: e.currentTarget.value })} />
                    <FieldError problem={shown(`g${i}.count`, true)} />
                  </td>
                  <td>
                    <input name={`group-${i}-cpu`} class="narrow" value={g.cpu} placeholder={cpu} onInput={(e) => setGroup(i, { cpu: e.currentTarget.value })} />
                    <FieldError problem={shown(`g${i}.cpu`, true)} />
                  </td>
                  <td>
                    <input name={`group-${i}-memory`} class="narrow" value={g.memory} placeholder={memory} onInput={(e) => setGroup(i, { memory: e.currentTarget.value })} />
                    <FieldError problem={shown(`g${i}.memory`, true)} />
                  </td>
                  <td>
                    <label class="check">
                      <input
                        type="checkbox"
                        name={`group-${i}-elastic`}
                        checked={g.elastic.on}
                        onChange={(e) => setGroup(i, { elastic: { ...(e.currentTarget.checked && !g.elastic.on ? emptyElastic(Number(g.count) || 0) : g.elastic), on: e.currentTarget.checked } })}
                      />
                      elastic
                    </label>
                  </td>
                  <td class="num">
                    {groups.length > 1 && (
                      <button type="button" class="btn btn-small btn-ghost" onClick={() => setGroups(groups.filter((_, j) => j !== i))}>
                        Remove
                      </button>
                    )}
                  </td>
                </tr>,
                g.elastic.on && (
                  <tr key={`${i}-elastic`} class="elastic-row" data-elastic-group={i}>
                    <td colSpan={6}>
                      <ElasticFields
                        prefix={`group-${i}`}
                        form={g.elastic}
                        problem={(field) => shown(`g${i}.e.${field}`, true) ?? null}
                        onChange={(elastic) => setGroup(i, { elastic })}
                      />
                    </td>
                  </tr>
                ),
              ])}
            </tbody>
          </table>
        </Card>

        <Card title="Placement and scripts">
          <div class="form-grid">
            <Field label="Placement" problem={null} help={placement === "spread" ? "Nodes on different hosts where possible: a lost host takes few of them." : "Nodes on the fewest hosts, so idle hosts can be powered off."}>
              <div class="segmented">
                {(["spread", "pack"] as Placement[]).map((p) => (
                  <button type="button" key={p} class={placement === p ? "on" : ""} onClick={() => setPlacement(p)}>
                    {p}
                  </button>
                ))}
              </div>
            </Field>
            <Field label="Host constraints" problem={shown("constraints", constraints !== "")} help="Labels the hosts must carry, e.g. site=a, gpu=yes">
              <input name="constraints" value={constraints} placeholder="site=a" onInput={(e) => setConstraints(e.currentTarget.value)} />
            </Field>
            <Field label="Environment" problem={shown("env", env !== "")} help="KEY=VALUE per line, set in every node and its scripts">
              <textarea name="env" rows={3} value={env} onInput={(e) => setEnv(e.currentTarget.value)} />
            </Field>
            <Field label="On create" problem={null} help="Shell script run once in each node when it first starts">
              <textarea name="on_create" rows={3} class="mono" value={onCreate} onInput={(e) => setOnCreate(e.currentTarget.value)} />
            </Field>
            <Field label="On destroy" problem={null} help="Shell script run in each node before it is deleted">
              <textarea name="on_destroy" rows={3} class="mono" value={onDestroy} onInput={(e) => setOnDestroy(e.currentTarget.value)} />
            </Field>
            <Field label="On recovery" problem={null} help="Shell script run in a node started again on another host after its host was lost">
              <textarea name="on_recovery" rows={3} class="mono" value={onRecovery} onInput={(e) => setOnRecovery(e.currentTarget.value)} />
            </Field>
          </div>
        </Card>

        <div class="form-foot">
          <div class="summary">
            <strong>{total.nodes}</strong> nodes · <strong>{cpus(total.cpu)}</strong> cpus · <strong>{bytes(total.mem)}</strong> memory
          </div>
          <button class="btn btn-primary" type="submit" disabled={busy} data-testid="create">
            {busy ? "Creating…" : "Create cluster"}
          </button>
        </div>
        {tried && !valid && <div class="alert alert-error">Correct the highlighted fields, then create the cluster.</div>}
        <ErrorBox error={error} />
        <OperationStatus op={op} />
        {op && (
          <p>
            <a href={href("clusters", session.user, name)}>Open the cluster's page →</a>
          </p>
        )}
      </form>
    </div>
  );
}

function Field(props: { label: string; problem: string | null; help?: string; children: ComponentChildren }) {
  return (
    <label class={`field ${props.problem ? "has-error" : ""}`}>
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.problem ? <FieldError problem={props.problem} /> : props.help && <span class="field-help">{props.help}</span>}
    </label>
  );
}

function FieldError({ problem }: { problem: string | null }) {
  return problem ? <div class="field-error">{problem}</div> : null;
}

/** The server's templates, when it serves them (an older server has none to offer). */
function useTemplates(): ClusterTemplate[] {
  const [list, setList] = useState<ClusterTemplate[]>([]);
  useEffect(() => {
    let alive = true;
    // Ask only a server that documents the endpoint: a 404 would be console noise.
    documentedPaths().then(async (paths) => {
      if (!alive || !paths.has("/v1/templates")) return;
      try {
        const got = await api<ClusterTemplate[]>("GET", "/v1/templates");
        if (alive) setList(got);
      } catch {
        // Without templates the form still works from empty.
      }
    });
    return () => {
      alive = false;
    };
  }, []);
  return list;
}
