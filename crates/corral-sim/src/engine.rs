//! The discrete-event simulation: a pool of simulated hosts, clusters with a workload
//! each, and a clock that jumps from event to event. At every instant where something
//! happened, one control pass runs the real decision code as the server's loops would:
//! the batch system gives slots to jobs, `elastic::decide` sizes each cluster,
//! `placement::Placer` puts pending nodes on powered-on hosts and `power::decide`
//! switches hosts. Energy is integrated per host with `energy::PowerModel` into an
//! `energy::Ledger`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use corral_api::Placement;
use corral_policy::consolidate::{self, HostLoad, NodeLoad};
use corral_policy::elastic::{self, ElasticPolicy, GroupState, NodeStatus, PendingJob, Work};
use corral_policy::energy::{Ledger, Owner, PowerModel};
use corral_policy::placement::{Decision, Demand, HostInfo, Labels, Placed, Placer};
use corral_policy::power::{self, ActionKind, HostPower, PowerPolicy, PowerState, Unplaced};

use crate::batch::Batch;
use crate::swf::Job;

const GIB: u64 = 1 << 30;

/// The hosts of a simulated pool.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// How many hosts.
    pub hosts: u32,
    /// Cpus of each host.
    pub host_cpus: u32,
    /// Memory of each host, GiB.
    pub host_memory_gib: u64,
    /// Their power draw.
    pub model: PowerModel,
    /// The power policy; `None` keeps every host on.
    pub power: Option<PowerPolicy>,
    /// How clusters' nodes are placed.
    pub placement: Placement,
    /// Seconds from a node placed on a powered host to it running.
    pub node_start: u64,
    /// Energy and powered time are counted up to this time at least, seconds.
    pub horizon: u64,
    /// Unix time of simulated second 0 (for calendar rules and the diurnal load).
    pub epoch: i64,
    /// Consolidation as the server's `--consolidate-interval` (seconds between two
    /// hosts chosen to empty); `None` turns it off.
    pub consolidate: Option<u64>,
    /// Seconds a node is down while it moves to another host (cold migration: stop,
    /// copy its writable layer, start).
    pub migrate_seconds: u64,
}

/// What a cluster runs.
#[derive(Debug, Clone)]
pub enum Workload {
    /// A batch queue replaying these jobs (sorted by submit time).
    Batch(Vec<Job>),
    /// A web service asking for this many cpus, one sample per `interval` seconds.
    Web {
        /// Seconds between samples.
        interval: u64,
        /// Cpus in demand, per sample.
        cpus: Vec<f64>,
    },
}

/// A simulated cluster: one node group.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Name.
    pub name: String,
    /// Project it belongs to.
    pub project: String,
    /// Cpus per node.
    pub node_cpus: u32,
    /// Memory per node, GiB.
    pub node_memory_gib: u64,
    /// Most nodes (the batch system's slots).
    pub max: u32,
    /// What it runs.
    pub workload: Workload,
    /// Its elasticity; `None` keeps `max` nodes all the time.
    pub elastic: Option<ElasticPolicy>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Joules drawn by the pool.
    pub joules: f64,
    /// Seconds hosts were powered (on, booting or shutting down), summed over hosts.
    pub host_seconds: f64,
    /// Hosts in the pool.
    pub hosts: u32,
    /// Boots, summed over hosts.
    pub power_ons: u64,
    /// Wait of every finished batch job, seconds, per cluster.
    pub waits: BTreeMap<String, Vec<u64>>,
    /// Batch jobs never finished.
    pub unfinished: usize,
    /// Cpu-seconds a web service asked for, and those it did not get.
    pub web_demand: f64,
    /// Cpu-seconds of web demand beyond the running nodes.
    pub web_unserved: f64,
    /// Busy cpus of the pool over time: (time, cpus) at each change.
    pub busy: Vec<(u64, f64)>,
    /// Energy per cluster (joules; the rest was no cluster's).
    pub cluster_joules: BTreeMap<String, f64>,
    /// Size changes, and the first few reasons.
    pub decisions: u64,
    /// The first decisions' reasons, as the cluster's events would show them.
    pub reasons: Vec<String>,
    /// Time the last event happened.
    pub end: u64,
    /// Nodes moved by consolidation.
    pub migrations: u64,
    /// Where powered host-seconds went beyond the ideal's count of hosts
    /// (⌈busy cpus / host cpus⌉): hosts on (or booting, shutting down) with no busy
    /// cpu — empty, spare or holding only idle nodes.
    pub unbusy_host_seconds: f64,
    /// Hosts with busy cpus beyond ⌈busy cpus / host cpus⌉: work spread over more
    /// hosts than it needs (fragmentation).
    pub fragment_host_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    HostBooted(usize, u32),
    HostOff(usize, u32),
    JobEnd(usize, usize),
    NodeReady(usize),
    Submit(usize, usize),
    WebSample(usize, usize),
    Timer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    Pending,
    Starting,
    Running,
}

