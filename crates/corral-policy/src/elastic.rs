//! Elasticity: the desired size of a cluster's node group within [min, max].
//!
//! Adjustments are OpenStack Senlin's (exact capacity, change in capacity, change in
//! percentage with a minimum step). Triggers: the batch queue (pending jobs and the
//! nodes they lack → nodes to add; nodes idle for `idle_time` → nodes to remove), the
//! group's mean cpu over a window against thresholds, calendar rules in a time zone
//! (a floor on the size), and manual requests. Scale-in takes idle nodes first, then
//! nodes whose work is unknown, youngest first; a node running known work is never
//! removed. Every decision carries its reason, for the cluster's events.

use chrono::{Datelike, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why an adjustment was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ElasticError {
    /// A strict adjustment would leave [min, max].
    #[error("{group} would be {desired} nodes, outside its bounds [{min}, {max}]")]
    OutOfBounds {
        /// The node group.
        group: String,
        /// The size asked for.
        desired: i64,
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
    /// min is above max.
    #[error("min {min} is above max {max}")]
    InvalidBounds {
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
}

/// A change of size, as OpenStack Senlin defines them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// Set the size to this.
    ExactCapacity(u32),
    /// Add (or with a negative number remove) this many nodes.
    ChangeInCapacity(i64),
    /// Change by this percentage of the current size, by at least `min_step` nodes.
    ChangeInPercentage {
        /// Percent, negative to shrink.
        percent: f64,
        /// Smallest change in nodes when the percentage rounds lower.
        min_step: u32,
    },
}

impl Adjustment {
    /// The size asked for from `current`, before bounds (Senlin's `calculate_desired`):
    /// a percentage below one node rounds away from zero, above one towards zero, and
    /// `min_step` is the least change (in the percentage's direction, where Senlin takes
    /// the rounded change's, so that an empty group can grow by a percentage too).
    pub fn desired(&self, current: u32) -> i64 {
        let current = current as i64;
        match *self {
            Adjustment::ExactCapacity(n) => n as i64,
            Adjustment::ChangeInCapacity(n) => current + n,
            Adjustment::ChangeInPercentage { percent, min_step } => {
                let delta = percent * current as f64 / 100.0;
                let rounded = if delta.abs() < 1.0 {
                    if delta > 0.0 {
                        delta.ceil()
                    } else {
                        delta.floor()
                    }
                } else {
                    delta.trunc()
                } as i64;
                if (min_step as i64) > rounded.abs() {
                    current
                        + if percent > 0.0 {
                            min_step as i64
                        } else {
                            -(min_step as i64)
                        }
                } else {
                    current + rounded
                }
            }
        }
    }
}

/// A node group's size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// Fewest nodes.
    pub min: u32,
    /// Most nodes.
    pub max: u32,
}

impl Bounds {
    /// Checks min ≤ max.
    pub fn new(min: u32, max: u32) -> Result<Bounds, ElasticError> {
        if min > max {
            return Err(ElasticError::InvalidBounds { min, max });
        }
        Ok(Bounds { min, max })
    }

    /// `desired` within the bounds: clamped, or refused when `strict` (Senlin's
    /// `best_effort` false).
    pub fn truncate(&self, group: &str, desired: i64, strict: bool) -> Result<u32, ElasticError> {
        let inside = desired >= self.min as i64 && desired <= self.max as i64;
        if strict && !inside {
            return Err(ElasticError::OutOfBounds {
                group: group.to_string(),
                desired,
                min: self.min,
                max: self.max,
            });
        }
        Ok(desired.clamp(self.min as i64, self.max as i64) as u32)
    }
}

/// What a node is doing, as far as Corral knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Running work the batch system told us of: never removed.
    Busy,
    /// Known to have nothing to do since this time.
    Idle(u64),
    /// No probe says (e.g. a web server): removable, after idle ones.
    Unknown,
}

/// A node of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStatus {
    /// When it was created.
    pub created: u64,
    /// What it is doing.
    pub work: Work,
}

/// A pending job of the cluster's batch system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingJob {
    /// Nodes it still needs.
    pub nodes: u32,
}

/// Grow for the queue, shrink nodes left idle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueueTrigger {
    /// How long a node stays idle before it is removed, seconds.
    pub idle_time: u64,
}

/// Grow or shrink on the group's mean cpu use over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricsTrigger {
    /// The window, seconds.
    pub window: u64,
    /// Grow when the mean is above this (0..=1).
    pub scale_out_above: f64,
    /// Shrink when the mean is below this (0..=1).
    pub scale_in_below: f64,
    /// How to grow.
    pub scale_out: Adjustment,
    /// How to shrink.
    pub scale_in: Adjustment,
}

