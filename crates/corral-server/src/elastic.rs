//! The elasticity manager: a control loop that keeps every elastic node group's size
//! within [min, max] and moves it as its triggers say (the batch queue, the group's
//! mean cpu, calendar floors), through `corral_policy::elastic::decide` and
//! [`cluster::resize`], so every change is one transaction and one `cluster.scaled`
//! event with its reason.
//!
//! The queue trigger asks the cluster's batch system through a [`QueueProbe`]; the
//! Slurm probe runs `squeue` and `sinfo` in a node of the cluster, the way
//! `corral exec` does. When a probe fails, no queue-based decision is made and one
//! event tells the owner, once per failure streak.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Weekday;
use chrono_tz::Tz;
use corral_api::{
    Adjustment, ApiError, ElasticSpec, ExecRequest, MetricsTrigger, NodeGroupSpec, QueueProbeKind, ScheduleSpec,
};
use corral_policy::elastic::{
    self as policy, Bounds, Decision, ElasticPolicy, GroupState, NodeStatus, PendingJob, Schedule, ScheduleRule, Work,
};
use corral_store::typed;

use crate::cluster::{self, ClusterRecord, Resize, MAX_GROUP_NODES};
use crate::context::Context;
use crate::error::Result;
use crate::node::{self, Desired, NodeRecord};
use crate::{event, keys};

/// The actor of the manager's changes, in events and operations.
pub const ACTOR: &str = "elastic";
/// Longest cooldown, window or idle time accepted: a week.
const MAX_SECONDS: u64 = 7 * 24 * 3600;
/// Longest metrics window: the metrics history keeps a day.
const MAX_WINDOW: u64 = 24 * 3600;
/// How long one probe command may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// The group a queue probe runs in when the trigger names none.
pub const DEFAULT_PROBE_GROUP: &str = "head";

// --- the spec, checked and turned into a policy ----------------------------------

/// Checks a node group's elasticity at create time: bounds around `count`, sane
/// thresholds and adjustments, a known time zone, rules that parse, and a probe
/// group that exists among `groups`. Errors are 400 `invalid_request`.
pub fn validate(group: &str, count: u32, e: &ElasticSpec, groups: &[NodeGroupSpec]) -> Result<()> {
    let bad = |m: String| ApiError::invalid(format!("node group {group:?}: elastic {m}"));
    if e.max > MAX_GROUP_NODES {
        return Err(bad(format!(
            "max {} is above {MAX_GROUP_NODES}, the most nodes in a group",
            e.max
        ))
        .into());
    }
    if e.min > e.max {
        return Err(bad(format!("min {} is above max {}", e.min, e.max)).into());
    }
    if count < e.min || count > e.max {
        return Err(bad(format!(
            "bounds [{}, {}] do not hold its count {count}: start within them",
            e.min, e.max
        ))
        .into());
    }
    if e.cooldown > MAX_SECONDS {
        return Err(bad(format!("cooldown {} s is longer than a week", e.cooldown)).into());
    }
    if let Some(q) = &e.queue {
        let runner = q.probe_group.as_deref().unwrap_or(DEFAULT_PROBE_GROUP);
        if !groups.iter().any(|g| g.name == runner) {
            return Err(bad(format!(
                "queue: the probe runs in the first node of group {runner:?}, which the cluster does not have \
                 (name another with `probe_group`)"
            ))
            .into());
        }
        if q.idle_time > MAX_SECONDS {
            return Err(bad(format!("queue: idle_time {} s is longer than a week", q.idle_time)).into());
        }
    }
    policy_of(group, e).map_err(bad)?;
    Ok(())
}

/// The policy a node group's elasticity spec describes; the error says what is wrong.
pub fn policy_of(group: &str, e: &ElasticSpec) -> std::result::Result<ElasticPolicy, String> {
    let bounds = Bounds::new(e.min, e.max).map_err(|err| err.to_string())?;
    let metrics = e.metrics.as_ref().map(|m| metrics_of(m, e)).transpose()?;
    let schedule = e.schedule.as_ref().map(|s| schedule_of(s, e)).transpose()?;
    Ok(ElasticPolicy {
        group: group.to_string(),
        bounds,
        cooldown: e.cooldown,
        queue: e
            .queue
            .as_ref()
            .map(|q| policy::QueueTrigger { idle_time: q.idle_time }),
        metrics,
        schedule,
    })
}

