//! The agent: the loop that follows the server's assignments for this host.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_api::agent::{Assignments, HostCapacity, NodeAssignment, NodeReport};
use corral_api::node::NodeState;
use corral_image::ImageStore;
use corral_network::Network;
use corral_runtime::{Runtime, RuntimeState};
use tokio::sync::Semaphore;

use crate::control_plane::{AgentError, ControlPlane};
use crate::reconcile::{self, Outcome};

/// How an agent is set up.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Host name as the server knows it.
    pub host: String,
    /// Directory for the agent's own files (hosts files).
    pub data_dir: PathBuf,
    /// How many nodes are made or removed at once.
    pub parallelism: usize,
    /// How often running nodes are checked.
    pub health_interval: Duration,
    /// Labels of the host, e.g. `site=a`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Underlay address other hosts reach this one at.
    pub address: String,
    /// How often running nodes are sampled for the metrics history.
    pub sample_interval: Duration,
}

#[derive(Default)]
struct AgentState {
    /// Latest assignment of every node this host must hold.
    desired: HashMap<String, NodeAssignment>,
    /// Fingerprint of the assignment last applied successfully, per node.
    applied: HashMap<String, String>,
    /// Nodes being worked on, so one node never has two steps at once.
    busy: HashSet<String>,
    /// Nodes whose work must run again once the current step ends.
    again: HashSet<String>,
    /// Last report sent per node, to send only changes.
    reported: HashMap<String, NodeReport>,
    /// Whether the first assignment set was seen (adoption of leftovers then).
    adopted: bool,
    /// Init pid and its kernel start time per running node: the health loop checks
    /// /proc instead of asking the runtime every second.
    inits: HashMap<String, (u32, u64)>,
    /// Peers last programmed per segment, to reprogram only on change.
    peers: HashMap<u32, Vec<corral_api::agent::PeerHost>>,
    /// Addresses of the server this agent talks to; nodes may never send to them.
    server_addresses: Vec<std::net::Ipv4Addr>,
    /// Protected addresses last programmed, to reprogram only on change.
    protected: Option<Vec<std::net::Ipv4Addr>>,
    /// Shell command that powers this machine off when the server asks.
    power_off_command: Option<String>,
}

/// A host agent.
pub struct Agent {
    cfg: AgentConfig,
    runtime: Arc<dyn Runtime>,
    network: Arc<dyn Network>,
    images: ImageStore,
    resolv_conf: String,
    state: Mutex<AgentState>,
    limiter: Semaphore,
    /// One image pull at a time: the nodes of a new cluster all need the same image.
    pulls: tokio::sync::Mutex<()>,
    segments: crate::segments::Segments,
    metrics: crate::metrics::AgentMetrics,
    /// The node API's listener in each running node.
    node_apis: crate::node_api::NodeApis,
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// MTU of the network between hosts.
const UNDERLAY_MTU: u32 = 1500;

/// A short digest of an assignment: a change of it means the node needs work.
fn fingerprint(a: &NodeAssignment) -> String {
    use sha2::Digest;
    let bytes = serde_json::to_vec(a).unwrap_or_default();
    hex::encode(&sha2::Sha256::digest(bytes)[..12])
}

impl Agent {
    /// An agent over the given drivers.
    pub fn new(
        cfg: AgentConfig,
        runtime: Arc<dyn Runtime>,
        network: Arc<dyn Network>,
        images: ImageStore,
    ) -> Arc<Self> {
        let resolv_conf = crate::node_files::node_resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            std::fs::read_to_string(crate::node_files::SYSTEMD_RESOLV_CONF)
                .ok()
                .as_deref(),
        );
        let parallelism = cfg.parallelism.max(1);
        let cfg_host = cfg.host.clone();
        Arc::new(Agent {
            cfg,
            runtime,
            network,
            images,
            resolv_conf,
            state: Mutex::new(AgentState::default()),
            limiter: Semaphore::new(parallelism),
            pulls: tokio::sync::Mutex::new(()),
            segments: Default::default(),
            metrics: crate::metrics::AgentMetrics::new(&cfg_host),
            node_apis: Default::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AgentState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host's capacity as the kernel reports it.
    pub fn capacity() -> HostCapacity {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as u64;
        let mem_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            })
            .unwrap_or(0);
        HostCapacity {
            cpu_millis: cpus * 1000,
            memory_bytes: mem_kib * 1024,
        }
    }

