// Wire types of the REST API, mirroring crates/corral-api (one name per field
// everywhere: API, CLI, UI).

export type ErrorCode =
  | "malformed_request"
  | "invalid_request"
  | "invalid_name"
  | "not_found"
  | "already_exists"
  | "unknown_image"
  | "insufficient_capacity"
  | "quota_exceeded"
  | "unauthorized"
  | "forbidden"
  | "conflict"
  | "rate_limited"
  | "internal";

export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
}

export type Role = "admin" | "user";

export interface User {
  name: string;
  role: Role;
  ssh_keys: string[];
  created_at: number;
}

export interface TokenResponse {
  token: string;
  expires_at: number;
  user: string;
}

export interface Resources {
  cpu: string;
  memory: string;
  pids: number;
}

export interface NodeGroupSpec {
  name: string;
  count: number;
  resources?: Resources;
  image?: string;
  /** Keeps the group's size within [min, max]; `count` is then the size it starts at. */
  elastic?: ElasticSpec;
}

/** A node group's elasticity: its bounds and what moves its size between them. */
export interface ElasticSpec {
  min: number;
  max: number;
  /** Seconds after any change of size in which the metrics and idle-queue triggers wait; default 60. */
  cooldown?: number;
  metrics?: MetricsTrigger;
  schedule?: ScheduleSpec;
  queue?: QueueTrigger;
}

/** A change of size as OpenStack Senlin defines them: a one-key mapping. */
export type Adjustment =
  | { exact_capacity: number }
  | { change_in_capacity: number }
  | { change_in_percentage: { percent: number; min_step?: number } };

/** Grow or shrink on the group's mean cpu use (percent of its cpu limits) over a window. */
export interface MetricsTrigger {
  /** Seconds; default 300. */
  window?: number;
  scale_out_above?: number;
  scale_in_below?: number;
  /** Default one node more. */
  scale_out?: Adjustment;
  /** Default one node less. */
  scale_in?: Adjustment;
}

/** Calendar floors on the size, in a time zone. */
export interface ScheduleSpec {
  timezone?: string;
  rules: { days?: string; start: string; end: string; min: number }[];
}

/** Grow for the batch queue's pending jobs, shrink nodes it leaves idle. */
export interface QueueTrigger {
  probe: "slurm";
  idle_time?: number;
  probe_group?: string;
}

/** What last changed a node group's size. */
export interface GroupScaling {
  /** Seconds since the Unix epoch. */
  last_scaled: number;
  /** The change and why, e.g. "scaled worker 2→6: 4 jobs pending needing 6 nodes". */
  last_decision: string;
  /** A user, `elastic` (the elasticity manager) or `node:<name>`. */
  actor: string;
}

export interface LifecycleScripts {
  on_create?: string;
  on_destroy?: string;
  on_recovery?: string;
}

export type Placement = "spread" | "pack";

export interface ClusterSpec {
  name: string;
  image: string;
  node_groups: NodeGroupSpec[];
  nodes?: number;
  resources?: Resources;
  scripts?: LifecycleScripts;
  env?: Record<string, string>;
  subnet?: string;
  placement?: Placement;
  constraints?: Record<string, string>;
  recovery?: "auto" | "none";
  max_unavailable?: number;
}

export type ClusterState = "creating" | "running" | "degraded" | "stopping" | "stopped" | "deleting";
export type NodeState = "pending" | "creating" | "running" | "stopped" | "failed" | "deleting";

export interface Node {
  cluster: string;
  name: string;
  group: string;
  state: NodeState;
  address: string;
  host: string | null;
  image: string;
  cpu_millis: number;
  memory_bytes: number;
  pids_max: number;
  oom_kills: number;
  error: string | null;
  created_at: number;
  started_at: number | null;
}

export interface Cluster {
  name: string;
  owner: string;
  spec: ClusterSpec;
  state: ClusterState;
  network: { vni: number; subnet: string; gateway: string; mtu: number };
  nodes: Node[];
  created_at: number;
  /** The last change of size of each node group that changed, by group name. */
  scaling?: Record<string, GroupScaling>;
}

/** `GET /v1/templates`: a built-in template; its spec's `name` is empty. */
export interface ClusterTemplate {
  name: string;
  description: string;
  spec: ClusterSpec;
}

export type OperationStatus = "running" | "succeeded" | "failed";

export interface Operation {
  id: string;
  kind: string;
  target: string;
  owner: string;
  status: OperationStatus;
  progress: string;
  error: ApiErrorBody | null;
  created_at: number;
  updated_at: number;
}

export interface CorralEvent {
  seq: number;
  time: number;
  actor: string;
  /** Whose resource it concerns (a cluster's owner); absent for hosts and users. */
  owner?: string;
  target: string;
  kind: string;
  message: string;
}

export interface Image {
  name: string;
  owner: string;
  visibility: "private" | "public";
  digest: string;
  layers: number;
  size_bytes: number;
  source: "built" | "imported" | "saved";
  created_at: number;
}

export type HostState = "ready" | "unreachable" | "draining" | "removed";

export interface Host {
  name: string;
  address: string;
  state: HostState;
  labels: Record<string, string>;
  capacity: { cpu_millis: number; memory_bytes: number };
  used_cpu_millis: number;
  used_memory_bytes: number;
  nodes: number;
  last_seen: number;
  power?: HostPower;
  energy?: HostEnergy;
}

export type PowerState = "on" | "powering_off" | "off" | "powering_on" | "failed";

/** A host's power as Corral switches it; `driver` absent when it does not. */
export interface HostPower {
  state: PowerState;
  driver?: string;
  since: number;
  reason?: string;
  error?: string;
}

export interface HostEnergy {
  watts: number;
  joules: number;
  saved_joules: number;
}

/** `GET /v1/energy` (admin). */
export interface EnergyReport {
  since: number;
  joules: number;
  baseline_joules: number;
  saved_joules: number;
  saved_fraction: number;
  watts: number;
  clusters: Record<string, number>;
  projects: Record<string, number>;
}

export interface JoinToken {
  token: string;
  expires_at: number;
}

/** One sample of a node's use, every `interval_secs`. */
export interface MetricSample {
  t: number;
  cpu_percent: number;
  memory_bytes: number;
  rx_bytes_per_sec: number;
  tx_bytes_per_sec: number;
  disk_bytes: number;
}

export interface NodeMetrics {
  cluster: string;
  node: string;
  interval_secs: number;
  samples: MetricSample[];
}