fn metrics_of(m: &MetricsTrigger, e: &ElasticSpec) -> std::result::Result<policy::MetricsTrigger, String> {
    if m.window == 0 || m.window > MAX_WINDOW {
        return Err(format!("metrics: window {} s is outside 1..{MAX_WINDOW}", m.window));
    }
    if m.scale_out_above.is_none() && m.scale_in_below.is_none() {
        return Err("metrics: give scale_out_above, scale_in_below or both (percent of the cpu limit)".into());
    }
    if let Some(p) = m.scale_out_above {
        if !(1..=100).contains(&p) {
            return Err(format!(
                "metrics: scale_out_above {p} is not a percentage of the cpu limit (1–100)"
            ));
        }
    }
    if let Some(p) = m.scale_in_below {
        if !(1..=99).contains(&p) {
            return Err(format!(
                "metrics: scale_in_below {p} is not a percentage of the cpu limit (1–99)"
            ));
        }
    }
    if let (Some(out), Some(inn)) = (m.scale_out_above, m.scale_in_below) {
        if inn >= out {
            return Err(format!(
                "metrics: scale_in_below {inn} must be below scale_out_above {out}, or the group would flap"
            ));
        }
    }
    let scale_out = adjustment_of("scale_out", m.scale_out, true, e)?;
    let scale_in = adjustment_of("scale_in", m.scale_in, false, e)?;
    Ok(policy::MetricsTrigger {
        window: m.window,
        // An absent threshold is one the mean never crosses.
        scale_out_above: m.scale_out_above.map_or(f64::INFINITY, |p| p as f64 / 100.0),
        scale_in_below: m.scale_in_below.map_or(-1.0, |p| p as f64 / 100.0),
        scale_out,
        scale_in,
    })
}

/// Checks that an adjustment goes the way its trigger side says (Senlin's signs).
fn adjustment_of(
    side: &str,
    a: Adjustment,
    grow: bool,
    e: &ElasticSpec,
) -> std::result::Result<policy::Adjustment, String> {
    let dir = if grow { "grow: positive" } else { "shrink: negative" };
    Ok(match a {
        Adjustment::ExactCapacity(n) => {
            if n < e.min || n > e.max {
                return Err(format!(
                    "metrics: {side} exact_capacity {n} is outside [{}, {}]",
                    e.min, e.max
                ));
            }
            policy::Adjustment::ExactCapacity(n)
        }
        Adjustment::ChangeInCapacity(n) => {
            if n == 0 || (n > 0) != grow || n.unsigned_abs() > MAX_GROUP_NODES {
                return Err(format!(
                    "metrics: {side} change_in_capacity {n} must {dir} and at most {MAX_GROUP_NODES} nodes"
                ));
            }
            policy::Adjustment::ChangeInCapacity(n as i64)
        }
        Adjustment::ChangeInPercentage { percent, min_step } => {
            if percent == 0 || (percent > 0) != grow || !(-100..=1000).contains(&percent) {
                return Err(format!(
                    "metrics: {side} change_in_percentage percent {percent} must {dir}, between -100 and 1000"
                ));
            }
            if min_step > MAX_GROUP_NODES {
                return Err(format!(
                    "metrics: {side} min_step {min_step} is above {MAX_GROUP_NODES}"
                ));
            }
            policy::Adjustment::ChangeInPercentage {
                percent: percent as f64,
                min_step,
            }
        }
    })
}

