//! The two questions `corral sim` answers, each with its baselines in the same run.
//! 1. How close to ideal is the power management? One batch cluster replaying a trace:
//!    always on, the ideal, and Corral's policies.
//! 2. What does sharing one pool buy? Two batch groups (the trace, and the trace shifted
//!    by half a day) and a web service with a diurnal load, each on its own always-on
//!    cluster sized for its peak, versus all of them elastic on one shared pool, with
//!    the batch groups' `max` at their dedicated size or at the pool (borrowing room
//!    the others leave); the smallest pool meeting the targets is searched.

use chrono::{TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use corral_api::Placement;
use corral_policy::elastic::{Adjustment, Bounds, ElasticPolicy, MetricsTrigger, QueueTrigger, Schedule, ScheduleRule};
use corral_policy::energy::{PowerModel, JOULES_PER_KWH};
use corral_policy::power::{PowerPolicy, Spare};

use crate::engine::{self, ClusterSpec, Outcome, PoolSpec, Workload};
use crate::ideal;
use crate::swf::{Job, Trace};

/// What every run shares: the trace and the hardware.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The batch trace.
    pub trace: Trace,
    /// Cpus per host.
    pub host_cpus: u32,
    /// Memory per host, GiB.
    pub host_memory_gib: u64,
    /// Cpus per node (one node of the traced machine).
    pub node_cpus: u32,
    /// Memory per node, GiB.
    pub node_memory_gib: u64,
    /// Host power model.
    pub model: PowerModel,
    /// Peak cpus of the web service (question 2).
    pub web_peak_cpus: f64,
    /// The time zone of the groups' calendars and of the diurnal load.
    pub tz: Tz,
}

/// A power and elasticity policy, as one row of the policy table.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Row name.
    pub name: String,
    /// Seconds a batch node stays idle before it is removed.
    pub node_idle_time: u64,
    /// Seconds a host stays empty before it is powered off.
    pub host_idle_time: u64,
    /// Spare capacity kept on.
    pub spare: Spare,
    /// Pack or spread.
    pub placement: Placement,
    /// Seconds between two hosts chosen for consolidation; `None`: off.
    pub consolidate: Option<u64>,
}

impl Policy {
    fn new(
        node_idle_time: u64,
        host_idle_time: u64,
        spare: Spare,
        placement: Placement,
        consolidate: Option<u64>,
    ) -> Policy {
        let spare_text = match spare {
            Spare::Hosts(n) => format!("{n} host{}", if n == 1 { "" } else { "s" }),
            Spare::Percent(p) => format!("{p}%"),
        };
        let consolidate_text = match consolidate {
            Some(s) => format!("consolidate every {s} s"),
            None => "no consolidation".to_string(),
        };
        Policy {
            name: format!(
                "{placement}, node idle {node_idle_time} s, host idle {host_idle_time} s, spare {spare_text}, {consolidate_text}"
            ),
            node_idle_time,
            host_idle_time,
            spare,
            placement,
            consolidate,
        }
    }

    /// The policies compared in the table; the first is Corral's default (the server's
    /// `--consolidate-interval` is 600 s by default).
    pub fn table() -> Vec<Policy> {
        use Placement::{Pack, Spread};
        let c = Some(600);
        vec![
            Policy::new(120, 300, Spare::Hosts(1), Pack, c),
            Policy::new(120, 300, Spare::Hosts(1), Pack, None),
            Policy::new(0, 0, Spare::Hosts(0), Pack, c),
            Policy::new(0, 0, Spare::Hosts(0), Pack, Some(60)),
            Policy::new(0, 0, Spare::Hosts(0), Pack, None),
            Policy::new(60, 120, Spare::Hosts(0), Pack, c),
            Policy::new(300, 600, Spare::Hosts(1), Pack, c),
            Policy::new(600, 1800, Spare::Hosts(2), Pack, c),
            Policy::new(120, 300, Spare::Percent(10.0), Pack, c),
            Policy::new(120, 300, Spare::Hosts(1), Spread, c),
        ]
    }

    fn power(&self) -> PowerPolicy {
        PowerPolicy {
            spare: self.spare,
            host_idle_time: self.host_idle_time,
            ..PowerPolicy::default()
        }
    }
}

