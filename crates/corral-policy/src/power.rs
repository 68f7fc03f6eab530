//! Host power: which hosts to switch on or off. Keeps a spare capacity powered on,
//! powers off hosts empty for `host_idle_time`, powers hosts on when pending nodes
//! cannot be placed, and never powers off a host that holds nodes. A boot or shutdown
//! that outlives its timeout is retried, then the host is `failed` for the operator.

use serde::{Deserialize, Serialize};

/// Where a host is in its power cycle: the wire type, one noun, one name.
pub use corral_api::PowerState;

/// How much room to keep powered on beyond what nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spare {
    /// This many empty hosts.
    Hosts(u32),
    /// This percentage of the pool (hosts not failed), as empty hosts, rounded up.
    Percent(f64),
}

impl Spare {
    /// How many empty hosts to keep on in a pool of `pool` hosts (not failed).
    pub fn hosts(&self, pool: usize) -> usize {
        match *self {
            Spare::Hosts(n) => n as usize,
            Spare::Percent(p) => ((p / 100.0) * pool as f64).ceil() as usize,
        }
    }
}

/// The power policy of a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerPolicy {
    /// Room kept powered on for nodes that come without warning.
    pub spare: Spare,
    /// How long a host stays empty before it is powered off, seconds.
    pub host_idle_time: u64,
    /// How long a boot may take before it is retried, seconds.
    pub boot_timeout: u64,
    /// How long a shutdown may take before it is retried, seconds.
    pub shutdown_timeout: u64,
    /// Attempts of one transition before the host is `failed`.
    pub max_attempts: u32,
}

impl Default for PowerPolicy {
    fn default() -> Self {
        PowerPolicy {
            spare: Spare::Hosts(1),
            host_idle_time: 600,
            boot_timeout: 600,
            shutdown_timeout: 300,
            max_attempts: 3,
        }
    }
}

/// A host as the power policy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPower {
    /// Power state.
    pub state: PowerState,
    /// When it entered `state` (or when the current attempt started).
    pub since: u64,
    /// Attempts of the current transition so far (1 after the first request).
    pub attempts: u32,
    /// Nodes it holds (placed, starting, running or stopping).
    pub nodes: u32,
    /// When it last became empty; `None` while it holds nodes.
    pub empty_since: Option<u64>,
    /// Physical cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
}

/// A pending node that no powered-on host can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unplaced {
    /// Cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
}

/// What to do to one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Ask the driver to power it on (first attempt or a retry).
    PowerOn,
    /// Ask the driver to power it off (first attempt or a retry).
    PowerOff,
    /// Give up: mark it failed.
    Fail,
}

/// One decision, with the reason shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Index of the host in the snapshot.
    pub host: usize,
    /// What to do.
    pub kind: ActionKind,
    /// Why, in words.
    pub reason: String,
}

