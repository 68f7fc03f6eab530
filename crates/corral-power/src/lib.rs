//! The PowerDriver seam: how Corral switches a host on and off and reads its power.
//!
//! One module per driver: `ipmi` (ipmitool over the LAN), `wol` (a wake-on-LAN magic
//! packet; off through the host's agent), `exec` (the operator's script) and `sim` (a
//! host that takes a while to boot, for tests and the simulator). Drivers do one
//! attempt per call within a timeout; retries and the `failed` state belong to the
//! power manager, which sees every host.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use corral_api::power::{ExecConfig, IpmiConfig, PowerConfig, SimConfig, WolConfig};

pub mod exec;
pub mod ipmi;
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wol;

/// What a driver reads of a host's power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerStatus {
    /// The host has power.
    On,
    /// The host is off.
    Off,
    /// The driver cannot tell (wake-on-LAN has no read-back); the agent's heartbeat is
    /// the evidence then.
    Unknown,
}

/// Why a power call failed.
#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    /// The driver's tool could not be started.
    #[error("cannot run {tool}: {source}")]
    Spawn {
        /// The program.
        tool: String,
        /// Why.
        source: std::io::Error,
    },
    /// The call took longer than allowed.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What was being done.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// The tool ran and reported a failure.
    #[error("{what} failed: {message}")]
    Failed {
        /// What was being done.
        what: String,
        /// What the tool said.
        message: String,
    },
    /// The driver cannot do this (for example, wake-on-LAN without an agent to ask).
    #[error("{0}")]
    Unsupported(String),
    /// The configuration is unusable.
    #[error("invalid power configuration: {0}")]
    Invalid(String),
}

/// Switches one host's power.
#[async_trait]
pub trait PowerDriver: Send + Sync {
    /// The driver's name, as configured (`ipmi`, `wol`, `exec`, `sim`).
    fn name(&self) -> &'static str;
    /// Asks the host to power on. Returns once the request was accepted, not booted.
    async fn power_on(&self) -> Result<(), PowerError>;
    /// Asks the host to power off.
    async fn power_off(&self) -> Result<(), PowerError>;
    /// Reads the host's power.
    async fn status(&self) -> Result<PowerStatus, PowerError>;
}

/// How a wake-on-LAN host is powered off: through its agent, which the server reaches.
#[async_trait]
pub trait AgentShutdown: Send + Sync {
    /// Asks the host's agent to power the machine off.
    async fn shutdown(&self) -> Result<(), PowerError>;
}

/// Makes the driver a configuration names. `host` is the host's name, passed to
/// operator scripts; `shutdown` is how a wake-on-LAN host is powered off.
pub fn driver(host: &str, config: &PowerConfig, shutdown: Option<Box<dyn AgentShutdown>>) -> Box<dyn PowerDriver> {
    match config {
        PowerConfig::Ipmi(c) => Box::new(ipmi::Ipmi::new(c.clone())),
        PowerConfig::Wol(c) => Box::new(wol::Wol::new(c.clone(), shutdown)),
        PowerConfig::Exec(c) => Box::new(exec::Exec::new(host, c.clone())),
        PowerConfig::Sim(c) => Box::new(sim::Sim::new(c.clone())),
    }
}

/// Runs a program with a deadline and returns its standard output; a non-zero exit
/// is a failure carrying the last line the program printed on standard error (tools
/// print warnings before the real error).
pub(crate) async fn run(
    what: &str,
    program: &str,
    args: &[String],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> Result<String, PowerError> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| PowerError::Spawn {
            tool: program.to_string(),
            source,
        })?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| PowerError::Timeout {
            what: what.to_string(),
            after: timeout,
        })?
        .map_err(|source| PowerError::Spawn {
            tool: program.to_string(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = |s: &str| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        };
        let message = last(&stderr)
            .or_else(|| last(&stdout))
            .unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(PowerError::Failed {
            what: what.to_string(),
            message,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
