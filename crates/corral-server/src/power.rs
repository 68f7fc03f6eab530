//! The power manager: a control loop that switches hosts on and off through their
//! power drivers, as `corral_policy::power` decides (spare capacity on, idle hosts
//! off, hosts on for nodes that find no room, retries then `failed`).
//!
//! Only hosts with a power configuration are switched; the others count as always on.
//! A host is marked `powering_off` in the same transaction that bumps the scheduler's
//! epoch, and only if the scheduler placed nothing since the manager read the nodes:
//! so no node is ever placed on a host that is going down.

use std::collections::HashMap;
use std::sync::Arc;

use corral_api::{ApiError, ErrorCode, HostState, PowerConfig, PowerState};
use corral_policy::power::{self as policy, ActionKind};
use corral_power::{PowerDriver, PowerStatus};
use corral_store::{typed, Compare, Op};

use crate::context::Context;
use crate::error::Result;
use crate::host::{HostRecord, PowerRecord};
use crate::node::{self, Desired};
use crate::time::now;
use crate::{event, keys};

/// Runs the power manager until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let mut consolidation = crate::consolidation::State::default();
    loop {
        tokio::time::sleep(ctx.cfg.power_interval).await;
        if let Err(e) = pass(&ctx).await {
            tracing::warn!(error = %e, "power pass failed");
        }
        // Consolidation frees hosts for the power policy: pointless when it switches none.
        let managed = crate::host::all(&ctx).is_ok_and(|h| h.iter().any(|h| h.power_config.is_some()));
        if managed {
            if let Err(e) = crate::consolidation::pass(&ctx, &mut consolidation, now()) {
                tracing::warn!(error = %e, "consolidation pass failed");
            }
        }
    }
}

/// The driver a host's configuration names.
fn driver(ctx: &Arc<Context>, host: &str, config: &PowerConfig) -> Box<dyn PowerDriver> {
    // Wake-on-LAN hosts are powered off by their own agent.
    let shutdown = AgentOff {
        ctx: ctx.clone(),
        host: host.to_string(),
    };
    corral_power::driver(host, config, Some(Box::new(shutdown)))
}

/// Powers a host off through its agent's listener.
struct AgentOff {
    ctx: Arc<Context>,
    host: String,
}

#[async_trait::async_trait]
impl corral_power::AgentShutdown for AgentOff {
    async fn shutdown(&self) -> std::result::Result<(), corral_power::PowerError> {
        crate::host_channel::power_off(&self.ctx, &self.host)
            .await
            .map_err(|why| corral_power::PowerError::Failed {
                what: format!("power off {} through its agent", self.host),
                message: why,
            })
    }
}

/// Whether the host's agent spoke at or after `t` (seconds since the epoch).
fn heard_since(ctx: &Context, host: &str, t: u64) -> bool {
    let age = ctx.last_heartbeat(host).elapsed().as_secs_f64();
    now() as f64 - age >= t as f64
}

/// How long the agent of a host without power read-back must be silent before the
/// host counts as off.
const OFF_SILENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// How long the host's agent has been silent.
fn silent_for(ctx: &Context, host: &str) -> std::time::Duration {
    ctx.last_heartbeat(host).elapsed()
}

/// Changes one host's power record under compare-and-swap; `false` when the host is
/// gone or `change` declined.
fn update(ctx: &Context, name: &str, mut change: impl FnMut(&mut HostRecord) -> bool) -> Result<bool> {
    loop {
        let Some(doc) = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))? else {
            return Ok(false);
        };
        let mut rec = doc.value.clone();
        if !change(&mut rec) {
            return Ok(false);
        }
        let done = ctx.store.txn(
            &[Compare::ModRevision(doc.key.clone(), doc.revision)],
            &[typed::put_op(&doc.key, &rec)?],
        )?;
        if done.is_some() {
            return Ok(true);
        }
    }
}

fn enter(p: &mut PowerRecord, state: PowerState, reason: &str) {
    if p.state != state {
        p.attempts = 0;
    }
    p.state = state;
    p.since = now();
    p.reason = Some(reason.to_string());
    p.error = None;
}

/// One pass: observe transitions that finished, then act on the policy's decisions.
pub async fn pass(ctx: &Arc<Context>) -> Result<()> {
    let hosts = crate::host::all(ctx)?;
    if !hosts.iter().any(|h| h.power_config.is_some()) {
        return Ok(());
    }
    observe(ctx, &hosts).await?;
    decide_and_act(ctx).await
}