/// A calendar rule: on these days, between these times of day, at least `min` nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRule {
    /// Days it applies, Monday first.
    pub days: Vec<Weekday>,
    /// Start, minutes after midnight.
    pub start_minute: u32,
    /// End (exclusive), minutes after midnight; before `start_minute` it runs past midnight.
    pub end_minute: u32,
    /// The floor on the group's size while it applies.
    pub min: u32,
}

impl ScheduleRule {
    /// Whether the rule applies at this local day and minute.
    fn applies(&self, day: Weekday, minute: u32) -> bool {
        let (s, e) = (self.start_minute, self.end_minute);
        if s <= e {
            self.days.contains(&day) && minute >= s && minute < e
        } else {
            // Past midnight: the part after midnight belongs to the day before.
            (self.days.contains(&day) && minute >= s) || (self.days.contains(&day.pred()) && minute < e)
        }
    }

    /// "Mon–Fri 08:00–20:00 min 8".
    pub fn describe(&self) -> String {
        let has = |n: u8| (0..n).all(|i| self.days.contains(&Weekday::try_from(i).unwrap()));
        let days = if self.days.len() == 7 && has(7) {
            "daily".to_string()
        } else if self.days.len() == 5 && has(5) {
            "Mon–Fri".to_string()
        } else {
            self.days.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(",")
        };
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        format!(
            "{days} {}–{} min {}",
            hm(self.start_minute),
            hm(self.end_minute),
            self.min
        )
    }
}

/// Calendar rules in a time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The cluster's time zone.
    pub tz: Tz,
    /// The rules; the highest floor of those that apply wins.
    pub rules: Vec<ScheduleRule>,
}

impl Schedule {
    /// The rule with the highest floor that applies at `now` (Unix seconds).
    pub fn floor(&self, now: u64) -> Option<&ScheduleRule> {
        let local = self.tz.timestamp_opt(now as i64, 0).single()?;
        let minute = local.hour() * 60 + local.minute();
        let day = local.weekday();
        self.rules
            .iter()
            .filter(|r| r.applies(day, minute))
            .max_by_key(|r| r.min)
    }
}

/// The elasticity policy of one node group.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticPolicy {
    /// The node group's name, for reasons.
    pub group: String,
    /// Size limits.
    pub bounds: Bounds,
    /// Seconds after a change in which triggers do not change the size again; a queue
    /// asking for nodes is not held back, since a waiting job is not noise.
    pub cooldown: u64,
    /// The queue trigger, if any.
    pub queue: Option<QueueTrigger>,
    /// The metrics trigger, if any.
    pub metrics: Option<MetricsTrigger>,
    /// Calendar rules, if any.
    pub schedule: Option<Schedule>,
}

/// What the group looks like now.
#[derive(Debug, Clone, Copy)]
pub struct GroupState<'a> {
    /// Its nodes (not those already being removed).
    pub nodes: &'a [NodeStatus],
    /// When its size last changed.
    pub last_scaled: Option<u64>,
    /// Jobs of its batch system waiting for nodes.
    pub pending: &'a [PendingJob],
    /// Samples of the group's mean cpu use (time, 0..=1), oldest first.
    pub cpu: &'a [(u64, f64)],
}

/// A change of size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Size before.
    pub from: u32,
    /// Size after.
    pub to: u32,
    /// Nodes to remove (indices into `GroupState::nodes`), when shrinking.
    pub remove: Vec<usize>,
    /// Why, e.g. "scaled worker 2→6: 4 jobs pending needing 6 nodes".
    pub reason: String,
}

/// Decides whether the group changes size now, and why.
pub fn decide(policy: &ElasticPolicy, state: &GroupState<'_>, now: u64) -> Option<Decision> {
    let current = state.nodes.len() as u32;
    let b = policy.bounds;
    let rule = policy.schedule.as_ref().and_then(|s| s.floor(now));
    let floor = rule.map_or(b.min, |r| r.min.clamp(b.min, b.max));
    // Bounds and calendar floors hold whatever the cooldown says.
    if current < floor {
        let why = match rule {
            Some(r) if r.min > b.min => format!("schedule {}", r.describe()),
            _ => format!("below min {}", b.min),
        };
        return Some(resize(policy, state, floor, why));
    }
    if current > b.max {
        return Some(resize(policy, state, b.max, format!("above max {}", b.max)));
    }
    if let Some(d) = queue_out(policy, state) {
        return Some(d);
    }
    if state.last_scaled.is_some_and(|t| now < t + policy.cooldown) {
        return None;
    }
    if let Some(m) = &policy.metrics {
        if let Some(d) = metrics(policy, m, state, floor, now) {
            return Some(d);
        }
    }
    let q = policy.queue.as_ref()?;
    if !state.pending.is_empty() {
        return None;
    }
    let idle: Vec<usize> = (0..state.nodes.len())
        .filter(|&i| matches!(state.nodes[i].work, Work::Idle(t) if now >= t + q.idle_time))
        .collect();
    let to = current.saturating_sub(idle.len() as u32).max(floor);
    if to >= current {
        return None;
    }
    let mut order: Vec<usize> = scale_in_order(state.nodes);
    order.retain(|i| idle.contains(i));
    order.truncate((current - to) as usize);
    Some(Decision {
        from: current,
        to,
        reason: format!(
            "scaled {} {current}→{to}: {} nodes idle for {} s",
            policy.group,
            current - to,
            q.idle_time
        ),
        remove: order,
    })
}