    /// A command running `argv` inside a node on this host.
    pub fn exec_command(&self, id: &str, argv: &[String], tty: bool) -> Result<std::process::Command, AgentError> {
        Ok(self.runtime.exec_command(id, argv, tty)?)
    }

    /// Sets the shell command that powers this machine off when the server asks (hosts
    /// woken by wake-on-LAN); without one such requests are refused. The command gets
    /// the agent's pid as `CORRAL_AGENT_PID`.
    pub fn set_power_off_command(&self, command: Option<String>) {
        self.lock().power_off_command = command.filter(|c| !c.trim().is_empty());
    }

    /// Powers this machine off (the server's power manager asks, for hosts it wakes
    /// with wake-on-LAN). Refused while the host holds nodes; the command runs a second
    /// later, detached, so the answer reaches the server first.
    pub fn power_off(&self) -> Result<(), AgentError> {
        let Some(command) = self.lock().power_off_command.clone() else {
            return Err(AgentError::Invalid(
                "this agent has no --power-off-command; it cannot power its machine off".into(),
            ));
        };
        let held = self.lock().desired.len();
        if held > 0 {
            return Err(AgentError::Invalid(format!("this host holds {held} node(s)")));
        }
        let pid = std::process::id().to_string();
        tracing::warn!(%command, "powering this machine off at the server's request");
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 1; {command}"))
            .env("CORRAL_AGENT_PID", pid)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| AgentError::Invalid(format!("cannot run the power-off command: {e}")))?;
        Ok(())
    }

    /// The writable layer of a node on this host.
    pub fn upper_dir(&self, id: &str) -> PathBuf {
        self.runtime.upper_dir(id)
    }

    /// Host name as the server knows it.
    pub fn host(&self) -> &str {
        &self.cfg.host
    }

    /// The agent's Prometheus metrics.
    pub(crate) fn metrics(&self) -> &crate::metrics::AgentMetrics {
        &self.metrics
    }

    /// Appends the agent's metrics (its nodes' and its own) in the OpenMetrics text
    /// format, without the final `# EOF`.
    pub fn encode_metrics(&self, out: &mut String) -> std::fmt::Result {
        let labels = {
            let st = self.lock();
            st.desired
                .iter()
                .map(|(id, a)| {
                    let l = crate::metrics::NodeLabels {
                        cluster: a.cluster.clone(),
                        project: a.project.clone(),
                        node: a.name.clone(),
                    };
                    (id.clone(), l)
                })
                .collect()
        };
        self.metrics.encode(out, &labels)
    }

    /// Nodes that should run here and whose init was seen running.
    pub(crate) fn running_nodes(&self) -> Vec<String> {
        let st = self.lock();
        let mut ids: Vec<String> = st
            .desired
            .iter()
            .filter(|(id, a)| a.desired == corral_api::agent::DesiredState::Running && st.inits.contains_key(*id))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// What the sampler reads nodes through.
    pub(crate) fn probe(&self) -> crate::metrics::HostProbe<'_> {
        crate::metrics::HostProbe {
            runtime: self.runtime.as_ref(),
            network: self.network.as_ref(),
        }
    }