fn schedule_of(s: &ScheduleSpec, e: &ElasticSpec) -> std::result::Result<Schedule, String> {
    let tz: Tz = s.timezone.parse().map_err(|_| {
        format!(
            "schedule: unknown time zone {:?}: give an IANA name such as Europe/Stockholm or UTC",
            s.timezone
        )
    })?;
    if s.rules.is_empty() {
        return Err("schedule: no rules".into());
    }
    let mut rules = Vec::new();
    for (i, r) in s.rules.iter().enumerate() {
        let at = |m: String| format!("schedule: rule {}: {m}", i + 1);
        let days = parse_days(&r.days).map_err(at)?;
        let start_minute = parse_time(&r.start, false).map_err(at)?;
        let end_minute = parse_time(&r.end, true).map_err(at)?;
        if start_minute == end_minute {
            return Err(at(format!("start {} and end {} are the same time", r.start, r.end)));
        }
        if r.min > e.max {
            return Err(at(format!("min {} is above the group's max {}", r.min, e.max)));
        }
        rules.push(ScheduleRule {
            days,
            start_minute,
            end_minute,
            min: r.min,
        });
    }
    Ok(Schedule { tz, rules })
}

/// Reads days as `mon-fri`, `sat,sun`, `mon,wed-fri` or `daily`; a range may wrap
/// past Sunday (`fri-mon`).
pub fn parse_days(s: &str) -> std::result::Result<Vec<Weekday>, String> {
    let text = s.trim().to_ascii_lowercase();
    if matches!(text.as_str(), "daily" | "*" | "all" | "every day") {
        return Ok((0..7).map(day).collect());
    }
    let one = |d: &str| -> std::result::Result<u8, String> {
        let d = d.trim();
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        names
            .iter()
            .position(|n| d == *n || d == weekday_name(n))
            .map(|i| i as u8)
            .ok_or_else(|| format!("{d:?} is not a day: write mon, tue, wed, thu, fri, sat or sun"))
    };
    let mut out: Vec<Weekday> = Vec::new();
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (one(a)?, one(b)?),
            None => {
                let d = one(part)?;
                (d, d)
            }
        };
        let mut d = a;
        loop {
            if !out.contains(&day(d)) {
                out.push(day(d));
            }
            if d == b {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    if out.is_empty() {
        return Err(format!("no days in {s:?}"));
    }
    Ok(out)
}

fn weekday_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn day(i: u8) -> Weekday {
    Weekday::try_from(i).expect("0..7")
}

/// Reads `HH:MM` as minutes after midnight; `24:00` only as an end.
pub fn parse_time(s: &str, end: bool) -> std::result::Result<u32, String> {
    let bad = || format!("{s:?} is not a time of day: write HH:MM, e.g. 08:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h, m) == (24, 0) && end {
        return Ok(1440);
    }
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

// --- asking the batch system ----------------------------------------------------

/// What the batch system says a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Running (or finishing) a job: never removed.
    Busy,
    /// Nothing to do (idle, drained or down): removable after the idle time.
    Idle,
}

/// What a probe saw: pending jobs and what the nodes it knows are doing (by node name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStatus {
    /// Jobs waiting for nodes.
    pub pending: Vec<PendingJob>,
    /// Nodes the batch system knows, by name.
    pub nodes: BTreeMap<String, Activity>,
}

/// The cluster a probe asks about.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The cluster's owner.
    pub owner: String,
    /// The cluster's name.
    pub cluster: String,
    /// The cluster's uid.
    pub uid: String,
    /// The group whose first running node runs the probe's commands.
    pub runner_group: String,
    /// The batch system.
    pub kind: QueueProbeKind,
}

/// Why a probe gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// No node of the runner group runs.
    #[error("no running node in group {0:?} to ask the batch system from")]
    NoRunner(String),
    /// The command could not be run.
    #[error("running {command:?}: {message}")]
    Exec {
        /// The command.
        command: String,
        /// What went wrong.
        message: String,
    },
    /// The command ran and failed.
    #[error("{command:?} exited with {code}: {stderr}")]
    Failed {
        /// The command.
        command: String,
        /// Its exit code.
        code: i32,
        /// What it wrote to standard error (trimmed).
        stderr: String,
    },
}

