//! The `ipmi` driver: a host's BMC, reached with `ipmitool -I lanplus` (IPMI 2.0).

use std::time::Duration;

use crate::{run, IpmiConfig, PowerDriver, PowerError, PowerStatus};
use async_trait::async_trait;

/// The ipmi driver.
pub struct Ipmi {
    cfg: IpmiConfig,
}

impl Ipmi {
    /// A driver for one BMC.
    pub fn new(cfg: IpmiConfig) -> Self {
        Ipmi { cfg }
    }

    /// The arguments of `ipmitool` for a chassis power action.
    pub fn args(&self, action: &str) -> Vec<String> {
        let c = &self.cfg;
        let mut v: Vec<String> = [
            "-I",
            "lanplus",
            "-H",
            &c.address,
            "-p",
            &c.port.to_string(),
            "-C",
            &c.cipher_suite.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !c.username.is_empty() {
            v.extend(["-U".to_string(), c.username.clone()]);
        }
        // -E: the password comes from IPMI_PASSWORD.
        v.extend(["-E", "chassis", "power", action].iter().map(|s| s.to_string()));
        v
    }

    async fn call(&self, action: &str) -> Result<String, PowerError> {
        let what = format!("ipmi power {action} at {}", self.cfg.address);
        let timeout = Duration::from_secs(self.cfg.timeout_secs.max(1));
        let envs = [("IPMI_PASSWORD", self.cfg.password.as_str())];
        run(&what, "ipmitool", &self.args(action), &envs, timeout).await
    }
}

/// Reads `Chassis Power is on|off`.
pub fn parse_status(stdout: &str) -> Option<PowerStatus> {
    let line = stdout.lines().find(|l| l.contains("Chassis Power is"))?;
    match line.rsplit(' ').next()?.trim() {
        "on" => Some(PowerStatus::On),
        "off" => Some(PowerStatus::Off),
        _ => None,
    }
}

#[async_trait]
impl PowerDriver for Ipmi {
    fn name(&self) -> &'static str {
        "ipmi"
    }

    async fn power_on(&self) -> Result<(), PowerError> {
        self.call("on").await.map(drop)
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        self.call("off").await.map(drop)
    }

    async fn status(&self) -> Result<PowerStatus, PowerError> {
        let out = self.call("status").await?;
        parse_status(&out).ok_or_else(|| PowerError::Failed {
            what: format!("ipmi power status at {}", self.cfg.address),
            message: format!("unexpected answer {:?}", out.trim()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_stays_off_the_command_line() {
        let d = Ipmi::new(IpmiConfig {
            driver: None,
            address: "10.0.0.5".into(),
            port: 623,
            username: "admin".into(),
            password: "s3cret".into(),
            timeout_secs: 5,
            cipher_suite: 3,
        });
        let args = d.args("on");
        assert!(!args.iter().any(|a| a.contains("s3cret")), "{args:?}");
        assert_eq!(args[args.len() - 3..], ["chassis", "power", "on"]);
        assert!(args.contains(&"-E".to_string()));
    }

    #[test]
    fn status_lines_are_read() {
        assert_eq!(parse_status("Chassis Power is on\n"), Some(PowerStatus::On));
        assert_eq!(parse_status("Chassis Power is off"), Some(PowerStatus::Off));
        assert_eq!(parse_status("garbage"), None);
    }
}