/// Moves hosts whose transition finished: a booting host whose agent spoke is on; a
/// host going down that its driver reads as off (or, without a read-back, whose agent
/// went silent) is off. Also keeps `empty_since`.
async fn observe(ctx: &Arc<Context>, hosts: &[HostRecord]) -> Result<()> {
    let mut holding: HashMap<String, u32> = HashMap::new();
    for d in node::all(ctx)? {
        if let Some(h) = d.value.host {
            *holding.entry(h).or_default() += 1;
        }
    }
    for h in hosts
        .iter()
        .filter(|h| h.power_config.is_some() && h.state != HostState::Removed)
    {
        let config = h.power_config.clone().expect("filtered");
        let next = match h.power.state {
            PowerState::PoweringOn | PowerState::Off | PowerState::Failed
                if heard_since(ctx, &h.name, h.power.since) =>
            {
                Some((PowerState::On, "its agent is back"))
            }
            PowerState::PoweringOff => match driver(ctx, &h.name, &config).status().await {
                Ok(PowerStatus::Off) => Some((PowerState::Off, "powered off")),
                // Without a read-back (wake-on-LAN), a host whose agent stays silent
                // is off.
                Ok(PowerStatus::Unknown) if silent_for(ctx, &h.name) >= OFF_SILENCE => {
                    Some((PowerState::Off, "its agent went silent"))
                }
                _ => None,
            },
            _ => None,
        };
        let nodes = holding.get(&h.name).copied().unwrap_or(0);
        let empty_since = match (nodes, h.power.empty_since) {
            (0, None) => Some(now()),
            (0, since) => since,
            _ => None,
        };
        if next.is_none() && empty_since == h.power.empty_since {
            continue;
        }
        let changed = update(ctx, &h.name, |rec| {
            rec.power.empty_since = empty_since;
            if let Some((state, why)) = next {
                if rec.power.state != h.power.state {
                    return false;
                }
                enter(&mut rec.power, state, why);
            }
            true
        })?;
        if let (true, Some((state, why))) = (changed, next) {
            event::record(
                ctx,
                "corral",
                &format!("hosts/{}", h.name),
                &format!("host.power_{}", state.as_str()),
                why,
            );
        }
    }
    Ok(())
}

async fn decide_and_act(ctx: &Arc<Context>) -> Result<()> {
    // The epoch is read before the nodes: a placement after this read conflicts with
    // a power-off below.
    let epoch = crate::scheduler::epoch(ctx)?;
    let docs = typed::list::<HostRecord>(ctx.store.as_ref(), keys::HOSTS)?;
    let docs: Vec<_> = docs
        .into_iter()
        .filter(|d| d.value.state != HostState::Removed)
        .collect();
    let nodes = node::all(ctx)?;
    let mut holding: HashMap<&str, u32> = HashMap::new();
    for d in &nodes {
        if let Some(h) = d.value.host.as_deref() {
            *holding.entry(h).or_default() += 1;
        }
    }
    let snapshot: Vec<policy::HostPower> = docs
        .iter()
        .map(|d| {
            let h = &d.value;
            let managed = h.power_config.is_some();
            policy::HostPower {
                // Hosts Corral does not switch are on as far as the policy knows.
                state: if managed { h.power.state } else { PowerState::On },
                since: h.power.since,
                attempts: h.power.attempts,
                nodes: holding.get(h.name.as_str()).copied().unwrap_or(0),
                empty_since: if managed { h.power.empty_since } else { None },
                cpu_millis: h.capacity.cpu_millis,
                memory_bytes: h.capacity.memory_bytes,
            }
        })
        .collect();
    // Only nodes the scheduler already tried count as finding no room.
    let unplaced: Vec<policy::Unplaced> = nodes
        .iter()
        .map(|d| &d.value)
        .filter(|n| n.host.is_none() && n.desired == Desired::Running && n.error.is_some())
        .map(|n| policy::Unplaced {
            cpu_millis: n.cpu_millis as u64,
            memory_bytes: n.memory_bytes,
        })
        .collect();
    let actions = policy::decide(&ctx.cfg.power, &snapshot, &unplaced, now());
    for a in actions {
        let doc = &docs[a.host];
        let Some(config) = doc.value.power_config.clone() else {
            continue;
        };
        let name = doc.value.name.clone();
        match a.kind {
            ActionKind::PowerOff => {
                // Marked in one transaction with the scheduler's epoch: nothing was
                // placed since the nodes were read, and nothing will be once it commits.
                let mut rec = doc.value.clone();
                let attempts = rec.power.attempts;
                enter(&mut rec.power, PowerState::PoweringOff, &a.reason);
                rec.power.attempts = attempts + 1;
                let ops = [
                    typed::put_op(&doc.key, &rec)?,
                    Op::Put(keys::SCHEDULER_EPOCH.to_string(), b"power".to_vec()),
                ];
                let compares = [epoch.clone(), Compare::ModRevision(doc.key.clone(), doc.revision)];
                if ctx.store.txn(&compares, &ops)?.is_none() {
                    // Something moved meanwhile; the next pass decides again.
                    return Ok(());
                }
                event::record(ctx, "corral", &format!("hosts/{name}"), "host.powering_off", &a.reason);
                switch(ctx, &name, &config, false).await?;
            }
            ActionKind::PowerOn => {
                let reason = a.reason.clone();
                let ok = update(ctx, &name, |rec| {
                    let attempts = rec.power.attempts;
                    enter(&mut rec.power, PowerState::PoweringOn, &reason);
                    rec.power.attempts = attempts + 1;
                    true
                })?;
                if ok {
                    event::record(ctx, "corral", &format!("hosts/{name}"), "host.powering_on", &a.reason);
                    switch(ctx, &name, &config, true).await?;
                }
            }
            ActionKind::Fail => {
                let reason = a.reason.clone();
                if update(ctx, &name, |rec| {
                    enter(&mut rec.power, PowerState::Failed, &reason);
                    true
                })? {
                    event::record(ctx, "corral", &format!("hosts/{name}"), "host.power_failed", &a.reason);
                }
            }
        }
    }
    Ok(())
}