/// The seam to a cluster's batch system.
#[async_trait::async_trait]
pub trait QueueProbe: Send + Sync {
    /// Pending jobs and the nodes' activity.
    async fn probe(&self, ctx: &Context, target: &ProbeTarget) -> std::result::Result<QueueStatus, ProbeError>;

    /// Stops the batch system giving these nodes new work, before they are removed.
    async fn drain(&self, ctx: &Context, target: &ProbeTarget, nodes: &[String])
        -> std::result::Result<(), ProbeError>;

    /// Lets the batch system use these nodes again (a drain that turned out wrong).
    async fn resume(
        &self,
        ctx: &Context,
        target: &ProbeTarget,
        nodes: &[String],
    ) -> std::result::Result<(), ProbeError>;
}

/// Slurm, asked with its own commands in the cluster's head node.
#[derive(Debug, Default)]
pub struct SlurmProbe;

/// `squeue`: node counts and reasons of pending jobs.
const SQUEUE: [&str; 6] = ["squeue", "-h", "-t", "PENDING", "-o", "%D %r"];
/// `sinfo`: one line per node (and partition) with its state.
const SINFO: [&str; 5] = ["sinfo", "-h", "-N", "-o", "%N %T"];

impl SlurmProbe {
    async fn run(
        &self,
        ctx: &Context,
        target: &ProbeTarget,
        command: &[&str],
    ) -> std::result::Result<String, ProbeError> {
        let runner = runner(ctx, target).map_err(|e| ProbeError::Exec {
            command: command.join(" "),
            message: e.to_string(),
        })?;
        let runner = runner.ok_or_else(|| ProbeError::NoRunner(target.runner_group.clone()))?;
        let req = ExecRequest {
            command: command.iter().map(|s| s.to_string()).collect(),
            stdin: None,
            tty: false,
            size: None,
        };
        let shown = command.join(" ");
        let out = tokio::time::timeout(PROBE_TIMEOUT, crate::exec::run(ctx, &runner, &req))
            .await
            .map_err(|_| ProbeError::Exec {
                command: shown.clone(),
                message: format!("no answer in {} s", PROBE_TIMEOUT.as_secs()),
            })?
            .map_err(|e| ProbeError::Exec {
                command: shown.clone(),
                message: e.to_string(),
            })?;
        if out.exit_code != 0 {
            return Err(ProbeError::Failed {
                command: shown,
                code: out.exit_code,
                stderr: out.stderr.trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    async fn update(
        &self,
        ctx: &Context,
        target: &ProbeTarget,
        nodes: &[String],
        state: &str,
    ) -> std::result::Result<(), ProbeError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let names = format!("NodeName={}", nodes.join(","));
        let state = format!("State={state}");
        let mut cmd = vec!["scontrol", "update", names.as_str(), state.as_str()];
        if state == "State=DRAIN" {
            cmd.push("Reason=corral_scale_in");
        }
        self.run(ctx, target, &cmd).await.map(|_| ())
    }
}

/// The first running node (lowest index) of the target's runner group.
fn runner(ctx: &Context, target: &ProbeTarget) -> Result<Option<NodeRecord>> {
    let mut nodes: Vec<NodeRecord> = node::of_cluster(ctx, &target.uid)?
        .into_iter()
        .map(|d| d.value)
        .filter(|n| {
            n.group == target.runner_group && n.desired == Desired::Running && n.state == corral_api::NodeState::Running
        })
        .collect();
    nodes.sort_by_key(|n| n.index);
    Ok(nodes.into_iter().next())
}

#[async_trait::async_trait]
impl QueueProbe for SlurmProbe {
    async fn probe(&self, ctx: &Context, target: &ProbeTarget) -> std::result::Result<QueueStatus, ProbeError> {
        let queue = self.run(ctx, target, &SQUEUE).await?;
        let nodes = self.run(ctx, target, &SINFO).await?;
        Ok(QueueStatus {
            pending: parse_squeue(&queue),
            nodes: parse_sinfo(&nodes),
        })
    }

    async fn drain(
        &self,
        ctx: &Context,
        target: &ProbeTarget,
        nodes: &[String],
    ) -> std::result::Result<(), ProbeError> {
        self.update(ctx, target, nodes, "DRAIN").await
    }

    async fn resume(
        &self,
        ctx: &Context,
        target: &ProbeTarget,
        nodes: &[String],
    ) -> std::result::Result<(), ProbeError> {
        self.update(ctx, target, nodes, "RESUME").await
    }
}

/// Pending jobs from `squeue -h -t PENDING -o "%D %r"`: the nodes each needs (the
/// least, for a range), leaving out jobs more nodes would not start (held, waiting on
/// a dependency, a start time or a limit).
pub fn parse_squeue(text: &str) -> Vec<PendingJob> {
    const NOT_FOR_NODES: [&str; 10] = [
        "Dependency",
        "BeginTime",
        "JobHeld",
        "AssocGrp",
        "AssocMax",
        "QOS",
        "PartitionTimeLimit",
        "PartitionDown",
        "PartitionInactive",
        "JobArrayTaskLimit",
    ];
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let count = parts.next()?;
            let reason = parts.next().unwrap_or("");
            if NOT_FOR_NODES.iter().any(|r| reason.starts_with(r)) {
                return None;
            }
            let least = count.split(['-', ',']).next()?;
            let nodes: u32 = least.parse().ok()?;
            Some(PendingJob { nodes: nodes.max(1) })
        })
        .collect()
}

/// Nodes' activity from `sinfo -h -N -o "%N %T"`: allocated, mixed, completing,
/// draining (with jobs) and planned nodes are busy, the rest idle (idle, drained,
/// down, powered off). A node listed in several partitions is busy if any line says so.
pub fn parse_sinfo(text: &str) -> BTreeMap<String, Activity> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(state)) = (parts.next(), parts.next()) else {
            continue;
        };
        // State flags come as suffixes (`idle~` powered off, `down*` not responding) or
        // after a `+` in the long form (`idle+cloud`).
        let state = state.to_ascii_lowercase();
        let base: String = state.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        let busy = ["alloc", "mix", "comp", "draining", "planned"]
            .iter()
            .any(|b| base.starts_with(b));
        let activity = if busy { Activity::Busy } else { Activity::Idle };
        let entry = out.entry(name.to_string()).or_insert(activity);
        if activity == Activity::Busy {
            *entry = Activity::Busy;
        }
    }
    out
}

