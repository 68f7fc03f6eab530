//! Events: an append-only record of lifecycle changes and audit.

use corral_api::Event;
use corral_store::typed;

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;

/// Appends an event about something no user owns (hosts, users); a failure to record
/// it is logged, never fails the caller.
pub fn record(ctx: &Context, actor: &str, target: &str, kind: &str, message: impl Into<String>) {
    record_owned(ctx, actor, "", target, kind, message)
}

/// Appends an event about a user's resource (a cluster, its nodes): only that user
/// (and the admin) sees it, even where another user's resource has the same name.
pub fn record_owned(ctx: &Context, actor: &str, owner: &str, target: &str, kind: &str, message: impl Into<String>) {
    let message = message.into();
    tracing::info!(actor, owner, target, kind, %message, "event");
    if let Err(e) = append(ctx, actor, owner, target, kind, message) {
        tracing::warn!(error = %e, "cannot record event");
    }
}

fn append(ctx: &Context, actor: &str, owner: &str, target: &str, kind: &str, message: String) -> Result<()> {
    // The store revision is unique and increasing: a good sequence number without a
    // counter key that every writer would contend on.
    for _ in 0..10 {
        let seq = ctx.store.revision()? + 1;
        let ev = Event {
            seq,
            time: now(),
            actor: actor.to_string(),
            owner: owner.to_string(),
            target: target.to_string(),
            kind: kind.to_string(),
            message: message.clone(),
        };
        let key = keys::event(seq);
        let op = typed::put_op(&key, &ev)?;
        if ctx.store.txn(&[corral_store::Compare::Absent(key)], &[op])?.is_some() {
            return Ok(());
        }
    }
    Ok(())
}

/// Events whose target starts with `prefix`, newest last, at most `limit`.
pub fn list(ctx: &Context, prefix: &str, limit: usize) -> Result<Vec<Event>> {
    let mut all: Vec<Event> = typed::list::<Event>(ctx.store.as_ref(), keys::EVENTS)?
        .into_iter()
        .map(|d| d.value)
        .filter(|e| e.target == prefix || e.target.starts_with(&format!("{prefix}/")) || prefix.is_empty())
        .collect();
    if all.len() > limit {
        all.drain(..all.len() - limit);
    }
    Ok(all)
}