/// One line of a results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What ran.
    pub name: String,
    /// Hosts in the pool(s).
    pub hosts: u32,
    /// Host-hours powered.
    pub host_hours: f64,
    /// Energy, kWh.
    pub kwh: f64,
    /// Mean batch job wait, seconds (`None` for the ideal, which has the always-on waits).
    pub mean_wait: Option<f64>,
    /// 95th percentile batch job wait, seconds.
    pub p95_wait: Option<f64>,
    /// Boots per host.
    pub cycles_per_host: f64,
    /// Share of web demand not served.
    pub web_unserved: Option<f64>,
    /// Jobs not finished.
    pub unfinished: usize,
    /// Every finished batch job's wait, seconds.
    pub waits: Vec<u64>,
    /// Nodes moved by consolidation.
    pub migrations: u64,
    /// Host-hours powered with no busy cpu (empty, spare, booting, idle nodes only).
    pub unbusy_host_hours: f64,
    /// Host-hours of busy hosts beyond ⌈busy cpus / host cpus⌉ (fragmentation).
    pub fragment_host_hours: f64,
}

impl Row {
    fn from_outcome(name: &str, o: &Outcome) -> Row {
        let waits: Vec<u64> = o.waits.values().flatten().copied().collect();
        Row {
            name: name.to_string(),
            hosts: o.hosts,
            host_hours: o.host_seconds / 3600.0,
            kwh: o.joules / JOULES_PER_KWH,
            mean_wait: Some(mean(&waits)),
            p95_wait: Some(percentile(&waits, 0.95)),
            cycles_per_host: o.power_ons as f64 / o.hosts.max(1) as f64,
            web_unserved: (o.web_demand > 0.0).then(|| o.web_unserved / o.web_demand),
            unfinished: o.unfinished,
            waits,
            migrations: o.migrations,
            unbusy_host_hours: o.unbusy_host_seconds / 3600.0,
            fragment_host_hours: o.fragment_host_seconds / 3600.0,
        }
    }

    /// A computed ideal: hosts, energy and powered time only; no jobs ran in it.
    pub fn ideal(name: &str, hosts: u32, joules: f64, host_seconds: f64) -> Row {
        Row {
            name: name.to_string(),
            hosts,
            host_hours: host_seconds / 3600.0,
            kwh: joules / JOULES_PER_KWH,
            mean_wait: None,
            p95_wait: None,
            cycles_per_host: 0.0,
            web_unserved: None,
            unfinished: 0,
            waits: Vec::new(),
            migrations: 0,
            unbusy_host_hours: 0.0,
            fragment_host_hours: 0.0,
        }
    }

    fn sum(name: &str, rows: &[Row]) -> Row {
        let waits: Vec<u64> = rows.iter().flat_map(|r| r.waits.iter().copied()).collect();
        Row {
            name: name.to_string(),
            hosts: rows.iter().map(|r| r.hosts).sum(),
            host_hours: rows.iter().map(|r| r.host_hours).sum(),
            kwh: rows.iter().map(|r| r.kwh).sum(),
            mean_wait: Some(mean(&waits)),
            p95_wait: Some(percentile(&waits, 0.95)),
            cycles_per_host: 0.0,
            web_unserved: rows.iter().find_map(|r| r.web_unserved),
            unfinished: rows.iter().map(|r| r.unfinished).sum(),
            waits,
            migrations: 0,
            unbusy_host_hours: 0.0,
            fragment_host_hours: 0.0,
        }
    }
}

/// Question 1's answer.
#[derive(Debug, Clone)]
pub struct Question1 {
    /// Always on.
    pub always_on: Row,
    /// The ideal.
    pub ideal: Row,
    /// Corral's policies, in `Policy::table` order.
    pub policies: Vec<Row>,
    /// Example decision reasons from the default policy's run.
    pub reasons: Vec<String>,
    /// A powered host's draw with nothing to run, watts.
    pub idle_watts: f64,
}

/// Question 2's answer.
#[derive(Debug, Clone)]
pub struct Question2 {
    /// Which groups.
    pub mix: Mix,
    /// The dedicated clusters, one row each, then their sum.
    pub dedicated: Vec<Row>,
    /// The ideal for the same mix.
    pub ideal: Row,
    /// The search for the shared pool's size under the default policy, once per way
    /// of setting the batch groups' `max`.
    pub searches: Vec<Search>,
    /// The shared pool under each policy (groups' `max` = the pool), at the size the
    /// last search chose.
    pub shared: Vec<Row>,
}