// --- the loop -------------------------------------------------------------------

/// The elasticity manager's memory between passes: since when nodes are idle, and
/// which probes are failing (one event per failure streak).
pub struct ElasticManager {
    probe: Arc<dyn QueueProbe>,
    /// Node id → when the batch system first reported it without work.
    idle_since: HashMap<String, u64>,
    /// `uid/group` of queue triggers whose probe is failing.
    failing: HashSet<String>,
    /// `uid/group` whose last resize failed, so the refusal is recorded once.
    refused: HashSet<String>,
}

impl ElasticManager {
    /// A manager asking batch systems through `probe`.
    pub fn new(probe: Arc<dyn QueueProbe>) -> Self {
        ElasticManager {
            probe,
            idle_since: HashMap::new(),
            failing: HashSet::new(),
            refused: HashSet::new(),
        }
    }

    /// One look at every elastic node group at time `now` (Unix seconds); returns the
    /// changes made, as their event messages.
    pub async fn pass(&mut self, ctx: &Context, now: u64) -> Result<Vec<String>> {
        let clusters = typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?;
        let mut done = Vec::new();
        let mut seen = HashSet::new();
        for doc in clusters {
            let c = doc.value;
            if c.deleting || c.desired != Desired::Running {
                continue;
            }
            let groups: Vec<NodeGroupSpec> = c
                .spec
                .node_groups
                .iter()
                .filter(|g| g.elastic.is_some())
                .cloned()
                .collect();
            if groups.is_empty() {
                continue;
            }
            let nodes: Vec<NodeRecord> = node::of_cluster(ctx, &c.uid)?
                .into_iter()
                .map(|d| d.value)
                .filter(|n| n.desired != Desired::Deleted)
                .collect();
            seen.extend(nodes.iter().map(|n| n.id.clone()));
            for g in &groups {
                match self.group(ctx, &c, g, &nodes, now).await {
                    Ok(Some(message)) => done.push(message),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(cluster = %c.name, group = %g.name, error = %e, "elastic pass"),
                }
            }
        }
        self.idle_since.retain(|id, _| seen.contains(id));
        Ok(done)
    }

