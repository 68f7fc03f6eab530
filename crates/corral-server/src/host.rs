//! Hosts: machines running an agent, their capacity and state.

use corral_api::agent::HostCapacity;
use corral_store::typed;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;

/// A stored host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRecord {
    /// Name.
    pub name: String,
    /// Capacity it offers.
    pub capacity: HostCapacity,
    /// Last time its agent spoke.
    pub last_seen: u64,
}

/// Records a host's registration.
pub fn register(ctx: &Context, name: &str, capacity: HostCapacity) -> Result<()> {
    let rec = HostRecord {
        name: name.to_string(),
        capacity,
        last_seen: now(),
    };
    ctx.store
        .txn(&[], &[typed::put_op(&keys::host(name), &rec)?])?;
    Ok(())
}

/// Every host.
pub fn all(ctx: &Context) -> Result<Vec<HostRecord>> {
    Ok(typed::list::<HostRecord>(ctx.store.as_ref(), keys::HOSTS)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}
