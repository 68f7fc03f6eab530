// The dashboard: the pool at a glance for the admin, one's own use for a user.

import type { Session } from "../api";
import { Badge, Card, Empty, ErrorBox, Stat, UsageBar } from "../components/ui";
import { EventList } from "../components/events";
import { bytes, cpus, percent } from "../format";
import { useApi } from "../hooks";
import { href } from "../router";
import type { Cluster, EnergyReport, Host, Image } from "../types";
import { ClusterTable } from "./clusters";

/** Joules as kilowatt-hours, for people. */
function kwh(joules: number): string {
  const k = joules / 3.6e6;
  return k >= 10 ? `${k.toFixed(0)} kWh` : k >= 0.1 ? `${k.toFixed(2)} kWh` : `${(joules / 3600).toFixed(1)} Wh`;
}

export function Dashboard({ session }: { session: Session }) {
  return session.role === "admin" ? <AdminDashboard /> : <UserDashboard session={session} />;
}

function AdminDashboard() {
  const hosts = useApi<Host[]>("/v1/hosts", 10000);
  const clusters = useApi<Cluster[]>("/v1/clusters", 10000);
  const energy = useApi<EnergyReport>("/v1/energy", 10000);
  const live = (hosts.data ?? []).filter((h) => h.state !== "removed");
  const poweredOff = live.filter((h) => h.power && h.power.state !== "on").length;
  const cap = live.reduce(
    (a, h) => ({
      cpu: a.cpu + h.capacity.cpu_millis,
      mem: a.mem + h.capacity.memory_bytes,
      ucpu: a.ucpu + h.used_cpu_millis,
      umem: a.umem + h.used_memory_bytes,
    }),
    { cpu: 0, mem: 0, ucpu: 0, umem: 0 },
  );
  const ready = live.filter((h) => h.state === "ready").length;
  const all = clusters.data ?? [];
  const nodes = all.reduce((n, c) => n + c.nodes.length, 0);
  const byOwner = new Map<string, Cluster[]>();
  for (const c of all) byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Pool overview</h1>
      </div>
      <ErrorBox error={hosts.error ?? clusters.error} />
      <div class="stats">
        <Stat label="Hosts ready" value={`${ready} / ${live.length}`} sub={live.length - ready ? `${live.length - ready} not ready` : "all hosts ready"} />
        <Stat
          label="CPU allocated"
          value={`${cpus(cap.ucpu)} / ${cpus(cap.cpu)}`}
          sub={<UsageBar used={cap.ucpu} total={cap.cpu} label={`${cpus(Math.max(0, cap.cpu - cap.ucpu))} cpus free`} />}
        />
        <Stat
          label="Memory allocated"
          value={`${bytes(cap.umem)}`}
          sub={<UsageBar used={cap.umem} total={cap.mem} label={`${bytes(Math.max(0, cap.mem - cap.umem))} free of ${bytes(cap.mem)}`} />}
        />
        <Stat label="Clusters" value={all.length} sub={`${nodes} nodes, ${byOwner.size} owners`} />
        <Stat
          label="Power"
          value={`${Math.round(energy.data?.watts ?? 0)} W`}
          sub={
            energy.data
              ? `${kwh(energy.data.joules)} used, ${kwh(energy.data.saved_joules)} saved (${(energy.data.saved_fraction * 100).toFixed(1)}%); ${poweredOff} host(s) not on`
              : "no energy figures yet"
          }
        />
      </div>
      <div class="grid-2">
        <Card title="Hosts" actions={<a href={href("hosts")}>All hosts →</a>}>
          {live.length ? (
            <table class="table">
              <thead>
                <tr>
                  <th>Host</th>
                  <th>State</th>
                  <th>CPU</th>
                  <th>Memory</th>
                  <th class="num">Nodes</th>
                  <th>Power</th>
                </tr>
              </thead>
              <tbody>
                {live.map((h) => (
                  <tr key={h.name}>
                    <td>
                      <strong>{h.name}</strong>
                      <div class="muted small">{h.address}</div>
                    </td>
                    <td>
                      <Badge state={h.state} />
                    </td>
                    <td>
                      <UsageBar used={h.used_cpu_millis} total={h.capacity.cpu_millis} label={`${percent(h.used_cpu_millis, h.capacity.cpu_millis)}%`} />
                    </td>
                    <td>
                      <UsageBar
                        used={h.used_memory_bytes}
                        total={h.capacity.memory_bytes}
                        label={`${percent(h.used_memory_bytes, h.capacity.memory_bytes)}%`}
                      />
                    </td>
                    <td class="num">{h.nodes}</td>
                    <td>
                      <Badge state={h.power?.state ?? "on"} />
                      <div class="muted small">
                        {Math.round(h.energy?.watts ?? 0)} W{h.power?.driver ? ` · ${h.power.driver}` : ""}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>No hosts have joined yet.</Empty>
          )}
        </Card>
        <Card title="Recent events">
          <EventList path="/v1/events" limit={12} />
        </Card>
      </div>
      <Card title="Clusters by owner">
        {byOwner.size ? (
          <table class="table">
            <thead>
              <tr>
                <th>Owner</th>
                <th class="num">Clusters</th>
                <th class="num">Nodes</th>
                <th class="num">CPU</th>
                <th class="num">Memory</th>
                <th>States</th>
              </tr>
            </thead>
            <tbody>
              {[...byOwner].map(([owner, cs]) => {
                const ns = cs.flatMap((c) => c.nodes);
                return (
                  <tr key={owner}>
                    <td>
                      <strong>{owner}</strong>
                    </td>
                    <td class="num">{cs.length}</td>
                    <td class="num">{ns.length}</td>
                    <td class="num">{cpus(ns.reduce((a, n) => a + n.cpu_millis, 0))}</td>
                    <td class="num">{bytes(ns.reduce((a, n) => a + n.memory_bytes, 0))}</td>
                    <td>
                      {cs.map((c) => (
                        <a key={c.name} class="chip" href={href("clusters", c.owner, c.name)}>
                          {c.name} <Badge state={c.state} />
                        </a>
                      ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : (
          <Empty>No clusters yet.</Empty>
        )}
      </Card>
    </div>
  );
}

function UserDashboard({ session }: { session: Session }) {
  const clusters = useApi<Cluster[]>("/v1/clusters", 10000);
  const images = useApi<Image[]>("/v1/images");
  const all = clusters.data ?? [];
  const nodes = all.flatMap((c) => c.nodes);
  const running = nodes.filter((n) => n.state === "running").length;
  const mine = (images.data ?? []).filter((i) => i.owner === session.user).length;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Welcome, {session.user}</h1>
        <a class="btn btn-primary" href={href("clusters", "new")}>
          New cluster
        </a>
      </div>
      <ErrorBox error={clusters.error ?? images.error} />
      <div class="stats">
        <Stat label="My clusters" value={all.length} sub={`${all.filter((c) => c.state === "running").length} running`} />
        <Stat label="Nodes" value={nodes.length} sub={`${running} running`} />
        <Stat label="CPU in use" value={cpus(nodes.reduce((a, n) => a + n.cpu_millis, 0))} sub="cpus reserved by my nodes" />
        <Stat label="Memory in use" value={bytes(nodes.reduce((a, n) => a + n.memory_bytes, 0))} sub="reserved by my nodes" />
        <Stat label="Images" value={(images.data ?? []).length} sub={`${mine} of my own`} />
      </div>
      <div class="grid-2">
        <Card title="My clusters" actions={<a href={href("clusters")}>All clusters →</a>}>
          <ClusterTable clusters={all} showOwner={false} />
        </Card>
        <Card title="Recent events">
          <EventList path="/v1/events" limit={12} />
        </Card>
      </div>
    </div>
  );
}