#[derive(Debug, Clone)]
struct Node {
    cluster: usize,
    state: NodeState,
    host: Option<usize>,
    job: Option<usize>,
    idle_since: u64,
    created: u64,
    cpu_use: f64,
    alive: bool,
    /// Being moved by consolidation (down until it runs on its new host).
    moving: bool,
}

#[derive(Debug, Clone)]
struct Host {
    state: PowerState,
    since: u64,
    attempts: u32,
    generation: u32,
    nodes: u32,
    empty_since: Option<u64>,
    busy_cpus: f64,
    /// Cpus the nodes of each cluster hold here.
    held: Vec<u32>,
    last: u64,
}

struct ClusterRt {
    alive: Vec<usize>,
    batch: Option<Batch>,
    /// Jobs given slots whose nodes are not all there: (job, nodes still lacking).
    configuring: VecDeque<(usize, u32)>,
    /// Nodes of each job, by job index.
    job_nodes: Vec<Vec<usize>>,
    /// Nodes still lacking, by job index.
    lacking: Vec<u32>,
    last_scaled: Option<u64>,
    cpu: VecDeque<(u64, f64)>,
    web_demand: f64,
    waits: Vec<u64>,
    jobs_done: usize,
}

/// One simulation.
struct Engine<'a> {
    pool: &'a PoolSpec,
    specs: &'a [ClusterSpec],
    now: u64,
    hosts: Vec<Host>,
    names: Vec<String>,
    nodes: Vec<Node>,
    pending: Vec<usize>,
    clusters: Vec<ClusterRt>,
    owners: Vec<Owner>,
    events: BinaryHeap<Reverse<(u64, Event)>>,
    timers: BTreeSet<u64>,
    ledger: Ledger,
    out: Outcome,
    pool_busy: f64,
    no_labels: Labels,
    /// Whether room or demand changed since the last placement; if not, it would
    /// decide the same (the real scheduler likewise runs when the store changes).
    place_dirty: bool,
    unplaced: Vec<Unplaced>,
    /// The host consolidation is emptying, and when the last one was chosen.
    consolidating: Option<usize>,
    last_consolidation: Option<u64>,
    /// The pool as of the last pass, for the host-seconds accounting: (time, hosts
    /// powered without busy cpus, hosts with busy cpus beyond the ideal's count).
    accounted: (u64, f64, f64),
}

/// Runs `clusters` on `pool` until every job is done and the pool is quiet.
pub fn run(pool: &PoolSpec, clusters: &[ClusterSpec]) -> Outcome {
    Engine::new(pool, clusters).run()
}

impl Engine<'_> {
    /// The event loop, until no event is left.
    fn run(mut self) -> Outcome {
        let e = &mut self;
        while let Some(Reverse((t, ev))) = e.events.pop() {
            e.now = t;
            e.apply(ev);
            while let Some(&Reverse((t2, _))) = e.events.peek() {
                if t2 != t {
                    break;
                }
                let Reverse((_, ev)) = e.events.pop().expect("peeked");
                e.apply(ev);
            }
            e.control();
        }
        self.finish()
    }
}

