// The clusters list (state and size) and the shared cluster table.

import type { Session } from "../api";
import { Badge, Card, Empty, ErrorBox, Spinner } from "../components/ui";
import { ago, bytes, cpus } from "../format";
import { useApi } from "../hooks";
import { href } from "../router";
import type { Cluster } from "../types";

export function Clusters({ session }: { session: Session }) {
  const clusters = useApi<Cluster[]>("/v1/clusters", 5000);
  return (
    <div class="page">
      <div class="page-head">
        <h1>Clusters</h1>
        <a class="btn btn-primary" href={href("clusters", "new")} data-testid="new-cluster">
          New cluster
        </a>
      </div>
      <ErrorBox error={clusters.error} />
      <Card>
        {clusters.data ? <ClusterTable clusters={clusters.data} showOwner={session.role === "admin"} /> : <Spinner />}
      </Card>
    </div>
  );
}

/** Clusters with state, size and resources; each name links to its page. */
export function ClusterTable({ clusters, showOwner }: { clusters: Cluster[]; showOwner: boolean }) {
  if (!clusters.length)
    return (
      <Empty>
        No clusters yet. <a href={href("clusters", "new")}>Create one</a>.
      </Empty>
    );
  return (
    <table class="table" data-testid="clusters">
      <thead>
        <tr>
          <th>Name</th>
          {showOwner && <th>Owner</th>}
          <th>State</th>
          <th class="num">Nodes</th>
          <th>Image</th>
          <th class="num">CPU</th>
          <th class="num">Memory</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {clusters.map((c) => {
          const running = c.nodes.filter((n) => n.state === "running").length;
          return (
            <tr key={`${c.owner}/${c.name}`} data-cluster={c.name}>
              <td>
                <a href={href("clusters", c.owner, c.name)}>
                  <strong>{c.name}</strong>
                </a>
              </td>
              {showOwner && <td>{c.owner}</td>}
              <td>
                <Badge state={c.state} />
              </td>
              <td class="num">
                {running} / {c.nodes.length}
              </td>
              <td>{c.spec.image}</td>
              <td class="num">{cpus(c.nodes.reduce((a, n) => a + n.cpu_millis, 0))}</td>
              <td class="num">{bytes(c.nodes.reduce((a, n) => a + n.memory_bytes, 0))}</td>
              <td class="muted">{ago(c.created_at)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