    /// Runs the agent until the process ends: registers, then follows assignments.
    pub async fn run(self: Arc<Self>, cp: Arc<dyn ControlPlane>) -> Result<(), AgentError> {
        let net = self.network.clone();
        tokio::task::spawn_blocking(move || net.ensure_host())
            .await
            .map_err(|e| AgentError::Invalid(e.to_string()))??;
        let req = corral_api::RegisterRequest {
            capacity: Self::capacity(),
            labels: self.cfg.labels.clone(),
            address: self.cfg.address.clone(),
            exec_address: String::new(),
        };
        cp.register(&self.cfg.host, req).await?;
        tokio::spawn(self.clone().health_loop(cp.clone()));
        tokio::spawn(self.clone().heartbeat_loop(cp.clone()));
        tokio::spawn(crate::metrics::sample_loop(
            self.clone(),
            cp.clone(),
            self.cfg.sample_interval,
        ));
        let mut revision = 0;
        loop {
            match cp.assignments(&self.cfg.host, revision).await {
                Ok(a) => {
                    revision = a.revision;
                    self.clone().apply(a, cp.clone()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read assignments; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Takes a new assignment set and starts work on every node that differs.
    async fn apply(self: Arc<Self>, a: Assignments, cp: Arc<dyn ControlPlane>) {
        let first = !self.lock().adopted;
        let mut present: HashSet<String> = HashSet::new();
        if first {
            // Adoption: whatever the runtime or network holds that is not assigned
            // any more is removed; what is assigned and runs is kept as it is.
            let me = self.clone();
            let found = tokio::task::spawn_blocking(move || {
                let mut ids = me.runtime.list().unwrap_or_default();
                ids.extend(me.network.list_attachments().unwrap_or_default());
                ids
            })
            .await
            .unwrap_or_default();
            present.extend(found);
        }
        // Before any node starts: the pool's hosts and server are out of its reach.
        self.protect(&a.protected).await;
        let (work, gone) = {
            let mut st = self.lock();
            st.adopted = true;
            present.extend(st.desired.keys().cloned());
            st.desired = a.nodes.into_iter().map(|n| (n.id.clone(), n)).collect();
            let gone: Vec<String> = present.into_iter().filter(|id| !st.desired.contains_key(id)).collect();
            let work: Vec<String> = st
                .desired
                .iter()
                .filter(|(id, n)| st.applied.get(*id) != Some(&fingerprint(n)))
                .map(|(id, _)| id.clone())
                .collect();
            (work, gone)
        };
        // Fencing: nodes no longer assigned here (a host that comes back after its
        // nodes were recovered elsewhere) are removed before anything new starts.
        for id in &gone {
            self.clone().schedule(id.clone(), cp.clone());
        }
        self.wait_idle(&gone).await;
        for id in work {
            self.clone().schedule(id, cp.clone());
        }
        self.clone().program_peers(a.segments).await;
    }

    /// Says where the server is (as this host reaches it), so its addresses join the
    /// set nodes may never send to.
    pub fn set_server_addresses(&self, addresses: Vec<std::net::Ipv4Addr>) {
        self.lock().server_addresses = addresses;
    }

    /// Programs the addresses nodes may never send to: the pool's hosts (from the
    /// server) and the server itself.
    async fn protect(self: &Arc<Self>, hosts: &[String]) {
        let wanted = {
            let st = self.lock();
            let mut v: Vec<std::net::Ipv4Addr> = hosts.iter().filter_map(|h| h.parse().ok()).collect();
            v.extend(st.server_addresses.iter().copied());
            v.sort();
            v.dedup();
            if st.protected.as_ref() == Some(&v) {
                return;
            }
            v
        };
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || match me.network.set_protected(&wanted) {
            Ok(()) => me.lock().protected = Some(wanted),
            Err(e) => tracing::warn!(error = %e, "cannot program the protected addresses"),
        })
        .await;
    }

    /// Points each segment's VXLAN tunnel at the other hosts holding it.
    async fn program_peers(self: Arc<Self>, segments: Vec<corral_api::agent::SegmentPeers>) {
        let Ok(local) = self.cfg.address.parse::<std::net::Ipv4Addr>() else {
            return;
        };
        let changed: Vec<_> = {
            let st = self.lock();
            segments
                .into_iter()
                .filter(|s| st.peers.get(&s.vni).map_or(!s.peers.is_empty(), |p| *p != s.peers))
                .collect()
        };
        if changed.is_empty() {
            return;
        }
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for s in changed {
                if let Err(e) = me.program_segment(local, &s) {
                    tracing::warn!(vni = s.vni, error = %e, "cannot program segment peers");
                    continue;
                }
                me.lock().peers.insert(s.vni, s.peers);
            }
        })
        .await;
    }

    fn program_segment(
        &self,
        local: std::net::Ipv4Addr,
        s: &corral_api::agent::SegmentPeers,
    ) -> Result<(), AgentError> {
        let Some(a) = self.lock().desired.values().find(|a| a.network.vni == s.vni).cloned() else {
            return Ok(());
        };
        let seg = reconcile::segment(&a)?;
        let underlay = corral_network::Underlay {
            local,
            device: None,
            mtu: UNDERLAY_MTU,
        };
        let mut peers = Vec::new();
        for p in &s.peers {
            let host = p
                .address
                .parse()
                .map_err(|_| AgentError::Invalid(format!("peer address {}", p.address)))?;
            let macs = p.macs.iter().filter_map(|m| reconcile::parse_mac(m)).collect();
            peers.push(corral_network::Peer { host, macs });
        }
        self.segments
            .set_peers(self.network.as_ref(), &seg, &underlay, &peers)?;
        Ok(())
    }

    /// Waits (at most a minute) until none of `ids` is being worked on.
    async fn wait_idle(&self, ids: &[String]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if !ids.iter().any(|id| self.lock().busy.contains(id)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts work on one node unless it is already being worked on, in which case
    /// the work runs again when the current step ends.
    fn schedule(self: Arc<Self>, id: String, cp: Arc<dyn ControlPlane>) {
        {
            let mut st = self.lock();
            if st.busy.contains(&id) {
                st.again.insert(id);
                return;
            }
            st.busy.insert(id.clone());
        }
        tokio::spawn(async move {
            loop {
                self.step(&id, &cp).await;
                let mut st = self.lock();
                if !st.again.remove(&id) {
                    st.busy.remove(&id);
                    break;
                }
            }
        });
    }

    /// One idempotent step towards the latest assignment of a node.
    async fn step(self: &Arc<Self>, id: &str, cp: &Arc<dyn ControlPlane>) {
        let Ok(_permit) = self.limiter.acquire().await else {
            return;
        };
        let assignment = self.lock().desired.get(id).cloned();
        if let Some(a) = assignment
            .as_ref()
            .filter(|a| a.desired == corral_api::agent::DesiredState::Running)
        {
            let pulled = {
                let _one_at_a_time = self.pulls.lock().await;
                let missing = self.images.manifest(&a.image_digest).is_err();
                let pulled = cp.fetch_image(&a.image_digest, &self.images).await;
                if missing {
                    self.metrics.image_pull(pulled.is_ok());
                }
                pulled
            };
            if let Err(e) = pulled {
                self.lock().applied.remove(id);
                let msg = format!("cannot fetch image {}: {e}", a.image_digest);
                if let Some(r) = self.report_for(id, Outcome::Failed(msg)) {
                    let _ = cp.report(&self.cfg.host, vec![r]).await;
                }
                return;
            }
        }
        if assignment.as_ref().is_some_and(|a| a.import_upper) {
            let upper = self.runtime.upper_dir(id);
            if !upper.exists() {
                if let Err(e) = cp.download_upper(&self.cfg.host, id, &upper).await {
                    self.lock().applied.remove(id);
                    if let Some(r) =
                        self.report_for(id, Outcome::Failed(format!("cannot fetch the writable layer: {e}")))
                    {
                        let _ = cp.report(&self.cfg.host, vec![r]).await;
                    }
                    return;
                }
            }
        }
        let me = self.clone();
        let node_id = id.to_string();
        let began = std::time::Instant::now();
        let confirmed = self.lock().applied.contains_key(id);
        let result = tokio::task::spawn_blocking(move || match &assignment {
            Some(a) => reconcile::converge(&me.reconcile_ctx(), a, confirmed).map(|o| (o, assignment)),
            None => reconcile::remove(&me.reconcile_ctx(), &node_id).map(|o| (o, None)),
        })
        .await;
        let outcome = match &result {
            Ok(Ok((Outcome::Running, _))) => "running",
            Ok(Ok((Outcome::Stopped, _))) => "stopped",
            Ok(Ok((Outcome::Removed, _))) => "removed",
            _ => "failed",
        };
        self.metrics.step(outcome, began.elapsed());
        let running = outcome == "running";
        let report = match result {
            Ok(Ok((Outcome::Stopped, Some(a)))) if a.export_upper => {
                // Cold migration: the node is stopped here; its layer goes to the
                // server, which then assigns the node to its target.
                match cp.upload_upper(&self.cfg.host, id, &self.runtime.upper_dir(id)).await {
                    Ok(()) => {
                        self.lock().applied.insert(id.to_string(), fingerprint(&a));
                        self.report_for(id, Outcome::Stopped)
                    }
                    Err(e) => {
                        self.lock().applied.remove(id);
                        self.report_for(id, Outcome::Failed(format!("cannot send the writable layer: {e}")))
                    }
                }
            }
            Ok(Ok((outcome, assignment))) => {
                if let Some(a) = &assignment {
                    self.lock().applied.insert(id.to_string(), fingerprint(a));
                } else {
                    self.gc_segments().await;
                }
                self.report_for(id, outcome)
            }
            Ok(Err(e)) => {
                tracing::warn!(node = id, error = %e, "node step failed");
                self.lock().applied.remove(id);
                self.report_for(id, Outcome::Failed(e.to_string()))
            }
            Err(e) => self.report_for(id, Outcome::Failed(format!("agent task failed: {e}"))),
        };
        self.follow_node_api(id, running, cp).await;
        if let Some(r) = report {
            if let Err(e) = cp.report(&self.cfg.host, vec![r]).await {
                tracing::warn!(node = id, error = %e, "cannot report node state");
            }
        }
    }

    /// Serves the node API in a running node, and only there. A listener that cannot
    /// be made leaves the node unapplied, so the health loop tries again.
    async fn follow_node_api(&self, id: &str, running: bool, cp: &Arc<dyn ControlPlane>) {
        if !running {
            self.node_apis.stop(id);
            return;
        }
        if let Err(e) = self.node_apis.ensure(id, &self.cfg.host, cp.clone()).await {
            tracing::warn!(node = id, error = %e, "cannot serve the node API in the node");
            self.lock().applied.remove(id);
        }
    }

    fn reconcile_ctx(&self) -> reconcile::Ctx<'_> {
        reconcile::Ctx {
            runtime: self.runtime.as_ref(),
            network: self.network.as_ref(),
            images: &self.images,
            hosts_dir: self.cfg.data_dir.join("hosts"),
            resolv_conf: &self.resolv_conf,
            segments: &self.segments,
        }
    }

    /// Removes segments no assigned node uses any more.
    async fn gc_segments(self: &Arc<Self>) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let used = || me.lock().desired.values().map(|a| a.network.vni).collect();
            me.segments.gc(me.network.as_ref(), used);
        })
        .await;
    }

