// Hosts (admin): state, capacity used and free, drain / restore, join tokens.

import { useState } from "preact/hooks";
import { api } from "../api";
import { Badge, Card, Confirm, Empty, ErrorBox, Spinner, UsageBar, useAction } from "../components/ui";
import { ago, bytes, cpus } from "../format";
import { useApi } from "../hooks";
import type { Host, JoinToken } from "../types";

export function Hosts() {
  const hosts = useApi<Host[]>("/v1/hosts", 5000);
  const [busy, error, run, clearError] = useAction();
  const [confirm, setConfirm] = useState<{ host: Host; verb: "drain" | "remove" } | null>(null);
  const [token, setToken] = useState<JoinToken>();
  const act = (f: () => Promise<unknown>) => run(async () => (await f(), hosts.reload()));
  const name = (h: Host) => `/v1/hosts/${encodeURIComponent(h.name)}`;

  return (
    <div class="page">
      <div class="page-head">
        <h1>Hosts</h1>
        <button class="btn btn-primary" disabled={busy} onClick={() => run(async () => setToken(await api<JoinToken>("POST", "/v1/hosts/join-tokens", {})))}>
          Add a host
        </button>
      </div>
      <ErrorBox error={error ?? hosts.error} onClose={clearError} />
      {token && (
        <div class="alert alert-info">
          <div>
            <strong>On the new host, run (once; the token expires {ago(token.expires_at).replace(" ago", "")}):</strong>
            <pre class="mono copy">
              corral agent --join https://{location.hostname}:7701 --token {token.token}
            </pre>
          </div>
        </div>
      )}
      <Card>
        {!hosts.data ? (
          <Spinner />
        ) : hosts.data.length === 0 ? (
          <Empty>No hosts yet.</Empty>
        ) : (
          <table class="table" data-testid="hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>State</th>
                <th>Labels</th>
                <th>CPU used / total</th>
                <th>Memory used / total</th>
                <th class="num">Nodes</th>
                <th>Last seen</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {hosts.data.map((h) => (
                <tr key={h.name} data-host={h.name}>
                  <td>
                    <strong>{h.name}</strong>
                    <div class="muted small mono">{h.address}</div>
                  </td>
                  <td>
                    <Badge state={h.state} />
                  </td>
                  <td>
                    {Object.keys(h.labels).length === 0 && <span class="muted">–</span>}
                    {Object.entries(h.labels).map(([k, v]) => (
                      <span key={k} class="chip">
                        {k}={v}
                      </span>
                    ))}
                  </td>
                  <td class="wide">
                    <UsageBar used={h.used_cpu_millis} total={h.capacity.cpu_millis} label={`${cpus(h.used_cpu_millis)} / ${cpus(h.capacity.cpu_millis)} cpus`} />
                  </td>
                  <td class="wide">
                    <UsageBar used={h.used_memory_bytes} total={h.capacity.memory_bytes} label={`${bytes(h.used_memory_bytes)} / ${bytes(h.capacity.memory_bytes)}`} />
                  </td>
                  <td class="num">{h.nodes}</td>
                  <td class="muted">{ago(h.last_seen)}</td>
                  <td class="num nowrap">
                    {h.state === "draining" ? (
                      <button class="btn btn-small" disabled={busy} onClick={() => act(() => api("POST", `${name(h)}/restore`))}>
                        Restore
                      </button>
                    ) : (
                      h.state !== "removed" && (
                        <button class="btn btn-small" disabled={busy} onClick={() => setConfirm({ host: h, verb: "drain" })}>
                          Drain
                        </button>
                      )
                    )}{" "}
                    {h.state !== "removed" && (
                      <button class="btn btn-small btn-danger-ghost" disabled={busy} onClick={() => setConfirm({ host: h, verb: "remove" })}>
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {confirm && (
        <Confirm
          title={`${confirm.verb === "drain" ? "Drain" : "Remove"} host ${confirm.host.name}?`}
          confirm={confirm.verb === "drain" ? "Drain host" : "Remove host"}
          danger={confirm.verb === "remove"}
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            const c = confirm;
            setConfirm(null);
            act(() => (c.verb === "drain" ? api("POST", `${name(c.host)}/drain`) : api("DELETE", name(c.host))));
          }}
        >
          {confirm.verb === "drain"
            ? `It takes no new nodes, and its ${confirm.host.nodes} nodes move to other hosts. Restore it when the maintenance is done.`
            : "Its certificate stops working at once; its agent must join again to come back."}
        </Confirm>
      )}
    </div>
  );
}