/// Decides what to switch, given every host of the pool, the nodes that found no
/// room, and the time.
pub fn decide(policy: &PowerPolicy, hosts: &[HostPower], unplaced: &[Unplaced], now: u64) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut switching = vec![false; hosts.len()];
    timeouts(policy, hosts, now, &mut actions, &mut switching);

    // Room for the unplaced nodes: booting hosts first (they will be empty), then off
    // hosts, biggest first, until every node fits somewhere. A host given nodes here
    // is not spare.
    let mut claimed = vec![false; hosts.len()];
    let mut bins: Vec<(usize, u64, u64)> = (0..hosts.len())
        .filter(|&i| hosts[i].state == PowerState::PoweringOn && !failing(&actions, i))
        .map(|i| (i, hosts[i].cpu_millis, hosts[i].memory_bytes))
        .collect();
    let mut off: Vec<usize> = (0..hosts.len())
        .filter(|&i| hosts[i].state == PowerState::Off)
        .collect();
    off.sort_by_key(|&i| {
        (
            std::cmp::Reverse((hosts[i].memory_bytes, hosts[i].cpu_millis)),
            hosts[i].since,
            i,
        )
    });
    let mut demand: Vec<Unplaced> = unplaced.to_vec();
    demand.sort_by_key(|u| std::cmp::Reverse((u.memory_bytes, u.cpu_millis)));
    for u in &demand {
        if let Some(b) = bins.iter_mut().find(|b| b.1 >= u.cpu_millis && b.2 >= u.memory_bytes) {
            b.1 -= u.cpu_millis;
            b.2 -= u.memory_bytes;
            claimed[b.0] = true;
            continue;
        }
        // An off host too small for this node is left off; so is the node, when none fits.
        let Some(k) = off
            .iter()
            .position(|&i| hosts[i].cpu_millis >= u.cpu_millis && hosts[i].memory_bytes >= u.memory_bytes)
        else {
            continue;
        };
        let i = off.remove(k);
        bins.push((
            i,
            hosts[i].cpu_millis - u.cpu_millis,
            hosts[i].memory_bytes - u.memory_bytes,
        ));
        switching[i] = true;
        claimed[i] = true;
        actions.push(Action {
            host: i,
            kind: ActionKind::PowerOn,
            reason: format!("{} pending nodes found no room on powered-on hosts", unplaced.len()),
        });
    }

    // Spare room: empty hosts that are on or coming (a host woken above will be used).
    let pool = hosts.iter().filter(|h| h.state != PowerState::Failed).count();
    let want = policy.spare.hosts(pool);
    let spare_now = hosts
        .iter()
        .enumerate()
        .filter(|&(i, h)| !claimed[i] && h.nodes == 0 && matches!(h.state, PowerState::On | PowerState::PoweringOn))
        .count();
    if unplaced.is_empty() {
        for &i in off.iter().take(want.saturating_sub(spare_now)) {
            switching[i] = true;
            actions.push(Action {
                host: i,
                kind: ActionKind::PowerOn,
                reason: format!("keeping {want} empty hosts powered on as spare, {spare_now} are"),
            });
        }
    }

    // Idle hosts beyond the spare: longest empty first, never one holding nodes.
    let mut idle: Vec<usize> = (0..hosts.len())
        .filter(|&i| {
            let h = &hosts[i];
            !switching[i]
                && h.state == PowerState::On
                && h.nodes == 0
                && h.empty_since.is_some_and(|t| now >= t + policy.host_idle_time)
        })
        .collect();
    idle.sort_by_key(|&i| (hosts[i].empty_since, i));
    // Pending nodes that fit nowhere do not keep idle hosts on: they do not fit there.
    let removable = spare_now.saturating_sub(want).min(idle.len());
    for &i in idle.iter().take(removable) {
        actions.push(Action {
            host: i,
            kind: ActionKind::PowerOff,
            reason: format!(
                "empty for {} s (host idle time {} s)",
                now - hosts[i].empty_since.unwrap_or(now),
                policy.host_idle_time
            ),
        });
    }
    actions
}

fn failing(actions: &[Action], host: usize) -> bool {
    actions.iter().any(|a| a.host == host && a.kind == ActionKind::Fail)
}

/// Retries or fails transitions that outlived their timeout.
fn timeouts(policy: &PowerPolicy, hosts: &[HostPower], now: u64, actions: &mut Vec<Action>, switching: &mut [bool]) {
    for (i, h) in hosts.iter().enumerate() {
        let (timeout, kind, what) = match h.state {
            PowerState::PoweringOn => (policy.boot_timeout, ActionKind::PowerOn, "boot"),
            // A host that got nodes while shutting down is still never switched off twice.
            PowerState::PoweringOff => (policy.shutdown_timeout, ActionKind::PowerOff, "shutdown"),
            _ => continue,
        };
        if now < h.since + timeout {
            continue;
        }
        switching[i] = true;
        if h.attempts >= policy.max_attempts {
            actions.push(Action {
                host: i,
                kind: ActionKind::Fail,
                reason: format!("{what} did not finish in {timeout} s, {} attempts", h.attempts),
            });
        } else {
            actions.push(Action {
                host: i,
                kind,
                reason: format!("{what} did not finish in {timeout} s, attempt {}", h.attempts + 1),
            });
        }
    }
}

#[cfg(test)]
#[path = "power_tests.rs"]
mod tests;