/// How big a batch group's virtual cluster may grow in the shared pool (its elastic
/// `max`, which its owner sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Borrow {
    /// No more than its dedicated cluster had.
    Dedicated,
    /// Up to the whole pool: it borrows room the other groups are not using.
    Pool,
}

impl std::fmt::Display for Borrow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Borrow::Dedicated => "max = dedicated size",
            Borrow::Pool => "max = pool",
        })
    }
}

/// The search for the smallest shared pool that meets the targets.
#[derive(Debug, Clone)]
pub struct Search {
    /// How the groups' `max` was set.
    pub borrow: Borrow,
    /// Every size tried, by hosts.
    pub tried: Vec<Tried>,
    /// The smallest size that met every target, if one did.
    pub met: Option<u32>,
    /// The run shown: at the size that met them, else the smallest with the wait met,
    /// else the largest tried.
    pub row: Row,
}

/// One pool size tried.
#[derive(Debug, Clone)]
pub struct Tried {
    /// Hosts in the pool.
    pub hosts: u32,
    /// Mean wait of every batch job, seconds.
    pub mean_wait: f64,
    /// Share of the ideal's saving (1 = as much as the ideal).
    pub of_ideal: f64,
    /// Mean wait no worse than dedicated, every job finished.
    pub wait_ok: bool,
}

impl Setup {
    fn nodes_per_host(&self) -> u32 {
        (self.host_cpus / self.node_cpus)
            .min((self.host_memory_gib / self.node_memory_gib) as u32)
            .max(1)
    }

    /// Nodes of the traced machine.
    pub fn max_nodes(&self) -> u32 {
        self.trace
            .max_nodes
            .unwrap_or_else(|| self.trace.jobs.iter().map(|j| j.nodes).max().unwrap_or(1))
    }

    fn hosts_for(&self, nodes: u32) -> u32 {
        nodes.div_ceil(self.nodes_per_host())
    }

    /// Seconds until which energy is counted: the last job could end, plus two days.
    pub fn horizon(&self) -> u64 {
        let end = self.trace.jobs.iter().map(|j| j.submit + j.runtime).max().unwrap_or(0);
        end + 43_200 + 2 * 86_400
    }

    fn epoch(&self) -> i64 {
        self.trace.unix_start.unwrap_or(0)
    }

    fn pool(&self, hosts: u32, policy: Option<&Policy>) -> PoolSpec {
        PoolSpec {
            power: policy.map(Policy::power),
            placement: policy.map_or(Placement::Pack, |p| p.placement),
            consolidate: policy.and_then(|p| p.consolidate),
            migrate_seconds: 30,
            hosts,
            host_cpus: self.host_cpus,
            host_memory_gib: self.host_memory_gib,
            model: self.model,
            node_start: 2,
            horizon: self.horizon(),
            epoch: self.epoch(),
        }
    }

    /// The trace's jobs that fit the machine, every submit time moved by `shift`, those
    /// of users `keep` says yes to.
    fn jobs(&self, shift: u64, keep: impl Fn(i64) -> bool) -> Vec<Job> {
        let max = self.max_nodes();
        self.trace
            .jobs
            .iter()
            .filter(|j| j.nodes <= max && keep(j.user))
            .map(|j| Job {
                submit: j.submit + shift,
                ..*j
            })
            .collect()
    }

    fn batch(&self, group: &Group, policy: Option<&Policy>) -> ClusterSpec {
        let max = group.nodes;
        ClusterSpec {
            name: group.name.clone(),
            project: group.name.clone(),
            node_cpus: self.node_cpus,
            node_memory_gib: self.node_memory_gib,
            max,
            workload: Workload::Batch(group.jobs.clone()),
            elastic: policy.map(|p| ElasticPolicy {
                group: "worker".into(),
                bounds: Bounds { min: 0, max },
                cooldown: 60,
                queue: Some(QueueTrigger {
                    idle_time: p.node_idle_time,
                }),
                metrics: None,
                schedule: None,
            }),
        }
    }