    /// Builds the report for an outcome; `None` when nothing changed since the last.
    fn report_for(&self, id: &str, outcome: Outcome) -> Option<NodeReport> {
        let oom_kills = self.runtime.oom_kills(id).unwrap_or(0);
        // The start time of the node's init, from the kernel: it survives an agent
        // restart, so an adopted node keeps its start time.
        let init = match self.runtime.state(id) {
            Ok(RuntimeState::Running { pid }) => crate::proc_start::started_at(pid).map(|t| (pid, t)),
            _ => None,
        };
        let init_started = init.map(|(_, t)| t);
        match init {
            Some(i) => self.lock().inits.insert(id.to_string(), i),
            None => self.lock().inits.remove(id),
        };
        let mut st = self.lock();
        let prev = st.reported.get(id).cloned();
        let started_at = |was: &Option<NodeReport>| match was {
            _ if init_started.is_some() => init_started,
            Some(p) if p.state == NodeState::Running => p.started_at,
            _ => Some(now()),
        };
        let report = match outcome {
            Outcome::Running => NodeReport {
                id: id.to_string(),
                state: NodeState::Running,
                error: None,
                oom_kills,
                started_at: started_at(&prev),
                removed: false,
            },
            Outcome::Stopped => NodeReport {
                id: id.to_string(),
                state: NodeState::Stopped,
                error: None,
                oom_kills,
                started_at: None,
                removed: false,
            },
            Outcome::Removed => NodeReport {
                id: id.to_string(),
                state: NodeState::Deleting,
                error: None,
                oom_kills,
                started_at: None,
                removed: true,
            },
            Outcome::Failed(e) => NodeReport {
                id: id.to_string(),
                state: NodeState::Failed,
                error: Some(e),
                oom_kills,
                started_at: None,
                removed: false,
            },
        };
        if report.removed {
            st.reported.remove(id);
            st.applied.remove(id);
            return Some(report);
        }
        if prev.as_ref() == Some(&report) {
            return None;
        }
        st.reported.insert(id.to_string(), report.clone());
        Some(report)
    }

