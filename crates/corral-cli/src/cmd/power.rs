//! `corral host power ...`: how Corral switches a host's power, and switching it by hand.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use corral_api::Host;
use serde_json::{Map, Value};

use super::Ctx;

/// Verbs of `corral host power`.
// Parsed once per process: the size of `set`'s options does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PowerCommand {
    /// Say how a host is switched, e.g. `--driver ipmi --address 10.0.0.5 --username admin --password-file pw`
    Set(SetArgs),
    /// Stop switching a host (it counts as always on)
    Clear {
        /// Host name
        name: String,
    },
    /// Power a host on now
    On {
        /// Host name
        name: String,
    },
    /// Power a host off now (refused while it holds nodes: drain it first)
    Off {
        /// Host name
        name: String,
    },
    /// Energy the pool drew and saved, per cluster and project
    Energy,
}

/// Options of `corral host power set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Host name
    pub name: String,
    /// ipmi (a BMC over ipmitool), wol (wake-on-LAN), exec (your program) or sim
    #[arg(long)]
    pub driver: String,
    /// ipmi: the BMC's address
    #[arg(long)]
    pub address: Option<String>,
    /// ipmi: the BMC's port (623); wol: the UDP port (9)
    #[arg(long)]
    pub port: Option<u16>,
    /// ipmi: user name on the BMC
    #[arg(long)]
    pub username: Option<String>,
    /// ipmi: file holding the BMC user's password
    #[arg(long)]
    pub password_file: Option<std::path::PathBuf>,
    /// ipmi: RMCP+ cipher suite (3; 17 on newer BMCs)
    #[arg(long)]
    pub cipher_suite: Option<u8>,
    /// wol: MAC address of the wake-capable NIC
    #[arg(long)]
    pub mac: Option<String>,
    /// wol: broadcast address of the host's LAN
    #[arg(long)]
    pub broadcast: Option<String>,
    /// exec: absolute path of the program on the server (`<command> on|off|status <host>`)
    #[arg(long)]
    pub command: Option<String>,
    /// ipmi, exec: seconds one call may take
    #[arg(long)]
    pub timeout: Option<u64>,
    /// sim: seconds a simulated boot takes
    #[arg(long)]
    pub boot_secs: Option<f64>,
}

impl SetArgs {
    /// The request body: only the options given, so the server's defaults apply and
    /// options that do not belong to the driver are refused by name.
    fn body(&self) -> anyhow::Result<Value> {
        let mut m = Map::new();
        m.insert("driver".into(), self.driver.clone().into());
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("address", self.address.clone().map(Value::from));
        put("port", self.port.map(Value::from));
        put("username", self.username.clone().map(Value::from));
        put("cipher_suite", self.cipher_suite.map(Value::from));
        put("mac", self.mac.clone().map(Value::from));
        put("broadcast", self.broadcast.clone().map(Value::from));
        put("command", self.command.clone().map(Value::from));
        put("timeout_secs", self.timeout.map(Value::from));
        put("boot_secs", self.boot_secs.map(Value::from));
        if let Some(path) = &self.password_file {
            let pw = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            m.insert("password".into(), pw.trim_end_matches(['\n', '\r']).into());
        }
        Ok(Value::Object(m))
    }
}

/// Runs one `corral host power` verb.
pub async fn run(cmd: PowerCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    let host: Host = match cmd {
        PowerCommand::Set(a) => ctx.client.put(&["v1", "hosts", &a.name, "power"], &a.body()?).await?,
        PowerCommand::Clear { name } => ctx.client.delete(&["v1", "hosts", &name, "power"]).await?,
        PowerCommand::On { name } => ctx.client.post_empty(&["v1", "hosts", &name, "power", "on"]).await?,
        PowerCommand::Off { name } => ctx.client.post_empty(&["v1", "hosts", &name, "power", "off"]).await?,
        PowerCommand::Energy => {
            let r: corral_api::EnergyReport = ctx.client.get(&["v1", "energy"]).await?;
            ctx.show(&r)?;
            return Ok(0);
        }
    };
    ctx.show(&host)?;
    Ok(0)
}