    /// The batch groups of a mix, each sized for its own peak: the most nodes its jobs
    /// held at once on the whole traced machine.
    fn groups(&self, mix: Mix) -> Vec<Group> {
        let all = |_: i64| true;
        let parts = match mix {
            Mix::Shifted => vec![("kth", self.jobs(0, all)), ("kth-shifted", self.jobs(43_200, all))],
            Mix::SplitByUser => vec![
                ("kth-even-users", self.jobs(0, |u| u % 2 == 0)),
                ("kth-odd-users", self.jobs(0, |u| u % 2 != 0)),
            ],
        };
        let max = self.max_nodes();
        par_map(&parts, |(name, jobs)| {
            let whole = Group {
                name: name.to_string(),
                jobs: jobs.clone(),
                nodes: max,
            };
            let o = engine::run(&self.pool(self.hosts_for(max), None), &[self.batch(&whole, None)]);
            let peak = o.busy.iter().map(|b| b.1).fold(0.0, f64::max) / self.node_cpus as f64;
            Group {
                nodes: (peak.round() as u32).clamp(1, max),
                ..whole
            }
        })
    }

    /// Web nodes at the peak: the peak load at 70% of their cpus.
    fn web_peak_nodes(&self) -> u32 {
        (self.web_peak_cpus / (self.node_cpus as f64 * 0.7)).ceil() as u32
    }

    fn web(&self, elastic: bool) -> ClusterSpec {
        let interval = 300;
        let samples = self.horizon() / interval;
        let cpus = diurnal(self.epoch(), self.tz, samples as usize, interval, self.web_peak_cpus);
        let max = self.web_peak_nodes() * 2;
        ClusterSpec {
            name: "web".into(),
            project: "web".into(),
            node_cpus: self.node_cpus,
            node_memory_gib: self.node_memory_gib,
            max: if elastic { max } else { self.web_peak_nodes() },
            workload: Workload::Web { interval, cpus },
            elastic: elastic.then(|| ElasticPolicy {
                group: "web".into(),
                bounds: Bounds { min: 2, max },
                cooldown: 600,
                queue: None,
                metrics: Some(MetricsTrigger {
                    window: 600,
                    scale_out_above: 0.7,
                    scale_in_below: 0.45,
                    scale_out: Adjustment::ChangeInPercentage {
                        percent: 25.0,
                        min_step: 2,
                    },
                    scale_in: Adjustment::ChangeInPercentage {
                        percent: -10.0,
                        min_step: 1,
                    },
                }),
                // Office hours in the group's zone: enough for the morning ramp.
                schedule: Some(Schedule {
                    tz: self.tz,
                    rules: vec![ScheduleRule {
                        days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
                        start_minute: 8 * 60,
                        end_minute: 20 * 60,
                        min: self.web_peak_nodes() / 3,
                    }],
                }),
            }),
        }
    }

    /// Question 1: one batch cluster, always on vs the ideal vs each policy.
    pub fn question1(&self, policies: &[Policy]) -> Question1 {
        let max = self.max_nodes();
        let group = Group {
            name: "kth".into(),
            jobs: self.jobs(0, |_| true),
            nodes: max,
        };
        let hosts = self.hosts_for(max);
        let mut runs: Vec<Option<&Policy>> = vec![None];
        runs.extend(policies.iter().map(Some));
        let mut outcomes = par_map(&runs, |p| engine::run(&self.pool(hosts, *p), &[self.batch(&group, *p)]));
        let on = outcomes.remove(0);
        let always_on = Row::from_outcome("always on", &on);
        let (joules, host_seconds) = ideal::ideal(&on.busy, on.end, self.host_cpus as f64, &self.model);
        let ideal = Row::ideal("ideal", always_on.hosts, joules, host_seconds);
        let reasons = outcomes.first().map(|o| o.reasons.clone()).unwrap_or_default();
        let policies = policies
            .iter()
            .zip(&outcomes)
            .map(|(p, o)| Row::from_outcome(&p.name, o))
            .collect();
        Question1 {
            always_on,
            ideal,
            policies,
            reasons,
            idle_watts: self.model.idle_watts,
        }
    }

