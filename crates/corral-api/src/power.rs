//! Host power: the states a host's power goes through, how the operator says a host is
//! switched (its driver configuration), and what the API shows of it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a host is in its power cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// Powered and taking nodes.
    #[default]
    On,
    /// Asked to power off, not yet off; takes no nodes.
    PoweringOff,
    /// Powered off.
    Off,
    /// Asked to power on, not yet back.
    PoweringOn,
    /// A power transition failed after its retries; the operator must look.
    Failed,
}

impl PowerState {
    /// The state as the API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::PoweringOff => "powering_off",
            PowerState::Off => "off",
            PowerState::PoweringOn => "powering_on",
            PowerState::Failed => "failed",
        }
    }
}

/// How a host's power is switched: the body of `PUT /v1/hosts/{name}/power`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "driver", rename_all = "snake_case")]
#[schema(example = json!({"driver": "ipmi", "address": "10.0.0.105", "username": "admin", "password": "secret"}))]
pub enum PowerConfig {
    /// A BMC reached with `ipmitool -I lanplus`.
    Ipmi(IpmiConfig),
    /// Wake-on-LAN to power on; the host's agent powers it off.
    Wol(WolConfig),
    /// The operator's program, called as `<command> on|off|status <host>`.
    Exec(ExecConfig),
    /// A simulated host with a boot delay (tests, demos).
    Sim(SimConfig),
}

impl PowerConfig {
    /// The driver's name.
    pub fn driver(&self) -> &'static str {
        match self {
            PowerConfig::Ipmi(_) => "ipmi",
            PowerConfig::Wol(_) => "wol",
            PowerConfig::Exec(_) => "exec",
            PowerConfig::Sim(_) => "sim",
        }
    }
}

fn default_ipmi_port() -> u16 {
    623
}

fn default_ipmi_timeout() -> u64 {
    20
}

fn default_cipher_suite() -> u8 {
    3
}

/// Where a host's BMC is and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpmiConfig {
    /// The driver's name: the tag of [`PowerConfig`], read there, never here. Listed so
    /// the schema of each driver's settings admits it beside `deny_unknown_fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The BMC's address.
    pub address: String,
    /// Its RMCP+ port.
    #[serde(default = "default_ipmi_port")]
    pub port: u16,
    /// User name on the BMC.
    #[serde(default)]
    pub username: String,
    /// That user's password; stored by the server, never shown by the API.
    #[serde(default)]
    pub password: String,
    /// Longest time one ipmitool call may take, seconds.
    #[serde(default = "default_ipmi_timeout")]
    pub timeout_secs: u64,
    /// RMCP+ cipher suite (`ipmitool -C`): 3 (SHA1/AES-128) works on most BMCs, 17
    /// (SHA256) on newer ones. Naming it skips ipmitool's discovery of the suites,
    /// which costs a 10 s timeout on BMCs that do not answer it.
    #[serde(default = "default_cipher_suite")]
    pub cipher_suite: u8,
}

fn default_broadcast() -> String {
    "255.255.255.255".into()
}

fn default_wol_port() -> u16 {
    9
}

/// Where a wake-on-LAN magic packet goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WolConfig {
    /// The driver's name: the tag of [`PowerConfig`], read there, never here. Listed so
    /// the schema of each driver's settings admits it beside `deny_unknown_fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// MAC address of the host's wake-capable NIC, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Broadcast address of the host's LAN.
    #[serde(default = "default_broadcast")]
    pub broadcast: String,
    /// UDP port (9, discard, by custom).
    #[serde(default = "default_wol_port")]
    pub port: u16,
}

fn default_exec_timeout() -> u64 {
    60
}

/// The operator's power program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// The driver's name: the tag of [`PowerConfig`], read there, never here. Listed so
    /// the schema of each driver's settings admits it beside `deny_unknown_fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Path of the program on the server, called as `<command> on|off|status <host>`;
    /// `status` prints `on`, `off` or `unknown`.
    pub command: String,
    /// Longest time one call may take, seconds.
    #[serde(default = "default_exec_timeout")]
    pub timeout_secs: u64,
}

/// How a simulated host behaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The driver's name: the tag of [`PowerConfig`], read there, never here. Listed so
    /// the schema of each driver's settings admits it beside `deny_unknown_fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Seconds from power on until the host reads as on.
    #[serde(default)]
    pub boot_secs: f64,
    /// Seconds from power off until the host reads as off.
    #[serde(default)]
    pub shutdown_secs: f64,
    /// Whether it starts powered on.
    #[serde(default)]
    pub on: bool,
    /// Every call fails: a broken BMC, to exercise retries and the failed state.
    #[serde(default)]
    pub broken: bool,
}

/// A host's power as the API shows it (no secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HostPower {
    /// Power state.
    pub state: PowerState,
    /// The driver that switches it (`ipmi`, `wol`, `exec`, `sim`); none when Corral
    /// does not manage its power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Since when it is in this state, seconds since the Unix epoch.
    #[serde(default)]
    pub since: u64,
    /// Why it was last switched, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last error of its driver, if the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_read_as_operators_write_them() {
        let c: PowerConfig =
            serde_json::from_str(r#"{"driver":"ipmi","address":"10.0.0.5","username":"admin","password":"pw"}"#)
                .unwrap();
        match c {
            PowerConfig::Ipmi(i) => {
                assert_eq!(i.address, "10.0.0.5");
                assert_eq!(i.port, 623);
                assert_eq!(i.cipher_suite, 3);
            }
            other => panic!("{other:?}"),
        }
        let c: PowerConfig = serde_json::from_str(r#"{"driver":"wol","mac":"52:54:00:12:34:56"}"#).unwrap();
        assert_eq!(c.driver(), "wol");
        let bad = serde_json::from_str::<PowerConfig>(r#"{"driver":"ipmi","address":"x","colour":"red"}"#);
        assert!(bad.is_err(), "unknown fields are refused");
        let bad = serde_json::from_str::<PowerConfig>(r#"{"driver":"pdu"}"#);
        assert!(bad.is_err(), "unknown drivers are refused");
    }
}

/// A host's energy: what it draws now, what it drew since accounting started and what
/// Corral's power management saved against keeping it always on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HostEnergy {
    /// Watts it draws now, by the pool's power model.
    pub watts: f64,
    /// Joules it drew.
    pub joules: f64,
    /// Joules saved against being always on.
    pub saved_joules: f64,
}

/// The pool's energy: `GET /v1/energy` (admin).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnergyReport {
    /// When accounting started, seconds since the Unix epoch.
    pub since: u64,
    /// Joules the pool drew.
    pub joules: f64,
    /// Joules it would have drawn with every host always on.
    pub baseline_joules: f64,
    /// `baseline_joules - joules`.
    pub saved_joules: f64,
    /// The saving as a fraction of the baseline.
    pub saved_fraction: f64,
    /// Watts the pool draws now.
    pub watts: f64,
    /// Joules charged to each cluster (`owner/name`), by the cpu its nodes hold.
    pub clusters: std::collections::BTreeMap<String, f64>,
    /// Joules charged to each project.
    pub projects: std::collections::BTreeMap<String, f64>,
}
