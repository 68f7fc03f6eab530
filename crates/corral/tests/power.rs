//! Root integration test of host power management: a host of a test LAN whose power
//! is switched through a real IPMI endpoint (OpenIPMI's `ipmi_sim`, in the server's
//! namespace on loopback), its chassis power wired to start and stop the host's agent.
//! Corral powers the host off when it is empty, on when a cluster needs room, and off
//! again when the cluster is gone.

mod common;

use common::lan::{wait, Lan};
use corral_power::testing::Bmc;

fn host(lan: &Lan, name: &str) -> serde_json::Value {
    lan.json(&["host", "show", name])
}

fn power_state(lan: &Lan, name: &str) -> String {
    host(lan, name)["power"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_ipmi_host_is_powered_on_for_work_and_off_when_idle() {
    let mut lan = Lan::start_with(&["--host-idle-time", "1", "--power-interval", "0.3", "--power-spare", "0"]);
    let token = lan.token();
    let a = lan.add_host(&token, "");
    lan.wait_ready_hosts(1);
    let name = lan.hosts[a].name.clone();
    let data = lan.hosts[a].data.display().to_string();
    let running = format!("pgrep -f -- '--data-dir {data}$' >/dev/null");
    // The harness's own agent process is replaced by one the BMC starts and stops.
    lan.stop_agent(a);
    let on = lan.agent_command_line(a, "");
    let off = format!("pkill -TERM -f -- '--data-dir {data}$'; while {running}; do sleep 0.1; done");
    let bmc = Bmc::start(Some(&lan.server_ns), &on, &off, &running);
    let pw = bmc.password_file.display().to_string();
    let port = bmc.port.to_string();

    // Bad settings are refused and change nothing.
    let bad = lan.cli(&["host", "power", "set", &name, "--driver", "wol", "--mac", "nope"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("MAC address"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(host(&lan, &name)["power"]["driver"].is_null());

    let h = lan.json(&[
        "host",
        "power",
        "set",
        &name,
        "--driver",
        "ipmi",
        "--address",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        bmc.username,
        "--password-file",
        &pw,
    ]);
    assert_eq!(h["power"]["driver"], "ipmi", "{h}");
    assert!(!h.to_string().contains("s3cret"), "the password is never shown: {h}");

    // Nothing runs on it: after the idle time it is powered off (the BMC reads off).
    wait("the empty host to be powered off", || power_state(&lan, &name) == "off");
    let agent_runs = || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&running)
            .status()
            .unwrap()
            .success()
    };
    assert!(!agent_runs(), "its agent stopped with its power");
    let reason = host(&lan, &name)["power"]["reason"].to_string();
    assert!(reason.contains("powered off") || reason.contains("empty"), "{reason}");

    // A cluster needs room: the host is powered on and the node runs there.
    let c = lan.json(&[
        "cluster", "create", "warm", "--image", "minimal", "--nodes", "1", "--cpu", "0.1", "--memory", "64MiB",
        "--async",
    ]);
    assert!(c.is_object(), "{c}");
    wait("the cluster to run on the powered-on host", || {
        lan.json(&["cluster", "show", "warm"])["state"] == "running"
    });
    assert_eq!(power_state(&lan, &name), "on");
    assert!(agent_runs(), "the BMC started the agent");
    let events = lan.json(&["event", "list", "--kind", "host.powering_on"]).to_string();
    assert!(events.contains("host.powering_on"), "{events}");

    // Never powered off while it holds a node, even by hand.
    let refused = lan.cli(&["host", "power", "off", &name]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds"));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(power_state(&lan, &name), "on", "a host with nodes stays on");

    // The cluster goes: the host is empty again and is powered off.
    let del = lan.cli(&["cluster", "delete", "warm"]);
    assert!(del.status.success(), "{}", String::from_utf8_lossy(&del.stderr));
    wait("the host to be powered off again", || power_state(&lan, &name) == "off");
    assert!(!agent_runs());
    // Energy: the host drew while on, saved while off, and the cluster was charged.
    // The ledger ticks every 2 s: wait for a tick that saw the host off (saved joules
    // are already above zero from the first time it was off).
    wait("energy to be accounted while off", || {
        let energy = &host(&lan, &name)["energy"];
        energy["saved_joules"].as_f64().unwrap_or(0.0) > 0.0 && energy["watts"].as_f64() == Some(0.0)
    });
    let e = lan.json(&["host", "power", "energy"]);
    assert!(e["joules"].as_f64().unwrap() > 0.0, "{e}");
    assert!(e["saved_joules"].as_f64().unwrap() > 0.0, "{e}");
    assert!(e["clusters"]["admin/warm"].as_f64().unwrap_or(0.0) > 0.0, "{e}");
    drop(bmc);
}

/// A wake-on-LAN "NIC" on a test host: a thread in the host's namespace that starts
/// `command` when a magic packet for `mac` arrives; stopped on drop.
struct Nic {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Nic {
    fn start(netns: &str, port: u16, mac: [u8; 6], command: String) -> Nic {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let path = format!("/run/netns/{netns}");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let sock = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
            sock.set_read_timeout(Some(std::time::Duration::from_millis(200)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut want = vec![0xff; 6];
            for _ in 0..16 {
                want.extend_from_slice(&mac);
            }
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::SeqCst) {
                if let Ok(n) = sock.recv(&mut buf) {
                    if buf[..n] == want[..] {
                        // Several copies arrive; starting twice is refused by the agent's
                        // host lock, so one machine runs one agent.
                        let _ = std::process::Command::new("sh").arg("-c").arg(&command).status();
                    }
                }
            }
        });
        ready_rx.recv().unwrap();
        Nic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Nic {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_wake_on_lan_host_is_woken_by_its_nic_and_powered_off_by_its_agent() {
    let mut lan = Lan::start_with(&["--host-idle-time", "1", "--power-interval", "0.3", "--power-spare", "0"]);
    let token = lan.token();
    let a = lan.add_host(&token, "");
    lan.wait_ready_hosts(1);
    let name = lan.hosts[a].name.clone();
    let data = lan.hosts[a].data.display().to_string();
    let running = format!("pgrep -f -- '--data-dir {data}$' >/dev/null");
    let agent_runs = || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&running)
            .status()
            .unwrap()
            .success()
    };
    // The machine's "power off" ends its agent; its NIC starts it on a magic packet.
    lan.stop_agent(a);
    let start = lan.agent_command_line(a, "--power-off-command 'kill $CORRAL_AGENT_PID'");
    std::process::Command::new("sh").arg("-c").arg(&start).status().unwrap();
    wait("the agent to run", agent_runs);
    let mac = [0x52, 0x54, 0x00, 0x00, 0x00, 0x11];
    let _nic = Nic::start(&lan.hosts[a].netns, 4009, mac, start);

    let h = lan.json(&[
        "host",
        "power",
        "set",
        &name,
        "--driver",
        "wol",
        "--mac",
        "52:54:00:00:00:11",
        "--broadcast",
        "192.168.77.255",
        "--port",
        "4009",
    ]);
    assert_eq!(h["power"]["driver"], "wol", "{h}");

    // Empty: powered off through its agent, which goes silent.
    wait("the empty host to be powered off", || power_state(&lan, &name) == "off");
    assert!(!agent_runs(), "the agent powered its machine off");

    // Work arrives: the magic packet wakes it and the node runs there.
    lan.json(&[
        "cluster", "create", "woken", "--image", "minimal", "--nodes", "1", "--cpu", "0.1", "--memory", "64MiB",
        "--async",
    ]);
    wait("the cluster to run on the woken host", || {
        lan.json(&["cluster", "show", "woken"])["state"] == "running"
    });
    assert_eq!(power_state(&lan, &name), "on");

    let del = lan.cli(&["cluster", "delete", "woken"]);
    assert!(del.status.success(), "{}", String::from_utf8_lossy(&del.stderr));
    wait("the host to be powered off again", || power_state(&lan, &name) == "off");
    assert!(!agent_runs());
}

/// Ends, on drop, agents the power script may have started outside the harness.
struct AgentsStarted(Vec<String>);

impl Drop for AgentsStarted {
    fn drop(&mut self) {
        for data in &self.0 {
            let _ = std::process::Command::new("pkill")
                .args(["-KILL", "-f", "--", &format!("--data-dir {data}$")])
                .status();
        }
    }
}

/// An operator's power script for the `exec` driver: `on`/`off`/`status` of the test
/// hosts, starting and stopping their agents.
fn power_script(lan: &Lan, dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut cases = String::new();
    for (i, h) in lan.hosts.iter().enumerate() {
        let data = h.data.display();
        let running = format!("pgrep -f -- '--data-dir {data}$' >/dev/null");
        let start = lan.agent_command_line(i, "");
        cases.push_str(&format!(
            "{name}) case $1 in\n  on) {running} || ({start}) ;;\n  off) pkill -TERM -f -- '--data-dir {data}$'; while {running}; do sleep 0.1; done ;;\n  status) if {running}; then echo on; else echo off; fi ;;\n  esac ;;\n",
            name = h.name
        ));
    }
    let path = dir.join("power.sh");
    std::fs::write(&path, format!("#!/bin/sh\ncase $2 in\n{cases}*) exit 3 ;;\nesac\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn consolidation_moves_pack_nodes_together_and_powers_the_emptied_host_off() {
    let mut lan = Lan::start_with(&[
        "--host-idle-time",
        "1",
        "--power-interval",
        "0.3",
        "--power-spare",
        "0",
        "--consolidate-interval",
        "1",
    ]);
    for _ in 0..2 {
        let t = lan.token();
        lan.add_host(&t, "");
    }
    lan.wait_ready_hosts(2);
    // Two pack clusters, one node each, put on different hosts by hand.
    for name in ["one", "two"] {
        let c = lan.json(&[
            "cluster",
            "create",
            name,
            "--image",
            "minimal",
            "--nodes",
            "1",
            "--cpu",
            "0.1",
            "--memory",
            "64MiB",
            "--placement",
            "pack",
        ]);
        assert_eq!(c["state"], "running", "{c}");
    }
    let host_of = |lan: &Lan, c: &str| lan.json(&["node", "show", &format!("{c}/node-0")])["host"].clone();
    let first = host_of(&lan, "one").as_str().unwrap().to_string();
    let other = lan.hosts.iter().find(|h| h.name != first).unwrap().name.clone();
    let n = lan.json(&["node", "migrate", "two/node-0", "--to", &other]);
    assert_eq!(n["host"], other.as_str(), "{n}");
    let out = lan.cli(&["exec", "two/node-0", "--", "sh", "-c", "echo carried > /root/luggage"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Corral now switches both hosts: one is emptied onto the other and powered off.
    let _agents = AgentsStarted(lan.hosts.iter().map(|h| h.data.display().to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let script = power_script(&lan, dir.path());
    for h in lan.hosts.iter().map(|h| h.name.clone()).collect::<Vec<_>>() {
        let out = lan.cli(&["host", "power", "set", &h, "--driver", "exec", "--command", &script]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    wait("one host to be emptied and powered off", || {
        lan.hosts.iter().any(|h| power_state(&lan, &h.name) == "off")
    });
    let off = lan
        .hosts
        .iter()
        .find(|h| power_state(&lan, &h.name) == "off")
        .unwrap()
        .name
        .clone();
    let on = lan.hosts.iter().find(|h| h.name != off).unwrap().name.clone();
    for c in ["one", "two"] {
        let n = lan.json(&["node", "show", &format!("{c}/node-0")]);
        assert_eq!(
            (n["host"].as_str(), n["state"].as_str()),
            (Some(on.as_str()), Some("running")),
            "{n}"
        );
    }
    let out = lan.cli(&["exec", "two/node-0", "--", "cat", "/root/luggage"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "carried",
        "the writable layer moved with the node"
    );
    let events = lan.json(&["event", "list", "--kind", "host.consolidating"]).to_string();
    assert!(events.contains(&off), "{events}");
    for c in ["one", "two"] {
        assert!(lan.cli(&["cluster", "delete", c]).status.success());
    }
}
