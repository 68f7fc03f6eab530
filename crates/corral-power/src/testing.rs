//! A real IPMI endpoint for tests (feature `testing`): OpenIPMI's `ipmi_sim` listening
//! on loopback, in this network namespace or a given one, whose chassis power commands
//! run shell commands (start or stop a process, such as a test host's agent). Needs the
//! Debian packages `openipmi` and `ipmitool` (scripts/test-deps.sh).

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running ipmi_sim, killed on drop.
pub struct Bmc {
    child: Child,
    /// UDP port on 127.0.0.1 of its namespace.
    pub port: u16,
    /// User name and password file for `corral host power set`.
    pub username: &'static str,
    /// File holding the password.
    pub password_file: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Bmc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bmc {
    /// Starts a BMC (in the named network namespace, if any) whose power on runs `on`
    /// and power off runs `off` (shell commands); `is_on` is a shell condition that
    /// holds while the machine has power.
    pub fn start(netns: Option<&str>, on: &str, off: &str, is_on: &str) -> Bmc {
        for tool in ["ipmi_sim", "ipmitool"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap();
            assert!(
                found.status.success(),
                "{tool} is missing: run scripts/test-deps.sh (Debian packages openipmi, ipmitool)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("corral-bmc-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let script = dir.path().join("chassis.sh");
        // ipmi_sim calls `<script> get power` (answer `power:0|1`) and `<script> set power 0|1`.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$1 $2\" in\n\
                 'get power') if {is_on}; then echo power:1; else echo power:0; fi;;\n\
                 'set power') if [ \"$3\" = 1 ]; then {on}\n else {off}\n fi;;\n\
                 esac\nexit 0\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A port free here; in another namespace any port is free.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("a free UDP port");
        std::fs::write(
            dir.path().join("lan.conf"),
            format!(
                "name \"corraltest\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 {port}\n    priv_limit admin\n\
                 \x20   allowed_auths_callback none md2 md5 straight\n    allowed_auths_user none md2 md5 straight\n\
                 \x20   allowed_auths_operator none md2 md5 straight\n    allowed_auths_admin none md2 md5 straight\n\
                 \x20   guid a123456789abcdefa123456789abcdef\n  endlan\n  chassis_control \"{}\"\n\
                 \x20 user 2 true \"corral\" \"s3cret\" admin 10 none md2 md5 straight\n",
                script.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("cmd.emu"),
            "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, "s3cret\n").unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg("ipmi_sim");
                c
            }
            None => Command::new("ipmi_sim"),
        };
        let child = cmd
            .arg("-n")
            .arg("-c")
            .arg(dir.path().join("lan.conf"))
            .arg("-f")
            .arg(dir.path().join("cmd.emu"))
            .arg("-s")
            .arg(dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ipmi_sim");
        // Wait until it listens: ipmitool retries a silent port for a long time.
        let deadline = Instant::now() + Duration::from_secs(10);
        let needle = format!(":{port:04X} ");
        let udp = format!("/proc/{}/net/udp", child.id());
        while !std::fs::read_to_string(&udp).unwrap_or_default().contains(&needle) {
            assert!(Instant::now() < deadline, "ipmi_sim did not start listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Bmc {
            child,
            port,
            username: "corral",
            password_file,
            dir,
        }
    }

    /// The BMC's working directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
