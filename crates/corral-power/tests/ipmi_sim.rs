//! The ipmi driver against a real IPMI endpoint: OpenIPMI's `ipmi_sim` on loopback,
//! whose chassis power commands run a script that keeps the "machine's" power in a
//! file. Needs the Debian packages `openipmi` and `ipmitool` (scripts/test-deps.sh).

use corral_power::ipmi::Ipmi;
use corral_power::testing::Bmc;
use corral_power::IpmiConfig;
use corral_power::{PowerDriver, PowerError, PowerStatus};

fn driver(bmc: &Bmc, password: &str) -> Ipmi {
    Ipmi::new(IpmiConfig {
        driver: None,
        address: "127.0.0.1".into(),
        port: bmc.port,
        username: bmc.username.into(),
        password: password.into(),
        timeout_secs: 10,
        cipher_suite: 3,
    })
}

#[tokio::test]
async fn ipmi_switches_a_simulated_bmc() {
    let dir = tempfile::tempdir().unwrap();
    let power = dir.path().join("power");
    let bmc = Bmc::start(
        None,
        &format!("touch {}", power.display()),
        &format!("rm -f {}", power.display()),
        &format!("[ -f {} ]", power.display()),
    );
    let d = driver(&bmc, "s3cret");
    assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
    d.power_on().await.unwrap();
    assert_eq!(d.status().await.unwrap(), PowerStatus::On);
    assert!(power.exists(), "the chassis script switched power on");
    d.power_off().await.unwrap();
    assert_eq!(d.status().await.unwrap(), PowerStatus::Off);
    assert!(!power.exists());

    // A wrong password is a clear failure, not a hang.
    let bad = driver(&bmc, "wrong");
    match bad.power_on().await {
        Err(PowerError::Failed { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(!power.exists(), "nothing switched");
}
