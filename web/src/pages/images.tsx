// Images: list, share / unshare, delete, save a node as an image, build (admin).

import { useState } from "preact/hooks";
import { api, follow, ownerQuery, type Session } from "../api";
import { Badge, Card, Confirm, Empty, ErrorBox, OperationStatus, Spinner, useAction } from "../components/ui";
import { ago, bytes } from "../format";
import { useApi } from "../hooks";
import { nameProblem } from "../names";
import type { Cluster, Image, Operation } from "../types";

export function Images({ session }: { session: Session }) {
  const images = useApi<Image[]>("/v1/images", 10000);
  const [busy, error, run, clearError] = useAction();
  const [op, setOp] = useState<Operation>();
  const [deleting, setDeleting] = useState<Image | null>(null);
  const mayChange = (i: Image) => i.owner === session.user || session.role === "admin";
  const path = (i: Image, verb = "") => `/v1/images/${encodeURIComponent(i.name)}${verb}${ownerQuery(i.owner)}`;
  const act = (f: () => Promise<unknown>) => run(async () => (await f(), images.reload()));
  const track = (f: () => Promise<Operation>) =>
    run(async () => {
      await follow(await f(), setOp);
      images.reload();
    });

  return (
    <div class="page">
      <div class="page-head">
        <h1>Images</h1>
      </div>
      <ErrorBox error={error ?? images.error} onClose={clearError} />
      <OperationStatus op={op} />
      <Card>
        {!images.data ? (
          <Spinner />
        ) : images.data.length === 0 ? (
          <Empty>No images yet. The admin builds the first one (minimal, debian or slurm) below.</Empty>
        ) : (
          <table class="table" data-testid="images">
            <thead>
              <tr>
                <th>Name</th>
                <th>Owner</th>
                <th>Visibility</th>
                <th>Source</th>
                <th class="num">Size</th>
                <th class="num">Layers</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {images.data.map((i) => (
                <tr key={`${i.owner}/${i.name}`} data-image={i.name}>
                  <td>
                    <strong>{i.name}</strong>
                    <div class="muted small mono" title={i.digest}>
                      {i.digest.replace(/^sha256:/, "").slice(0, 12)}
                    </div>
                  </td>
                  <td>{i.owner}</td>
                  <td>
                    <Badge state={i.visibility} />
                  </td>
                  <td>{i.source}</td>
                  <td class="num">{bytes(i.size_bytes)}</td>
                  <td class="num">{i.layers}</td>
                  <td class="muted">{ago(i.created_at)}</td>
                  <td class="num nowrap">
                    {mayChange(i) && (
                      <>
                        {i.visibility === "private" ? (
                          <button class="btn btn-small" disabled={busy} onClick={() => act(() => api("POST", path(i, "/share")))}>
                            Share
                          </button>
                        ) : (
                          <button class="btn btn-small" disabled={busy} onClick={() => act(() => api("POST", path(i, "/unshare")))}>
                            Unshare
                          </button>
                        )}{" "}
                        <button class="btn btn-small btn-danger-ghost" disabled={busy} onClick={() => setDeleting(i)}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <div class="grid-2">
        <SaveNode busy={busy} onSave={(cluster, owner, node, as) => track(() => api<Operation>("POST", `/v1/clusters/${encodeURIComponent(cluster)}/nodes/${encodeURIComponent(node)}/save${ownerQuery(owner)}`, { as }))} />
        {session.role === "admin" && <Build busy={busy} onBuild={(recipe, name) => track(() => api<Operation>("POST", "/v1/images/build", { recipe, name: name || undefined }))} />}
      </div>
      {deleting && (
        <Confirm
          title={`Delete image ${deleting.name}?`}
          confirm="Delete image"
          danger
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const i = deleting;
            setDeleting(null);
            act(() => api("DELETE", path(i)));
          }}
        >
          Clusters already running from it keep working; new clusters can no longer use it.
        </Confirm>
      )}
    </div>
  );
}

function SaveNode(props: { busy: boolean; onSave: (cluster: string, owner: string, node: string, as: string) => void }) {
  const clusters = useApi<Cluster[]>("/v1/clusters");
  const [pick, setPick] = useState("");
  const [as, setAs] = useState("");
  const [tried, setTried] = useState(false);
  const options = (clusters.data ?? []).flatMap((c) => c.nodes.filter((n) => n.state === "running").map((n) => ({ key: `${c.owner}/${c.name}/${n.name}`, c, n })));
  const chosen = options.find((o) => o.key === pick) ?? options[0];
  const problem = nameProblem("image", as);
  return (
    <Card title="Save a node as an image">
      {options.length === 0 ? (
        <Empty>No running nodes to save.</Empty>
      ) : (
        <form
          class="form-inline"
          onSubmit={(e) => {
            e.preventDefault();
            setTried(true);
            if (!problem && chosen) props.onSave(chosen.c.name, chosen.c.owner, chosen.n.name, as);
          }}
        >
          <label class="field">
            <span class="field-label">Node</span>
            <select value={chosen?.key} onChange={(e) => setPick(e.currentTarget.value)}>
              {options.map((o) => (
                <option key={o.key} value={o.key}>
                  {o.c.name}/{o.n.name}
                </option>
              ))}
            </select>
          </label>
          <label class={`field ${tried && problem ? "has-error" : ""}`}>
            <span class="field-label">New image name</span>
            <input value={as} placeholder="my-env" onInput={(e) => setAs(e.currentTarget.value)} />
            {tried && problem && <div class="field-error">{problem}</div>}
          </label>
          <button class="btn btn-primary" disabled={props.busy}>
            Save image
          </button>
        </form>
      )}
    </Card>
  );
}

/** The recipes `POST /v1/images/build` knows, and what each makes. */
const RECIPES: { recipe: string; label: string; note: string }[] = [
  { recipe: "minimal", label: "minimal (busybox)", note: "A few seconds." },
  { recipe: "debian", label: "debian (bookworm with sshd)", note: "Takes a few minutes: it downloads Debian packages." },
  {
    recipe: "slurm",
    label: "slurm (debian with Slurm)",
    note: "Takes a few minutes: it downloads Debian and Slurm's packages. Start clusters from it with the slurm template on the New cluster page.",
  },
];

function Build(props: { busy: boolean; onBuild: (recipe: string, name: string) => void }) {
  const [recipe, setRecipe] = useState("minimal");
  const [name, setName] = useState("");
  const problem = name ? nameProblem("image", name) : null;
  return (
    <Card title="Build an image">
      <form
        class="form-inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!problem) props.onBuild(recipe, name);
        }}
      >
        <label class="field">
          <span class="field-label">Recipe</span>
          <select name="recipe" value={recipe} onChange={(e) => setRecipe(e.currentTarget.value)}>
            {RECIPES.map((r) => (
              <option key={r.recipe} value={r.recipe}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label class={`field ${problem ? "has-error" : ""}`}>
          <span class="field-label">Name</span>
          <input name="image-name" value={name} placeholder={recipe} onInput={(e) => setName(e.currentTarget.value)} />
          {problem && <div class="field-error">{problem}</div>}
        </label>
        <button class="btn btn-primary" disabled={props.busy}>
          Build
        </button>
      </form>
      <p class="muted small" data-testid="recipe-note">
        {RECIPES.find((r) => r.recipe === recipe)?.note} Progress shows above while it builds.
      </p>
    </Card>
  );
}
