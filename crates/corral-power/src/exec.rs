//! The `exec` driver: the operator's own program, for whatever switches their hosts
//! (a PDU, a cloud API, a script around another tool).

use std::time::Duration;

use crate::{run, ExecConfig, PowerDriver, PowerError, PowerStatus};
use async_trait::async_trait;

/// The exec driver.
pub struct Exec {
    host: String,
    cfg: ExecConfig,
}

impl Exec {
    /// A driver calling `cfg.command` for `host`.
    pub fn new(host: &str, cfg: ExecConfig) -> Self {
        Exec {
            host: host.to_string(),
            cfg,
        }
    }

    async fn call(&self, action: &str) -> Result<String, PowerError> {
        let what = format!("{} {action} {}", self.cfg.command, self.host);
        let args = [action.to_string(), self.host.clone()];
        let timeout = Duration::from_secs(self.cfg.timeout_secs.max(1));
        run(&what, &self.cfg.command, &args, &[], timeout).await
    }
}

#[async_trait]
impl PowerDriver for Exec {
    fn name(&self) -> &'static str {
        "exec"
    }

    async fn power_on(&self) -> Result<(), PowerError> {
        self.call("on").await.map(drop)
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        self.call("off").await.map(drop)
    }

    async fn status(&self) -> Result<PowerStatus, PowerError> {
        let out = self.call("status").await?;
        match out.trim() {
            "on" => Ok(PowerStatus::On),
            "off" => Ok(PowerStatus::Off),
            "unknown" => Ok(PowerStatus::Unknown),
            other => Err(PowerError::Failed {
                what: format!("{} status {}", self.cfg.command, self.host),
                message: format!("printed {other:?}, expected on, off or unknown"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn script(dir: &std::path::Path, body: &str) -> String {
        let path = dir.join("power.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn the_script_switches_and_reads_power() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let body = format!(
            "case $1 in on) echo on > {s};; off) echo off > {s};; status) cat {s} 2>/dev/null || echo off;; esac\n\
             [ \"$2\" = h1 ] || exit 3",
            s = state.display()
        );
        let d = Exec::new(
            "h1",
            ExecConfig {
                driver: None,
                command: script(dir.path(), &body),
                timeout_secs: 5,
            },
        );
        assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
        d.power_on().await.unwrap();
        assert_eq!(d.status().await.unwrap(), PowerStatus::On);
        d.power_off().await.unwrap();
        assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
    }

    #[tokio::test]
    async fn failures_and_hangs_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let d = Exec::new(
            "h1",
            ExecConfig {
                driver: None,
                command: script(dir.path(), "echo warming up >&2; echo 'pdu unreachable' >&2; exit 1"),
                timeout_secs: 5,
            },
        );
        let e = d.power_on().await.unwrap_err().to_string();
        assert!(e.contains("pdu unreachable"), "{e}");
        let d = Exec::new(
            "h1",
            ExecConfig {
                driver: None,
                command: script(dir.path(), "sleep 30"),
                timeout_secs: 1,
            },
        );
        let started = std::time::Instant::now();
        assert!(matches!(d.power_off().await, Err(PowerError::Timeout { .. })));
        assert!(started.elapsed() < Duration::from_secs(5), "the hung script is killed");
        let d = Exec::new(
            "h1",
            ExecConfig {
                driver: None,
                command: "/nonexistent/power".into(),
                timeout_secs: 1,
            },
        );
        assert!(matches!(d.status().await, Err(PowerError::Spawn { .. })));
    }
}