    async fn group(
        &mut self,
        ctx: &Context,
        c: &ClusterRecord,
        g: &NodeGroupSpec,
        nodes: &[NodeRecord],
        now: u64,
    ) -> Result<Option<String>> {
        let spec = g.elastic.as_ref().expect("elastic groups only");
        let mut pol = match policy_of(&g.name, spec) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(cluster = %c.name, group = %g.name, error = %e, "elastic spec does not hold");
                return Ok(None);
            }
        };
        let mut members: Vec<&NodeRecord> = nodes.iter().filter(|n| n.group == g.name).collect();
        // Highest index first: the policy breaks ties of creation time (seconds) by
        // position, so nodes made in the same second leave highest-numbered first.
        members.sort_by_key(|n| std::cmp::Reverse(n.index));
        let key = format!("{}/{}", c.uid, g.name);
        let target = spec.queue.as_ref().map(|q| ProbeTarget {
            owner: c.owner.clone(),
            cluster: c.name.clone(),
            uid: c.uid.clone(),
            runner_group: q.probe_group.clone().unwrap_or_else(|| DEFAULT_PROBE_GROUP.to_string()),
            kind: q.probe,
        });
        let status = match &target {
            Some(t) => self.ask(ctx, c, &key, t).await,
            None => None,
        };
        if status.is_none() {
            // No answer: decide without the queue rather than on a guess.
            pol.queue = None;
        }
        let statuses: Vec<NodeStatus> = members
            .iter()
            .map(|n| NodeStatus {
                created: n.created_at,
                work: self.work(n, status.as_ref(), now),
            })
            .collect();
        let pending = status.as_ref().map(|s| s.pending.clone()).unwrap_or_default();
        let cpu = pol
            .metrics
            .as_ref()
            .map_or_else(Vec::new, |m| cpu_samples(ctx, &members, m.window, now));
        let state = GroupState {
            nodes: &statuses,
            last_scaled: c.scaling.get(&g.name).map(|s| s.last_scaled),
            pending: &pending,
            cpu: &cpu,
        };
        let Some(d) = policy::decide(&pol, &state, now) else {
            return Ok(None);
        };
        if d.to == d.from {
            return Ok(None);
        }
        let remove: Vec<String> = d.remove.iter().map(|&i| members[i].name.clone()).collect();
        if let (Some(t), Some(_)) = (&target, &status) {
            if !remove.is_empty() && !self.drained(ctx, t, &remove).await {
                return Ok(None);
            }
        }
        self.apply(ctx, c, &g.name, &key, d, remove).await
    }

    /// Asks the batch system; a failure is logged, and recorded once per streak.
    async fn ask(&mut self, ctx: &Context, c: &ClusterRecord, key: &str, t: &ProbeTarget) -> Option<QueueStatus> {
        let target = format!("clusters/{}", c.name);
        match self.probe.probe(ctx, t).await {
            Ok(s) => {
                if self.failing.remove(key) {
                    event::record_owned(
                        ctx,
                        ACTOR,
                        &c.owner,
                        &target,
                        "cluster.probe_recovered",
                        "queue probe answers again",
                    );
                }
                Some(s)
            }
            Err(e) => {
                tracing::warn!(cluster = %c.name, error = %e, "queue probe failed");
                if self.failing.insert(key.to_string()) {
                    event::record_owned(
                        ctx,
                        ACTOR,
                        &c.owner,
                        &target,
                        "cluster.probe_failed",
                        format!("queue probe failed: {e}; no queue-based scaling until it answers"),
                    );
                }
                None
            }
        }
    }

    /// Drains `remove` in the batch system, then checks that none took work meanwhile;
    /// if one did, gives them all back and makes no change this pass.
    async fn drained(&mut self, ctx: &Context, t: &ProbeTarget, remove: &[String]) -> bool {
        if let Err(e) = self.probe.drain(ctx, t, remove).await {
            tracing::warn!(cluster = %t.cluster, error = %e, "cannot drain nodes before removing them");
            return false;
        }
        let busy = match self.probe.probe(ctx, t).await {
            Ok(s) => remove.iter().any(|n| s.nodes.get(n) == Some(&Activity::Busy)),
            Err(_) => true,
        };
        if busy {
            if let Err(e) = self.probe.resume(ctx, t, remove).await {
                tracing::warn!(cluster = %t.cluster, error = %e, "cannot resume drained nodes");
            }
            return false;
        }
        true
    }

    /// What a node is doing: unknown without a probe; busy if the batch system says
    /// so; otherwise idle since it was first seen without work (a node the batch
    /// system does not list yet is capacity on its way, not work lacking).
    fn work(&mut self, n: &NodeRecord, status: Option<&QueueStatus>, now: u64) -> Work {
        let Some(s) = status else {
            return Work::Unknown;
        };
        if s.nodes.get(&n.name) == Some(&Activity::Busy) {
            self.idle_since.remove(&n.id);
            return Work::Busy;
        }
        Work::Idle(*self.idle_since.entry(n.id.clone()).or_insert(now))
    }

    async fn apply(
        &mut self,
        ctx: &Context,
        c: &ClusterRecord,
        group: &str,
        key: &str,
        d: Decision,
        remove: Vec<String>,
    ) -> Result<Option<String>> {
        // The policy's reason repeats "scaled G a→b: ", which resize writes itself.
        let why = d
            .reason
            .split_once(": ")
            .map_or(d.reason.as_str(), |(_, why)| why)
            .to_string();
        let change = Resize::To {
            nodes: d.to,
            remove: remove.clone(),
        };
        match cluster::resize(ctx, ACTOR, &c.owner, &c.name, Some(group), change, Some(&why)).await {
            Ok(r) => {
                self.refused.remove(key);
                for n in &remove {
                    self.idle_since.remove(&crate::node::NodeRecord::make_id(&c.uid, n));
                }
                Ok(Some(format!("scaled {group} {}→{}: {why}", r.from, r.to)))
            }
            Err(e) => {
                if self.refused.insert(key.to_string()) {
                    event::record_owned(
                        ctx,
                        ACTOR,
                        &c.owner,
                        &format!("clusters/{}", c.name),
                        "cluster.scale_refused",
                        format!("could not scale {group} {}→{} ({why}): {e}", d.from, d.to),
                    );
                }
                Err(e)
            }
        }
    }
}

/// Samples of the nodes' cpu use as a share of their limits (time, 0..=1) in the
/// window before `now`, oldest first; a node with no samples yet adds none.
fn cpu_samples(ctx: &Context, nodes: &[&NodeRecord], window: u64, now: u64) -> Vec<(u64, f64)> {
    let since = now.saturating_sub(window + 1);
    let mut out = Vec::new();
    for n in nodes {
        let limit = (n.cpu_millis as f64 / 1000.0).max(0.001);
        if let Some((_, samples)) = ctx.metrics_history.samples(&n.id, since) {
            out.extend(samples.iter().map(|s| (s.t, s.cpu_percent / 100.0 / limit)));
        }
    }
    out.sort_by_key(|s| s.0);
    out
}

/// Runs the elasticity manager every `elastic_interval` until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let mut manager = ElasticManager::new(Arc::new(SlurmProbe));
    loop {
        tokio::time::sleep(ctx.cfg.elastic_interval).await;
        if let Err(e) = manager.pass(&ctx, crate::time::now()).await {
            tracing::warn!(error = %e, "elastic pass failed");
        }
    }
}

#[cfg(test)]
#[path = "elastic_tests.rs"]
mod tests;
