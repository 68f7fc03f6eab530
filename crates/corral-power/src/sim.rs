//! The `sim` driver: a host that takes `boot_secs` to come up, for tests and demos of
//! the power manager on machines without BMCs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{PowerDriver, PowerError, PowerStatus, SimConfig};
use async_trait::async_trait;

/// The sim driver.
pub struct Sim {
    cfg: SimConfig,
    /// The last switch asked for and when.
    state: Mutex<(bool, Option<Instant>)>,
}

impl Sim {
    /// A simulated host.
    pub fn new(cfg: SimConfig) -> Self {
        let on = cfg.on;
        Sim {
            cfg,
            state: Mutex::new((on, None)),
        }
    }

    fn check(&self, what: &str) -> Result<(), PowerError> {
        if self.cfg.broken {
            return Err(PowerError::Failed {
                what: format!("sim {what}"),
                message: "the simulated BMC does not answer".into(),
            });
        }
        Ok(())
    }

    fn switch(&self, on: bool) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 != on {
            *st = (on, Some(Instant::now()));
        }
    }
}

#[async_trait]
impl PowerDriver for Sim {
    fn name(&self) -> &'static str {
        "sim"
    }

    async fn power_on(&self) -> Result<(), PowerError> {
        self.check("power on")?;
        self.switch(true);
        Ok(())
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        self.check("power off")?;
        self.switch(false);
        Ok(())
    }

    async fn status(&self) -> Result<PowerStatus, PowerError> {
        self.check("status")?;
        let (on, since) = *self.state.lock().unwrap_or_else(|e| e.into_inner());
        let delay = if on { self.cfg.boot_secs } else { self.cfg.shutdown_secs };
        let settled = since.is_none_or(|t| t.elapsed() >= Duration::from_secs_f64(delay.max(0.0)));
        // Until it settles, the host still reads as it was.
        Ok(match (on, settled) {
            (true, true) | (false, false) => PowerStatus::On,
            (false, true) | (true, false) => PowerStatus::Off,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn boots_after_its_delay() {
        let d = Sim::new(SimConfig {
            boot_secs: 0.2,
            ..Default::default()
        });
        assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
        d.power_on().await.unwrap();
        assert_eq!(d.status().await.unwrap(), PowerStatus::Off, "still booting");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(d.status().await.unwrap(), PowerStatus::On);
        d.power_off().await.unwrap();
        assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
    }

    #[tokio::test]
    async fn a_broken_bmc_fails_every_call() {
        let d = Sim::new(SimConfig {
            broken: true,
            ..Default::default()
        });
        assert!(d.power_on().await.is_err());
        assert!(d.status().await.is_err());
    }
}