/// Grows for pending jobs: the nodes they need beyond the idle ones.
fn queue_out(policy: &ElasticPolicy, state: &GroupState<'_>) -> Option<Decision> {
    policy.queue.as_ref()?;
    let current = state.nodes.len() as u32;
    let wanted: u64 = state.pending.iter().map(|j| j.nodes as u64).sum();
    let idle = state.nodes.iter().filter(|n| matches!(n.work, Work::Idle(_))).count() as u64;
    let lacking = wanted.saturating_sub(idle);
    if lacking == 0 {
        return None;
    }
    let to = (current as u64 + lacking).min(policy.bounds.max as u64) as u32;
    if to <= current {
        return None;
    }
    Some(Decision {
        from: current,
        to,
        remove: Vec::new(),
        reason: format!(
            "scaled {} {current}→{to}: {} jobs pending needing {wanted} nodes",
            policy.group,
            state.pending.len()
        ),
    })
}

/// Grows or shrinks on the mean cpu over the window.
fn metrics(
    policy: &ElasticPolicy,
    m: &MetricsTrigger,
    state: &GroupState<'_>,
    floor: u32,
    now: u64,
) -> Option<Decision> {
    let since = now.saturating_sub(m.window);
    let window: Vec<f64> = state
        .cpu
        .iter()
        .filter(|(t, _)| *t >= since && *t <= now)
        .map(|s| s.1)
        .collect();
    if window.is_empty() {
        return None;
    }
    let mean = window.iter().sum::<f64>() / window.len() as f64;
    let current = state.nodes.len() as u32;
    let (adj, side) = if mean > m.scale_out_above {
        (m.scale_out, format!("above {:.0}%", m.scale_out_above * 100.0))
    } else if mean < m.scale_in_below {
        (m.scale_in, format!("below {:.0}%", m.scale_in_below * 100.0))
    } else {
        return None;
    };
    let b = Bounds {
        min: floor,
        max: policy.bounds.max,
    };
    let to = b.truncate(&policy.group, adj.desired(current), false).ok()?;
    let why = format!("mean cpu {:.0}% over {} s, {side}", mean * 100.0, m.window);
    let d = resize(policy, state, to, why);
    (d.to != current).then_some(d)
}

/// A decision to reach `to` (fewer if too few nodes can be removed), with its reason.
fn resize(policy: &ElasticPolicy, state: &GroupState<'_>, to: u32, why: String) -> Decision {
    let current = state.nodes.len() as u32;
    let mut remove = Vec::new();
    let mut to = to;
    if to < current {
        remove = scale_in_order(state.nodes);
        remove.truncate((current - to) as usize);
        to = current - remove.len() as u32;
    }
    Decision {
        from: current,
        to,
        remove,
        reason: format!("scaled {} {current}→{to}: {why}", policy.group),
    }
}

/// The nodes that may be removed, in the order to remove them: idle ones first, then
/// those whose work is unknown; youngest first within each. Busy nodes never appear.
pub fn scale_in_order(nodes: &[NodeStatus]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].work != Work::Busy).collect();
    order.sort_by_key(|&i| {
        let rank = match nodes[i].work {
            Work::Idle(_) => 0,
            _ => 1,
        };
        (rank, std::cmp::Reverse(nodes[i].created), i)
    });
    order
}

/// A manual request (API, CLI): the decision for `adjustment`, refused outside the
/// bounds when `strict`, else clamped to them; busy nodes are still never removed.
pub fn manual(
    policy: &ElasticPolicy,
    state: &GroupState<'_>,
    adjustment: Adjustment,
    strict: bool,
) -> Result<Decision, ElasticError> {
    let current = state.nodes.len() as u32;
    let to = policy
        .bounds
        .truncate(&policy.group, adjustment.desired(current), strict)?;
    Ok(resize(policy, state, to, "requested".to_string()))
}

#[cfg(test)]
#[path = "elastic_tests.rs"]
mod tests;
