//! Hosts: machines running `corral agent`, and how they join the pool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agent::HostCapacity;

/// Where a host is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Its agent talks to the server; it takes nodes.
    Ready,
    /// Its agent missed its heartbeats.
    Unreachable,
    /// It takes no new nodes; its nodes move away.
    Draining,
    /// Removed from the pool; its certificate no longer works.
    Removed,
}

/// A host as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Host {
    /// Name.
    pub name: String,
    /// Underlay address other hosts reach it at.
    pub address: String,
    /// State.
    pub state: HostState,
    /// Labels, e.g. `site=a`.
    pub labels: BTreeMap<String, String>,
    /// What it offers.
    pub capacity: HostCapacity,
    /// Cpu of the nodes placed on it, millicpus.
    pub used_cpu_millis: u64,
    /// Memory of the nodes placed on it, bytes.
    pub used_memory_bytes: u64,
    /// Number of nodes placed on it.
    pub nodes: u32,
    /// Last time its agent spoke, seconds since the Unix epoch.
    pub last_seen: u64,
    /// Its power state and how Corral switches it.
    #[serde(default)]
    pub power: crate::power::HostPower,
    /// What it draws and drew, and what was saved.
    #[serde(default)]
    pub energy: crate::power::HostEnergy,
}

/// Body of `POST /v1/hosts/join-tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"ttl_seconds": 3600}))]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    /// Lifetime in seconds (default one hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

/// A one-time join token: `corral agent --join URL --token TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"token": "crj1.565b7013f3a5ecb85df199f89201490c76ae2898.da3c5c82309dac2e5ce3c3d9ea52e5d679a29005840d7e97cc505ee346f80dbb", "expires_at": 1795331817}))]
pub struct JoinToken {
    /// The token; it carries the fingerprint of the pool's CA.
    pub token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// What an agent sends to join (over TLS, before it has a certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The one-time token.
    pub token: String,
    /// Host name it wants to be known by.
    pub host: String,
    /// Its certificate request, PEM.
    pub csr: String,
}

/// What a joined agent receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JoinResponse {
    /// Its client certificate, PEM.
    pub cert: String,
    /// The pool CA certificate, PEM.
    pub ca: String,
}

/// What an agent announces at start (with its certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Capacity.
    pub capacity: HostCapacity,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Underlay address.
    pub address: String,
    /// Where the agent's own listener (exec, save) is reached, `ip:port`; empty
    /// when it has none (an agent in the server's process).
    #[serde(default)]
    pub exec_address: String,
}

/// The CA fingerprint a join token carries (`crj1.<secret>.<fingerprint>`).
pub fn join_token_ca_fingerprint(token: &str) -> Option<&str> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("crj1"), Some(s), Some(fp), None) if !s.is_empty() && fp.len() == 64 => Some(fp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fingerprint() {
        let fp = "a".repeat(64);
        assert_eq!(join_token_ca_fingerprint(&format!("crj1.abc.{fp}")), Some(fp.as_str()));
        assert_eq!(join_token_ca_fingerprint("crj1.abc.short"), None);
        assert_eq!(join_token_ca_fingerprint("nonsense"), None);
    }
}
