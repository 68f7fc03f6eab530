//! Hosts: machines running an agent, their capacity, labels and state.

use std::collections::BTreeMap;

use corral_api::agent::HostCapacity;
use corral_api::{ApiError, Host, HostState};
use corral_store::{typed, Compare, Op};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::node::{Desired, NodeRecord};
use crate::time::now;

/// A stored host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRecord {
    /// Name.
    pub name: String,
    /// Capacity it offers.
    pub capacity: HostCapacity,
    /// Underlay address.
    #[serde(default)]
    pub address: String,
    /// Where its agent's own listener (exec, save) is reached, `ip:port`; empty for
    /// an agent in the server's process or one that has none.
    #[serde(default)]
    pub exec_address: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// State.
    #[serde(default = "ready")]
    pub state: HostState,
    /// Fingerprint of its agent's certificate, for hosts that joined over the network.
    #[serde(default)]
    pub cert_fingerprint: Option<String>,
    /// Last time its agent spoke.
    pub last_seen: u64,
    /// How its power is switched; none when Corral does not manage its power.
    #[serde(default)]
    pub power_config: Option<corral_api::PowerConfig>,
    /// Its power: state, since when, attempts, why.
    #[serde(default)]
    pub power: PowerRecord,
}

/// A host's power as the power manager keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerRecord {
    /// Power state.
    pub state: corral_api::PowerState,
    /// When it entered the state (or the current attempt started).
    #[serde(default)]
    pub since: u64,
    /// Attempts of the current transition.
    #[serde(default)]
    pub attempts: u32,
    /// Since when it holds no nodes; `None` while it holds some.
    #[serde(default)]
    pub empty_since: Option<u64>,
    /// Why it was last switched.
    #[serde(default)]
    pub reason: Option<String>,
    /// The driver's last error.
    #[serde(default)]
    pub error: Option<String>,
}

fn ready() -> HostState {
    HostState::Ready
}

impl HostRecord {
    /// The API view, with what its nodes use.
    pub fn to_api(&self, nodes: &[NodeRecord]) -> Host {
        let mine: Vec<&NodeRecord> = nodes
            .iter()
            .filter(|n| n.host.as_deref() == Some(self.name.as_str()) && n.desired != Desired::Deleted)
            .collect();
        Host {
            name: self.name.clone(),
            address: self.address.clone(),
            state: self.state,
            labels: self.labels.clone(),
            capacity: self.capacity.clone(),
            used_cpu_millis: mine.iter().map(|n| n.cpu_millis as u64).sum(),
            used_memory_bytes: mine.iter().map(|n| n.memory_bytes).sum(),
            nodes: mine.len() as u32,
            last_seen: self.last_seen,
            power: corral_api::HostPower {
                state: self.power.state,
                driver: self.power_config.as_ref().map(|c| c.driver().to_string()),
                since: self.power.since,
                reason: self.power.reason.clone(),
                error: self.power.error.clone(),
            },
            energy: Default::default(),
        }
    }
}

/// Records a host's registration, keeping what the server decided about it (state,
/// certificate).
pub fn register(ctx: &Context, name: &str, req: corral_api::RegisterRequest) -> Result<()> {
    let corral_api::RegisterRequest {
        capacity,
        labels,
        address,
        exec_address,
    } = req;
    loop {
        let doc = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))?;
        let (mut rec, compare) = match doc {
            Some(d) => (d.value, Compare::ModRevision(d.key, d.revision)),
            None => (
                HostRecord {
                    name: name.to_string(),
                    capacity: capacity.clone(),
                    address: String::new(),
                    exec_address: String::new(),
                    labels: BTreeMap::new(),
                    state: HostState::Ready,
                    cert_fingerprint: None,
                    last_seen: 0,
                    power_config: None,
                    power: PowerRecord::default(),
                },
                Compare::Absent(keys::host(name)),
            ),
        };
        if rec.state == HostState::Removed {
            return Err(ApiError::new(
                corral_api::ErrorCode::Forbidden,
                format!("host {name} was removed from the pool"),
            )
            .into());
        }
        rec.capacity = capacity.clone();
        rec.address = address.clone();
        rec.exec_address = exec_address.clone();
        rec.labels = labels.clone();
        if rec.state == HostState::Unreachable {
            rec.state = HostState::Ready;
        }
        rec.last_seen = now();
        if ctx
            .store
            .txn(&[compare], &[typed::put_op(&keys::host(name), &rec)?])?
            .is_some()
        {
            return Ok(());
        }
    }
}

/// How often `last_seen` is written to the store; liveness itself is in memory.
const LAST_SEEN_EVERY: u64 = 30;

/// Notes that a host's agent spoke: in memory at once, in the store now and then.
pub fn touch(ctx: &Context, name: &str) -> Result<()> {
    ctx.heartbeat(name);
    let Some(d) = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))? else {
        return Ok(());
    };
    let t = now();
    if d.value.last_seen + LAST_SEEN_EVERY > t {
        return Ok(());
    }
    let mut rec = d.value;
    rec.last_seen = t;
    ctx.store.txn(
        &[Compare::ModRevision(d.key.clone(), d.revision)],
        &[typed::put_op(&d.key, &rec)?],
    )?;
    Ok(())
}

/// Every host.
pub fn all(ctx: &Context) -> Result<Vec<HostRecord>> {
    Ok(typed::list::<HostRecord>(ctx.store.as_ref(), keys::HOSTS)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Hosts that take nodes.
pub fn ready_hosts(ctx: &Context) -> Result<Vec<HostRecord>> {
    Ok(all(ctx)?.into_iter().filter(|h| h.state == HostState::Ready).collect())
}

/// Marks a host removed: it takes no nodes and its certificate stops working.
pub fn remove(ctx: &Context, name: &str) -> Result<HostRecord> {
    loop {
        let d = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))?
            .ok_or_else(|| ApiError::not_found("host", name))?;
        let mut rec = d.value;
        rec.state = HostState::Removed;
        let mut ops = vec![typed::put_op(&d.key, &rec)?];
        if let Some(fp) = &rec.cert_fingerprint {
            ops.push(Op::Delete(keys::agent_cert(fp)));
        }
        if ctx
            .store
            .txn(&[Compare::ModRevision(d.key.clone(), d.revision)], &ops)?
            .is_some()
        {
            return Ok(rec);
        }
    }
}