    /// Question 2 for one mix: dedicated always-on clusters vs one shared pool.
    pub fn question2(&self, mix: Mix, policies: &[Policy]) -> Question2 {
        let groups = self.groups(mix);
        let mut runs: Vec<(u32, ClusterSpec)> = groups
            .iter()
            .map(|g| (self.hosts_for(g.nodes), self.batch(g, None)))
            .collect();
        runs.push((self.hosts_for(self.web_peak_nodes()), self.web(false)));
        let outcomes = par_map(&runs, |(hosts, cluster)| {
            engine::run(&self.pool(*hosts, None), std::slice::from_ref(cluster))
        });
        let mut dedicated = Vec::new();
        for ((_, cluster), o) in runs.iter().zip(&outcomes) {
            let mut row = Row::from_outcome(&format!("dedicated {} ({} nodes)", cluster.name, cluster.max), o);
            if matches!(cluster.workload, Workload::Web { .. }) {
                row.mean_wait = None;
                row.p95_wait = None;
            }
            dedicated.push(row);
        }
        let end = outcomes.iter().map(|o| o.end).max().unwrap_or(0);
        let total = Row::sum("dedicated, together", &dedicated);
        dedicated.push(total.clone());
        let lines: Vec<&[(u64, f64)]> = outcomes.iter().map(|o| o.busy.as_slice()).collect();
        let mix_busy = ideal::merge(&lines);
        let (joules, host_seconds) = ideal::ideal(&mix_busy, end, self.host_cpus as f64, &self.model);
        let peak = mix_busy.iter().map(|b| b.1).fold(0.0, f64::max);
        let ideal = Row::ideal(
            "ideal for the mix",
            (peak / self.host_cpus as f64 - 1e-9).ceil() as u32,
            joules,
            host_seconds,
        );

        let searches: Vec<Search> = [Borrow::Dedicated, Borrow::Pool]
            .iter()
            .map(|&b| self.search(&groups, b, &policies[0], &total, &ideal))
            .collect();
        let last = searches.last().expect("two searches");
        let hosts = last.met.unwrap_or(last.row.hosts);
        let mut shared = par_map(&policies[1..], |p| self.shared(&groups, hosts, p, Borrow::Pool));
        shared.insert(0, last.row.clone());
        Question2 {
            mix,
            dedicated,
            ideal,
            searches,
            shared,
        }
    }

    /// The smallest pool, fewer hosts than the dedicated clusters, whose mean wait is
    /// no worse than theirs and whose saving is at least 85% of the ideal's, under
    /// `policy`: a bisection on the wait (it falls as the pool grows), a few sizes at
    /// once, one per cpu; then sizes upwards from there until the energy target is met.
    fn search(&self, groups: &[Group], borrow: Borrow, policy: &Policy, total: &Row, ideal: &Row) -> Search {
        let target = total.mean_wait.unwrap_or(0.0);
        let best_saving = total.kwh - ideal.kwh;
        let probes = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        let mut rows: Vec<Row> = Vec::new();
        let wait_ok = |r: &Row| r.mean_wait.unwrap_or(f64::MAX) <= target && r.unfinished == 0;
        let energy_ok = |r: &Row| best_saving > 0.0 && (total.kwh - r.kwh) / best_saving >= 0.85;
        // The widest job must fit.
        let (mut lo, hi) = (self.hosts_for(self.max_nodes()), total.hosts.saturating_sub(1));
        let mut top = hi;
        let mut first_ok: Option<u32> = None;
        while lo <= top {
            let n = probes.min(top - lo + 1);
            let points: Vec<u32> = (1..=n).map(|k| lo + (top - lo) * k / n).collect();
            let found = par_map(&points, |&h| self.shared(groups, h, policy, borrow));
            let k = found.iter().position(wait_ok);
            rows.extend(found);
            match k {
                Some(k) => {
                    first_ok = Some(points[k]);
                    if points[k] == 0 {
                        break;
                    }
                    top = points[k] - 1;
                    if k > 0 {
                        lo = points[k - 1] + 1;
                    }
                }
                None => lo = points[n as usize - 1] + 1,
            }
        }
        let mut met = None;
        if let Some(start) = first_ok {
            let mut h = start;
            while h <= hi && met.is_none() {
                let points: Vec<u32> = (h..=hi)
                    .filter(|p| !rows.iter().any(|r| r.hosts == *p))
                    .take(probes as usize)
                    .collect();
                let found = par_map(&points, |&p| self.shared(groups, p, policy, borrow));
                rows.extend(found);
                met = (h..=hi).find(|&p| {
                    rows.iter()
                        .find(|r| r.hosts == p)
                        .is_some_and(|r| wait_ok(r) && energy_ok(r))
                });
                h = points.last().map_or(hi + 1, |&p| p + 1);
            }
        }
        rows.sort_by_key(|r| r.hosts);
        rows.dedup_by_key(|r| r.hosts);
        let shown = met
            .or(first_ok)
            .and_then(|m| rows.iter().find(|r| r.hosts == m))
            .or(rows.last())
            .cloned()
            .expect("at least one size tried");
        let tried = rows
            .iter()
            .map(|r| Tried {
                hosts: r.hosts,
                mean_wait: r.mean_wait.unwrap_or(f64::MAX),
                of_ideal: if best_saving > 0.0 {
                    (total.kwh - r.kwh) / best_saving
                } else {
                    1.0
                },
                wait_ok: wait_ok(r),
            })
            .collect();
        Search {
            borrow,
            tried,
            met,
            row: shown,
        }
    }