    /// Tells the server this host is alive, every second.
    async fn heartbeat_loop(self: Arc<Self>, cp: Arc<dyn ControlPlane>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = cp.heartbeat(&self.cfg.host).await {
                tracing::debug!(error = %e, "heartbeat failed");
            }
        }
    }

    /// Watches running nodes: restarts the ones whose init died, retries failed ones
    /// and reports OOM kills.
    async fn health_loop(self: Arc<Self>, cp: Arc<dyn ControlPlane>) {
        let mut tick = tokio::time::interval(self.cfg.health_interval);
        loop {
            tick.tick().await;
            let me = self.clone();
            let checks = tokio::task::spawn_blocking(move || me.health_pass()).await;
            let Ok((redo, reports)) = checks else {
                continue;
            };
            if !reports.is_empty() {
                let _ = cp.report(&self.cfg.host, reports).await;
            }
            for id in redo {
                self.clone().schedule(id, cp.clone());
            }
        }
    }

    fn health_pass(&self) -> (Vec<String>, Vec<NodeReport>) {
        let nodes: Vec<(String, bool, bool)> = {
            let st = self.lock();
            st.desired
                .iter()
                .map(|(id, a)| {
                    let want_running = a.desired == corral_api::agent::DesiredState::Running;
                    (id.clone(), want_running, st.applied.contains_key(id))
                })
                .collect()
        };
        let mut redo = Vec::new();
        let mut reports = Vec::new();
        for (id, want_running, applied) in nodes {
            if !applied {
                redo.push(id);
                continue;
            }
            if !want_running {
                continue;
            }
            let known = self.lock().inits.get(&id).copied();
            let alive = match known {
                // Same pid, same start time: the same init, still there.
                Some((pid, t)) if crate::proc_start::started_at(pid) == Some(t) => Ok(RuntimeState::Running { pid }),
                _ => self.runtime.state(&id),
            };
            match alive {
                Ok(RuntimeState::Running { .. }) => {
                    if let Some(r) = self.oom_report(&id) {
                        reports.push(r);
                    }
                }
                _ => {
                    tracing::warn!(node = %id, "node is not running any more; restarting it");
                    self.lock().applied.remove(&id);
                    redo.push(id);
                }
            }
        }
        (redo, reports)
    }

    fn oom_report(&self, id: &str) -> Option<NodeReport> {
        let kills = self.runtime.oom_kills(id).ok()?;
        let mut st = self.lock();
        let prev = st.reported.get_mut(id)?;
        if prev.oom_kills == kills {
            return None;
        }
        prev.oom_kills = kills;
        Some(prev.clone())
    }
}