impl<'a> Engine<'a> {
    fn new(pool: &'a PoolSpec, specs: &'a [ClusterSpec]) -> Self {
        let n = pool.hosts as usize;
        let hosts = (0..n)
            .map(|_| Host {
                state: PowerState::On,
                since: 0,
                attempts: 0,
                generation: 0,
                nodes: 0,
                empty_since: Some(0),
                busy_cpus: 0.0,
                held: vec![0; specs.len()],
                last: 0,
            })
            .collect();
        let mut e = Engine {
            pool,
            specs,
            now: 0,
            hosts,
            names: (0..n).map(|i| format!("host-{i}")).collect(),
            nodes: Vec::new(),
            pending: Vec::new(),
            clusters: Vec::new(),
            owners: specs
                .iter()
                .map(|s| Owner {
                    cluster: s.name.clone(),
                    project: s.project.clone(),
                })
                .collect(),
            events: BinaryHeap::new(),
            timers: BTreeSet::new(),
            ledger: Ledger::new(n),
            out: Outcome {
                hosts: pool.hosts,
                ..Outcome::default()
            },
            pool_busy: 0.0,
            no_labels: Labels::new(),
            place_dirty: true,
            unplaced: Vec::new(),
            consolidating: None,
            last_consolidation: None,
            accounted: (0, 0.0, 0.0),
        };
        for (c, s) in specs.iter().enumerate() {
            let (batch, jobs) = match &s.workload {
                Workload::Batch(jobs) => {
                    for (j, job) in jobs.iter().enumerate() {
                        e.events.push(Reverse((job.submit, Event::Submit(c, j))));
                    }
                    (Some(Batch::new(s.max)), jobs.len())
                }
                Workload::Web { interval, cpus } => {
                    for k in 0..cpus.len() {
                        e.events.push(Reverse((k as u64 * interval, Event::WebSample(c, k))));
                    }
                    (None, 0)
                }
            };
            e.clusters.push(ClusterRt {
                alive: Vec::new(),
                batch,
                configuring: VecDeque::new(),
                job_nodes: vec![Vec::new(); jobs],
                lacking: vec![0; jobs],
                last_scaled: None,
                cpu: VecDeque::new(),
                web_demand: 0.0,
                waits: Vec::new(),
                jobs_done: 0,
            });
            let initial = match &s.elastic {
                None => s.max,
                Some(p) => p.bounds.min,
            };
            for _ in 0..initial {
                e.create_node(c);
            }
        }
        e.events.push(Reverse((0, Event::Timer)));
        e
    }

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Submit(c, j) => {
                if let Some(b) = self.clusters[c].batch.as_mut() {
                    b.submit(j);
                }
            }
            Event::JobEnd(c, j) => self.job_end(c, j),
            Event::NodeReady(n) => self.node_ready(n),
            Event::HostBooted(h, g) => {
                if self.hosts[h].generation == g && self.hosts[h].state == PowerState::PoweringOn {
                    self.set_host_state(h, PowerState::On);
                    self.place_dirty = true;
                    let empty = self.hosts[h].nodes == 0;
                    self.hosts[h].empty_since = empty.then_some(self.now);
                }
            }
            Event::HostOff(h, g) => {
                if self.hosts[h].generation == g && self.hosts[h].state == PowerState::PoweringOff {
                    self.set_host_state(h, PowerState::Off);
                }
            }
            Event::WebSample(c, k) => self.web_sample(c, k),
            Event::Timer => {
                self.timers.remove(&self.now);
            }
        }
    }

    /// One pass of the control loops, as the server would run them after a change.
    fn control(&mut self) {
        // The group whose queue head has waited longest goes first, so that room the
        // pool frees goes to the oldest waiting job, as Corral places pending nodes
        // oldest first.
        let mut order: Vec<usize> = (0..self.clusters.len()).collect();
        order.sort_by_key(|&c| {
            let head = self.clusters[c].batch.as_ref().and_then(Batch::head);
            (head.map_or(u64::MAX, |j| self.jobs(c)[j].submit), c)
        });
        let mut freed = false;
        for &c in &order {
            self.batch_schedule(c);
            freed |= self.elastic(c);
        }
        // Room a group gave back goes to the others' queues in the same pass (the real
        // loops would see it at their next look, seconds later).
        if freed {
            for &c in &order {
                self.batch_schedule(c);
                self.elastic(c);
            }
        }
        if self.place_dirty {
            self.unplaced = self.place();
            self.place_dirty = false;
        }
        let unplaced = std::mem::take(&mut self.unplaced);
        self.power(&unplaced);
        self.unplaced = unplaced;
        self.consolidate();
        self.arm_timers();
        self.account();
        if self.out.busy.last().is_none_or(|&(_, b)| b != self.pool_busy) {
            self.out.busy.push((self.now, self.pool_busy));
        }
    }

    // --- batch -----------------------------------------------------------------

    fn jobs(&self, c: usize) -> &'a [Job] {
        match &self.specs[c].workload {
            Workload::Batch(jobs) => jobs,
            Workload::Web { .. } => &[],
        }
    }

    fn batch_schedule(&mut self, c: usize) {
        self.feed_configuring(c);
        let jobs = self.jobs(c);
        if self.specs[c].elastic.is_some() && self.clusters[c].batch.is_some() {
            let slots = self.slots(c);
            if let Some(b) = self.clusters[c].batch.as_mut() {
                b.set_slots(slots);
            }
        }
        let Some(b) = self.clusters[c].batch.as_mut() else {
            return;
        };
        for j in b.schedule(self.now, jobs) {
            // Idle nodes first, the furthest along first (running, then starting, then
            // pending), and on the fullest hosts first: Slurm picks nodes by weight, and
            // weights that follow the host's fill keep emptier hosts emptying.
            let mut free: Vec<usize> = self.clusters[c]
                .alive
                .iter()
                .copied()
                .filter(|&n| self.nodes[n].job.is_none())
                .collect();
            free.sort_by_key(|&n| {
                let node = &self.nodes[n];
                let rank = match node.state {
                    NodeState::Running => 0,
                    NodeState::Starting => 1,
                    NodeState::Pending => 2,
                };
                let fill = node.host.map_or(0.0, |h| self.hosts[h].busy_cpus) as u64;
                (rank, std::cmp::Reverse(fill), n)
            });
            let need = jobs[j].nodes as usize;
            for &n in free.iter().take(need) {
                self.nodes[n].job = Some(j);
            }
            let taken = free.len().min(need);
            let rt = &mut self.clusters[c];
            rt.job_nodes[j] = free[..taken].to_vec();
            rt.lacking[j] = (need - taken) as u32;
            if taken < need {
                rt.configuring.push_back((j, (need - taken) as u32));
            } else {
                self.try_start(c, j);
            }
        }
    }

    /// The slots an elastic group's batch system sees now: the nodes it has, the nodes
    /// its jobs were promised and lack, and the room the pool has for more (on hosts
    /// on or off), up to its `max`. Room already promised (nodes waiting for a host,
    /// other groups' jobs lacking nodes) is not counted twice. A Slurm with cloud nodes
    /// learns the same by its ResumeTimeout (nodes that cannot come up are marked down);
    /// here it is known at once, and no job holds nodes while waiting for room that
    /// another job holds (which deadlocks two groups wider than the pool).
    fn slots(&self, c: usize) -> u32 {
        let s = &self.specs[c];
        let cpu = self.pool.host_cpus as u64 * 1000;
        let mem = self.pool.host_memory_gib * GIB;
        let (node_cpu, node_mem) = (s.node_cpus as u64 * 1000, s.node_memory_gib * GIB);
        let mut room: i64 = 0;
        for h in self.hosts.iter().filter(|h| h.state != PowerState::Failed) {
            let (mut used_cpu, mut used_mem) = (0, 0);
            for (k, &held) in h.held.iter().enumerate() {
                let n = (held / self.specs[k].node_cpus) as u64;
                used_cpu += n * self.specs[k].node_cpus as u64 * 1000;
                used_mem += n * self.specs[k].node_memory_gib * GIB;
            }
            room += ((cpu - used_cpu) / node_cpu).min((mem - used_mem) / node_mem) as i64;
        }
        room -= self
            .pending
            .iter()
            .filter(|&&n| self.nodes[n].alive && self.nodes[n].host.is_none())
            .count() as i64;
        let lacking = |rt: &ClusterRt| rt.configuring.iter().map(|&(_, n)| n as i64).sum::<i64>();
        room -= self.clusters.iter().map(lacking).sum::<i64>();
        let rt = &self.clusters[c];
        let mine = rt.alive.len() as i64 + lacking(rt);
        (mine + room.max(0)).clamp(0, s.max as i64) as u32
    }

    /// Gives nodes left idle (a job ended) to jobs still waiting for nodes, oldest first.
    fn feed_configuring(&mut self, c: usize) {
        if self.clusters[c].configuring.is_empty() {
            return;
        }
        let idle: Vec<usize> = self.clusters[c]
            .alive
            .iter()
            .copied()
            .filter(|&n| self.nodes[n].job.is_none())
            .collect();
        let mut ready = Vec::new();
        for n in idle {
            let rt = &mut self.clusters[c];
            let Some(front) = rt.configuring.front_mut() else { break };
            let j = front.0;
            front.1 -= 1;
            if front.1 == 0 {
                rt.configuring.pop_front();
                ready.push(j);
            }
            rt.lacking[j] -= 1;
            rt.job_nodes[j].push(n);
            self.nodes[n].job = Some(j);
        }
        for j in ready {
            self.try_start(c, j);
        }
    }

    /// Starts a job whose nodes are all running.
    fn try_start(&mut self, c: usize, j: usize) {
        let rt = &self.clusters[c];
        if rt.lacking[j] > 0
            || rt.job_nodes[j]
                .iter()
                .any(|&n| self.nodes[n].state != NodeState::Running)
        {
            return;
        }
        let job = self.jobs(c)[j];
        let cpus = self.specs[c].node_cpus as f64;
        for n in self.clusters[c].job_nodes[j].clone() {
            self.set_node_use(n, cpus);
        }
        self.clusters[c].waits.push(self.now - job.submit);
        self.events.push(Reverse((self.now + job.runtime, Event::JobEnd(c, j))));
    }

    fn job_end(&mut self, c: usize, j: usize) {
        for n in std::mem::take(&mut self.clusters[c].job_nodes[j]) {
            self.set_node_use(n, 0.0);
            let node = &mut self.nodes[n];
            node.job = None;
            node.idle_since = self.now;
        }
        let rt = &mut self.clusters[c];
        rt.jobs_done += 1;
        if let Some(b) = rt.batch.as_mut() {
            b.finish(j);
        }
    }

    // --- web -------------------------------------------------------------------

    fn web_sample(&mut self, c: usize, k: usize) {
        let Workload::Web { interval, cpus } = &self.specs[c].workload else {
            return;
        };
        let demand = cpus[k];
        self.clusters[c].web_demand = demand;
        let capacity = self.web_refresh(c);
        let served = demand.min(capacity);
        self.out.web_demand += demand * *interval as f64;
        self.out.web_unserved += (demand - served) * *interval as f64;
        let util = if capacity > 0.0 { served / capacity } else { 1.0 };
        let t = self.now + self.pool.epoch as u64;
        let rt = &mut self.clusters[c];
        rt.cpu.push_back((t, util));
        let window = self.specs[c]
            .elastic
            .as_ref()
            .and_then(|p| p.metrics)
            .map_or(0, |m| m.window);
        while rt.cpu.front().is_some_and(|&(s, _)| s + window < t) {
            rt.cpu.pop_front();
        }
    }

    /// Spreads the web demand over the running nodes; returns their capacity in cpus.
    fn web_refresh(&mut self, c: usize) -> f64 {
        let running: Vec<usize> = self.clusters[c]
            .alive
            .iter()
            .copied()
            .filter(|&n| self.nodes[n].state == NodeState::Running)
            .collect();
        let cpus = self.specs[c].node_cpus as f64;
        let capacity = running.len() as f64 * cpus;
        let per = if running.is_empty() {
            0.0
        } else {
            (self.clusters[c].web_demand / running.len() as f64).min(cpus)
        };
        for n in running {
            self.set_node_use(n, per);
        }
        capacity
    }

    // --- elasticity ------------------------------------------------------------

    /// Runs the elasticity manager for cluster `c`; whether it removed nodes.
    fn elastic(&mut self, c: usize) -> bool {
        let Some(policy) = &self.specs[c].elastic else {
            return false;
        };
        let epoch = self.pool.epoch as u64;
        let rt = &self.clusters[c];
        let web = rt.batch.is_none();
        let statuses: Vec<NodeStatus> = rt
            .alive
            .iter()
            .map(|&n| {
                let node = &self.nodes[n];
                let work = match (web, node.job) {
                    (true, _) => Work::Unknown,
                    (false, Some(_)) => Work::Busy,
                    (false, None) => Work::Idle(node.idle_since + epoch),
                };
                NodeStatus {
                    created: node.created + epoch,
                    work,
                }
            })
            .collect();
        let pending: Vec<PendingJob> = rt.configuring.iter().map(|&(_, n)| PendingJob { nodes: n }).collect();
        let cpu: Vec<(u64, f64)> = rt.cpu.iter().copied().collect();
        let state = GroupState {
            nodes: &statuses,
            last_scaled: rt.last_scaled.map(|t| t + epoch),
            pending: &pending,
            cpu: &cpu,
        };
        let Some(d) = elastic::decide(policy, &state, self.now + epoch) else {
            return false;
        };
        self.out.decisions += 1;
        if self.out.reasons.len() < 5 {
            self.out.reasons.push(d.reason.clone());
        }
        self.clusters[c].last_scaled = Some(self.now);
        let doomed: Vec<usize> = d.remove.iter().map(|&i| self.clusters[c].alive[i]).collect();
        for n in doomed {
            self.remove_node(n);
        }
        for _ in d.from..d.to {
            self.create_node(c);
        }
        // New nodes go to the jobs waiting for them, oldest first.
        self.feed_configuring(c);
        if web {
            self.web_refresh(c);
        }
        d.to < d.from
    }

    fn create_node(&mut self, c: usize) -> usize {
        let n = self.nodes.len();
        self.nodes.push(Node {
            cluster: c,
            state: NodeState::Pending,
            host: None,
            job: None,
            idle_since: self.now,
            created: self.now,
            cpu_use: 0.0,
            alive: true,
            moving: false,
        });
        self.clusters[c].alive.push(n);
        self.pending.push(n);
        self.place_dirty = true;
        n
    }

    fn remove_node(&mut self, n: usize) {
        self.set_node_use(n, 0.0);
        let c = self.nodes[n].cluster;
        if let Some(h) = self.nodes[n].host {
            self.touch(h);
            let host = &mut self.hosts[h];
            host.nodes -= 1;
            host.held[c] -= self.specs[c].node_cpus;
            if host.nodes == 0 {
                host.empty_since = Some(self.now);
            }
        }
        self.place_dirty = true;
        self.nodes[n].alive = false;
        let alive = &mut self.clusters[c].alive;
        if let Some(k) = alive.iter().position(|&m| m == n) {
            alive.remove(k);
        }
    }

    fn node_ready(&mut self, n: usize) {
        if !self.nodes[n].alive {
            return;
        }
        self.nodes[n].state = NodeState::Running;
        self.nodes[n].moving = false;
        let c = self.nodes[n].cluster;
        match self.nodes[n].job {
            Some(j) => self.try_start(c, j),
            None if self.clusters[c].batch.is_none() => {
                self.web_refresh(c);
            }
            None => {}
        }
    }

    // --- placement and power ---------------------------------------------------

    /// Places pending nodes, oldest first, with the real placement code; returns those
    /// that found no room.
    fn place(&mut self) -> Vec<Unplaced> {
        self.pending
            .retain(|&n| self.nodes[n].alive && self.nodes[n].host.is_none());
        if self.pending.is_empty() {
            return Vec::new();
        }
        let infos: Vec<HostInfo<'_>> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| HostInfo {
                name: &self.names[i],
                cpu_millis: self.pool.host_cpus as u64 * 1000,
                memory_bytes: self.pool.host_memory_gib * GIB,
                labels: &self.no_labels,
                ready: h.state == PowerState::On,
            })
            .collect();
        let mut placed = Vec::new();
        for (h, host) in self.hosts.iter().enumerate() {
            for (c, &cpus) in host.held.iter().enumerate() {
                let s = &self.specs[c];
                for _ in 0..cpus / s.node_cpus {
                    placed.push(Placed {
                        host: &self.names[h],
                        cluster: &s.name,
                        cpu_millis: s.node_cpus as u64 * 1000,
                        memory_bytes: s.node_memory_gib * GIB,
                    });
                }
            }
        }
        // Over-commit 1: simulated nodes use the cpus they ask for.
        let mut placer = Placer::new(&infos, &placed, 1.0);
        let mut decisions = Vec::with_capacity(self.pending.len());
        for &n in &self.pending {
            let s = &self.specs[self.nodes[n].cluster];
            let d = Demand {
                cluster: &s.name,
                cpu_millis: s.node_cpus as u64 * 1000,
                memory_bytes: s.node_memory_gib * GIB,
                policy: self.pool.placement,
                constraints: &self.no_labels,
            };
            decisions.push((n, placer.place(&d)));
        }
        let mut unplaced = Vec::new();
        for (n, d) in decisions {
            let c = self.nodes[n].cluster;
            let s = &self.specs[c];
            match d {
                Decision::Host(h) => {
                    self.touch(h);
                    let host = &mut self.hosts[h];
                    host.nodes += 1;
                    host.held[c] += s.node_cpus;
                    host.empty_since = None;
                    self.nodes[n].host = Some(h);
                    self.nodes[n].state = NodeState::Starting;
                    self.events
                        .push(Reverse((self.now + self.pool.node_start, Event::NodeReady(n))));
                }
                Decision::Pending(_) => unplaced.push(Unplaced {
                    cpu_millis: s.node_cpus as u64 * 1000,
                    memory_bytes: s.node_memory_gib * GIB,
                }),
            }
        }
        unplaced
    }

    fn power(&mut self, unplaced: &[Unplaced]) {
        let Some(policy) = &self.pool.power else { return };
        let snapshot: Vec<HostPower> = self
            .hosts
            .iter()
            .map(|h| HostPower {
                state: h.state,
                since: h.since,
                attempts: h.attempts,
                nodes: h.nodes,
                empty_since: h.empty_since,
                cpu_millis: self.pool.host_cpus as u64 * 1000,
                memory_bytes: self.pool.host_memory_gib * GIB,
            })
            .collect();
        for a in power::decide(policy, &snapshot, unplaced, self.now) {
            let h = a.host;
            match a.kind {
                ActionKind::PowerOn => {
                    let retry = self.hosts[h].state == PowerState::PoweringOn;
                    self.set_host_state(h, PowerState::PoweringOn);
                    let host = &mut self.hosts[h];
                    host.attempts = if retry { host.attempts + 1 } else { 1 };
                    host.generation += 1;
                    if !retry {
                        self.out.power_ons += 1;
                    }
                    let at = self.now + self.pool.model.boot_seconds as u64;
                    self.events.push(Reverse((at, Event::HostBooted(h, host.generation))));
                }
                ActionKind::PowerOff => {
                    // The policy's promise, checked on every run: never a host with nodes.
                    assert_eq!(self.hosts[h].nodes, 0, "power policy switched off a host holding nodes");
                    let retry = self.hosts[h].state == PowerState::PoweringOff;
                    self.set_host_state(h, PowerState::PoweringOff);
                    let host = &mut self.hosts[h];
                    host.attempts = if retry { host.attempts + 1 } else { 1 };
                    host.generation += 1;
                    let at = self.now + self.pool.model.shutdown_seconds as u64;
                    self.events.push(Reverse((at, Event::HostOff(h, host.generation))));
                }
                ActionKind::Fail => self.set_host_state(h, PowerState::Failed),
            }
        }
    }

    /// Wakes the loop when an idle time or a cooldown runs out, as a periodic loop would.
    fn arm_timers(&mut self) {
        let mut due = Vec::new();
        if let Some(p) = &self.pool.power {
            for h in &self.hosts {
                if let (PowerState::On, Some(t)) = (h.state, h.empty_since) {
                    due.push(t + p.host_idle_time);
                }
            }
        }
        if let (Some(interval), Some(t)) = (self.pool.consolidate, self.last_consolidation) {
            due.push(t + interval);
        }
        for (c, rt) in self.clusters.iter().enumerate() {
            let Some(p) = &self.specs[c].elastic else { continue };
            if let Some(t) = rt.last_scaled {
                due.push(t + p.cooldown);
            }
            if let Some(q) = p.queue {
                let first_idle = rt
                    .alive
                    .iter()
                    .filter(|&&n| self.nodes[n].job.is_none())
                    .map(|&n| self.nodes[n].idle_since)
                    .min();
                if let Some(t) = first_idle {
                    due.push(t + q.idle_time);
                }
            }
        }
        for t in due {
            if t > self.now && self.timers.insert(t) {
                self.events.push(Reverse((t, Event::Timer)));
            }
        }
    }

    // --- consolidation ---------------------------------------------------------

    /// One pass of the server's consolidation (crates/corral-server/src/consolidation.rs)
    /// with corral-policy's planner: go on emptying the chosen host, or choose the next
    /// one at most once per interval and only while nothing moves; at most one node of
    /// a cluster down at once (`max_unavailable` 1). Only nodes with nothing to do move:
    /// a node running a batch job would lose it to a cold migration. Web nodes move
    /// (their share of the load goes to the others meanwhile), as the server moves them.
    fn consolidate(&mut self) {
        let (Some(interval), Some(power)) = (self.pool.consolidate, &self.pool.power) else {
            return;
        };
        if self.pool.placement != Placement::Pack {
            return;
        }
        let cpu = self.pool.host_cpus as u64 * 1000;
        let mem = self.pool.host_memory_gib * GIB;
        let loads: Vec<HostLoad> = self
            .hosts
            .iter()
            .map(|h| HostLoad {
                switchable: h.state == PowerState::On,
                ready: h.state == PowerState::On,
                cpu_millis: cpu,
                memory_bytes: mem,
                labels: Default::default(),
            })
            .collect();
        let mut nodes = Vec::new();
        let mut of_node = Vec::new();
        let mut moving = vec![0u32; self.clusters.len()];
        for i in self.clusters.iter().flat_map(|rt| rt.alive.iter().copied()) {
            let n = &self.nodes[i];
            let Some(h) = n.host else { continue };
            let s = &self.specs[n.cluster];
            if n.moving {
                moving[n.cluster] += 1;
            }
            nodes.push(NodeLoad {
                host: h,
                cpu_millis: s.node_cpus as u64 * 1000,
                memory_bytes: s.node_memory_gib * GIB,
                movable: !n.moving && n.state == NodeState::Running && n.job.is_none(),
                constraints: Default::default(),
            });
            of_node.push(i);
        }
        let plan = match self.consolidating {
            Some(source) => {
                if !nodes.iter().any(|n| n.host == source) {
                    self.consolidating = None;
                    return;
                }
                consolidate::plan_host(&loads, &nodes, 1.0, source)
            }
            None => {
                let due = self.last_consolidation.is_none_or(|t| self.now >= t + interval);
                if !due || moving.iter().any(|&m| m > 0) {
                    return;
                }
                let empty_on = (0..self.hosts.len())
                    .filter(|&i| loads[i].ready && self.hosts[i].nodes == 0)
                    .count();
                let pool = self.hosts.iter().filter(|h| h.state != PowerState::Failed).count();
                let plan = consolidate::plan(&loads, &nodes, 1.0, empty_on, power.spare.hosts(pool));
                if let Some(p) = &plan {
                    self.consolidating = Some(p.source);
                    self.last_consolidation = Some(self.now);
                }
                plan
            }
        };
        let Some(plan) = plan else {
            self.consolidating = None;
            return;
        };
        for (k, target) in plan.moves {
            let n = of_node[k];
            let c = self.nodes[n].cluster;
            if moving[c] >= 1 {
                continue;
            }
            moving[c] += 1;
            self.migrate(n, target);
        }
    }

    /// Moves an idle node to `target`: down until it runs there.
    fn migrate(&mut self, n: usize, target: usize) {
        let c = self.nodes[n].cluster;
        let cpus = self.specs[c].node_cpus;
        let source = self.nodes[n].host.expect("a placed node");
        self.set_node_use(n, 0.0);
        for h in [source, target] {
            self.touch(h);
        }
        let src = &mut self.hosts[source];
        src.nodes -= 1;
        src.held[c] -= cpus;
        if src.nodes == 0 {
            src.empty_since = Some(self.now);
        }
        let dst = &mut self.hosts[target];
        dst.nodes += 1;
        dst.held[c] += cpus;
        dst.empty_since = None;
        let node = &mut self.nodes[n];
        node.host = Some(target);
        node.state = NodeState::Starting;
        node.moving = true;
        self.out.migrations += 1;
        self.place_dirty = true;
        self.events
            .push(Reverse((self.now + self.pool.migrate_seconds, Event::NodeReady(n))));
        if self.clusters[c].batch.is_none() {
            self.web_refresh(c);
        }
    }

    // --- energy ----------------------------------------------------------------

    /// Adds the time since the last pass to the breakdown of powered hosts, and takes
    /// the pool's state now.
    fn account(&mut self) {
        let (t, unbusy, fragment) = self.accounted;
        let dt = self.now.saturating_sub(t) as f64;
        self.out.unbusy_host_seconds += unbusy * dt;
        self.out.fragment_host_seconds += fragment * dt;
        let powered = |h: &&Host| !matches!(h.state, PowerState::Off | PowerState::Failed);
        let on = self.hosts.iter().filter(powered).count() as f64;
        let busy = self.hosts.iter().filter(|h| h.busy_cpus > 1e-9).count() as f64;
        let ideal = (self.pool_busy / self.pool.host_cpus as f64 - 1e-9).ceil().max(0.0);
        self.accounted = (self.now, on - busy, (busy - ideal).max(0.0));
    }

    // --- energy ----------------------------------------------------------------

    fn set_node_use(&mut self, n: usize, cpus: f64) {
        let old = self.nodes[n].cpu_use;
        if old == cpus {
            return;
        }
        if let Some(h) = self.nodes[n].host {
            self.touch(h);
            self.hosts[h].busy_cpus += cpus - old;
        }
        self.pool_busy += cpus - old;
        self.nodes[n].cpu_use = cpus;
    }

    fn set_host_state(&mut self, h: usize, state: PowerState) {
        self.touch(h);
        self.hosts[h].state = state;
        self.hosts[h].since = self.now;
    }

    /// Charges a host's draw since its last change.
    fn touch(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        let dt = (self.now - host.last) as f64;
        host.last = self.now;
        if dt == 0.0 {
            return;
        }
        let cpus = self.pool.host_cpus as f64;
        let watts = self.pool.model.watts(host.state, host.busy_cpus / cpus);
        if !matches!(host.state, PowerState::Off | PowerState::Failed) {
            self.out.host_seconds += dt;
        }
        let shares: Vec<(&Owner, f64)> = host
            .held
            .iter()
            .enumerate()
            .filter(|&(_, &held)| held > 0)
            .map(|(c, &held)| (&self.owners[c], held as f64 / cpus))
            .collect();
        self.ledger.add(h, watts, dt, &shares);
    }

    fn finish(mut self) -> Outcome {
        self.now = self.now.max(self.pool.horizon);
        self.account();
        for h in 0..self.hosts.len() {
            self.touch(h);
        }
        self.out.joules = self.ledger.total();
        self.out.cluster_joules = self.ledger.clusters().clone();
        self.out.end = self.now;
        let specs = self.specs;
        for (c, rt) in self.clusters.iter_mut().enumerate() {
            if let Workload::Batch(jobs) = &specs[c].workload {
                self.out.unfinished += jobs.len() - rt.jobs_done;
                self.out
                    .waits
                    .insert(specs[c].name.clone(), std::mem::take(&mut rt.waits));
            }
        }
        self.out
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