    fn shared(&self, groups: &[Group], hosts: u32, p: &Policy, borrow: Borrow) -> Row {
        let pool_nodes = hosts * self.nodes_per_host();
        let mut clusters: Vec<ClusterSpec> = groups
            .iter()
            .map(|g| {
                let nodes = match borrow {
                    Borrow::Dedicated => g.nodes,
                    Borrow::Pool => pool_nodes,
                };
                self.batch(&Group { nodes, ..g.clone() }, Some(p))
            })
            .collect();
        clusters.push(self.web(true));
        let o = engine::run(&self.pool(hosts, Some(p)), &clusters);
        Row::from_outcome(&format!("shared pool ({borrow}): {}", p.name), &o)
    }
}
/// The batch groups of question 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// The trace, and the trace shifted by half a day.
    Shifted,
    /// The trace split in two groups by user (even and odd user numbers).
    SplitByUser,
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mix::Shifted => "KTH-SP2 + KTH-SP2 shifted by 12 h + web",
            Mix::SplitByUser => "KTH-SP2 split by user into two groups + web",
        })
    }
}

/// A batch group: its jobs and the nodes its cluster has.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    jobs: Vec<Job>,
    nodes: u32,
}

/// `f` over `items` on as many threads as there are cpus, results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((0..items.len()).map(|_| None).collect::<Vec<Option<R>>>());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("no thread panicked holding it")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("no thread panicked holding it")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// A web service's cpu demand: a weekday office-hours curve in `tz`, lower at weekends,
/// a floor at night, with a little deterministic noise.
pub fn diurnal(epoch: i64, tz: Tz, samples: usize, interval: u64, peak: f64) -> Vec<f64> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..samples)
        .map(|k| {
            let t = epoch + (k as u64 * interval) as i64;
            let local = tz.timestamp_opt(t, 0).single().expect("a unique instant");
            let hour = local.hour() as f64 + local.minute() as f64 / 60.0;
            let weekend = matches!(chrono::Datelike::weekday(&local), Weekday::Sat | Weekday::Sun);
            // Busy from 07:00 to 23:00, peaking mid-afternoon.
            let day = if (7.0..23.0).contains(&hour) {
                (std::f64::consts::PI * (hour - 7.0) / 16.0).sin().powi(2)
            } else {
                0.0
            };
            let level = 0.1 + 0.9 * day * if weekend { 0.5 } else { 1.0 };
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.1;
            (peak * level * (1.0 + noise)).clamp(0.0, peak)
        })
        .collect()
}

fn mean(v: &[u64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.iter().sum::<u64>() as f64 / v.len() as f64
}

fn percentile(v: &[u64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let k = ((s.len() as f64 * q).ceil() as usize).clamp(1, s.len()) - 1;
    s[k] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_means() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(mean(&v), 50.5);
        assert_eq!(percentile(&[], 0.95), 0.0);
    }

    #[test]
    fn diurnal_load_peaks_on_weekday_afternoons() {
        // 1996-09-23 was a Monday; midnight UTC is 02:00 in Stockholm (CEST).
        let monday = 843_436_800;
        let load = diurnal(monday, chrono_tz::Europe::Stockholm, 7 * 288, 300, 100.0);
        let at = |day: usize, hour: usize| load[day * 288 + (hour - 2) * 12];
        assert!(at(0, 15) > 80.0, "{}", at(0, 15));
        assert!(at(1, 4) < 15.0, "{}", at(1, 4));
        assert!(at(5, 15) < 60.0, "Saturday: {}", at(5, 15));
        assert!(load.iter().all(|&c| (0.0..=100.0).contains(&c)));
    }
}