/// Calls the driver; a failure is kept on the host for the operator (the policy
/// retries after the transition's timeout).
async fn switch(ctx: &Arc<Context>, name: &str, config: &PowerConfig, on: bool) -> Result<()> {
    let d = driver(ctx, name, config);
    let r = if on { d.power_on().await } else { d.power_off().await };
    if let Err(e) = r {
        let message = e.to_string();
        tracing::warn!(host = name, error = %message, "power switch failed");
        update(ctx, name, |rec| {
            rec.power.error = Some(message.clone());
            true
        })?;
    }
    Ok(())
}

/// Sets or clears how a host's power is switched (`PUT`/`DELETE /v1/hosts/{name}/power`).
pub fn configure(ctx: &Context, name: &str, config: Option<PowerConfig>) -> Result<HostRecord> {
    if let Some(c) = &config {
        validate(c)?;
        if ctx.local_agent(name).is_some() {
            // `corral up`: the host is the server's own machine.
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("host {name} runs this server: Corral does not power off its own machine"),
            )
            .into());
        }
    }
    let mut out = None;
    let found = update(ctx, name, |rec| {
        if rec.state == HostState::Removed {
            return false;
        }
        rec.power_config = config.clone();
        if config.is_none() {
            rec.power = PowerRecord::default();
        }
        out = Some(rec.clone());
        true
    })?;
    match (found, out) {
        (true, Some(rec)) => Ok(rec),
        _ => Err(ApiError::not_found("host", name).into()),
    }
}

fn validate(c: &PowerConfig) -> Result<()> {
    let bad = |m: String| -> Result<()> { Err(ApiError::invalid(m).into()) };
    match c {
        PowerConfig::Ipmi(i) if i.address.trim().is_empty() => bad("ipmi needs the BMC's address".into()),
        PowerConfig::Wol(w) if corral_power::wol::parse_mac(&w.mac).is_err() => bad(format!(
            "wol: MAC address {:?} is not six hex bytes like 52:54:00:12:34:56",
            w.mac
        )),
        PowerConfig::Wol(w) if w.broadcast.parse::<std::net::Ipv4Addr>().is_err() => bad(format!(
            "wol: broadcast address {:?} is not an IPv4 address",
            w.broadcast
        )),
        PowerConfig::Exec(e) if !e.command.starts_with('/') => bad(format!(
            "exec: command {:?} must be an absolute path on the server",
            e.command
        )),
        _ => Ok(()),
    }
}

/// Powers a host on or off at the operator's request (`POST /v1/hosts/{name}/power/on|off`).
/// A host holding nodes is never powered off.
pub async fn manual(ctx: &Arc<Context>, name: &str, on: bool) -> Result<HostRecord> {
    let doc = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))?
        .ok_or_else(|| ApiError::not_found("host", name))?;
    let Some(config) = doc.value.power_config.clone() else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("host {name} has no power driver: set one with `corral host power set {name} ...`"),
        )
        .into());
    };
    let (state, reason) = if on {
        (PowerState::PoweringOn, "powered on by the operator")
    } else {
        (PowerState::PoweringOff, "powered off by the operator")
    };
    if !on {
        let epoch = crate::scheduler::epoch(ctx)?;
        let held = node::all(ctx)?
            .iter()
            .filter(|d| d.value.host.as_deref() == Some(name))
            .count();
        if held > 0 {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("host {name} holds {held} node(s): drain it first (`corral host drain {name}`)"),
            )
            .into());
        }
        let mut rec = doc.value.clone();
        enter(&mut rec.power, state, reason);
        rec.power.attempts = 1;
        let ops = [
            typed::put_op(&doc.key, &rec)?,
            Op::Put(keys::SCHEDULER_EPOCH.to_string(), b"power".to_vec()),
        ];
        let compares = [epoch, Compare::ModRevision(doc.key.clone(), doc.revision)];
        if ctx.store.txn(&compares, &ops)?.is_none() {
            return Err(ApiError::new(ErrorCode::Conflict, format!("host {name} changed meanwhile; try again")).into());
        }
    } else {
        update(ctx, name, |rec| {
            enter(&mut rec.power, state, reason);
            rec.power.attempts = 1;
            true
        })?;
    }
    event::record(
        ctx,
        "corral",
        &format!("hosts/{name}"),
        &format!("host.{}", state.as_str()),
        reason,
    );
    switch(ctx, name, &config, on).await?;
    typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))?
        .map(|d| d.value)
        .ok_or_else(|| ApiError::not_found("host", name).into())
}
