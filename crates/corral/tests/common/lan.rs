//! Several "hosts" on one machine: a LAN bridge in a namespace of its own, a
//! `corral server` in one namespace and a `corral agent` in each host namespace,
//! all with addresses in 192.168.77.0/24 that exist only inside these namespaces.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{bin, rand_hex};

fn sh(cmd: &str) -> Output {
    Command::new("sh").arg("-c").arg(cmd).output().expect("sh")
}

fn must(cmd: &str) {
    let out = sh(cmd);
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The server's address on the LAN.
pub const SERVER: &str = "192.168.77.1";

/// One agent on a host namespace.
pub struct HostAgent {
    /// Host name.
    pub name: String,
    /// Its namespace.
    pub netns: String,
    /// Its underlay address.
    pub address: String,
    /// Its data directory.
    pub data: PathBuf,
    child: Option<Child>,
}

/// A LAN with a server and agents.
pub struct Lan {
    tag: String,
    lan: String,
    /// The server's namespace.
    pub server_ns: String,
    /// Temporary directory of everything.
    pub tmp: tempfile::TempDir,
    server: Option<Child>,
    /// Agents, by order of joining.
    pub hosts: Vec<HostAgent>,
    next: u8,
}

impl Lan {
    /// A LAN with a running server, logged in as admin.
    pub fn start() -> Lan {
        Lan::start_with(&[])
    }

    /// A LAN whose server gets extra arguments.
    pub fn start_with(server_args: &[&str]) -> Lan {
        Lan::start_with_env(server_args, &[])
    }

    /// A LAN whose server gets extra arguments and environment variables.
    pub fn start_with_env(server_args: &[&str], env: &[(&str, &str)]) -> Lan {
        let tag = rand_hex(5);
        let lan = format!("clan{tag}");
        must(&format!("ip netns add {lan} && ip -n {lan} link add br0 type bridge && ip -n {lan} link set br0 up && ip -n {lan} link set lo up"));
        let tmp = tempfile::Builder::new()
            .prefix("corral-lan-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let mut l = Lan {
            server_ns: format!("csrv{tag}"),
            tag,
            lan,
            tmp,
            server: None,
            hosts: Vec::new(),
            next: 11,
        };
        l.plug(&l.server_ns.clone(), SERVER);
        let data = l.tmp.path().join("server");
        let log = std::fs::File::create(l.tmp.path().join("server.log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", l.server_ns))
            .arg(bin())
            .args([
                "server",
                "--listen",
                &format!("{SERVER}:7700"),
                "--agent-listen",
                &format!("{SERVER}:7701"),
            ])
            .args(server_args)
            .args(["--advertise", SERVER, "--data-dir"])
            .arg(&data)
            .env("CORRAL_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        l.server = Some(child);
        let pw = data.join("server/admin.password");
        wait(&format!("the server ({})", l.log("server")), || {
            // Exit status 1 is also what an unreachable server gives: the password file
            // is written before the listener binds, so only an answer counts.
            let answered = |out: Output| {
                out.status.code() == Some(1) && !String::from_utf8_lossy(&out.stderr).contains("cannot reach")
            };
            pw.exists() && answered(l.cli(&["image", "list"]))
        });
        let mut c = l.cmd(&["login", "--user", "admin", "--password-file"]);
        c.arg(&pw);
        let out = c.output().unwrap();
        assert!(out.status.success(), "login: {}", String::from_utf8_lossy(&out.stderr));
        l
    }

    fn plug(&self, ns: &str, address: &str) {
        if !std::path::Path::new(&format!("/run/netns/{ns}")).exists() {
            must(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
        }
        let port = format!("p{}{}", self.tag, address.rsplit('.').next().unwrap());
        must(&format!(
            "ip -n {lan} link add {port} type veth peer name lan0 netns {ns} && ip -n {lan} link set {port} master br0 up && ip -n {ns} addr add {address}/24 dev lan0 && ip -n {ns} link set lan0 up",
            lan = self.lan
        ));
    }

    /// A log file's content.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.tmp.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// A CLI command in the server's namespace.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.server_ns))
            .arg(bin())
            .args(args)
            .env("CORRAL_CONFIG", self.tmp.path().join("cli.json"))
            .env("CORRAL_SERVER", format!("http://{SERVER}:7700"))
            .env_remove("CORRAL_TOKEN")
            .stdin(Stdio::null());
        c
    }

    /// Runs a CLI command.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The server's image store.
    pub fn server_images(&self) -> PathBuf {
        self.tmp.path().join("server/images")
    }

    /// Runs a CLI command that must succeed, with `-o json`.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        let out = self.cli(&a);
        assert!(
            out.status.success(),
            "corral {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until `n` hosts are ready and have registered their capacity.
    pub fn wait_ready_hosts(&self, n: usize) {
        wait(&format!("{n} ready host(s)"), || {
            let hosts = self.json(&["host", "list"]);
            let ready =
                |h: &&serde_json::Value| h["state"] == "ready" && h["capacity"]["memory_bytes"].as_u64() > Some(0);
            hosts.as_array().unwrap().iter().filter(ready).count() == n
        });
    }

    /// A fresh join token.
    pub fn token(&self) -> String {
        self.json(&["host", "join-token"])["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Starts an agent on a new host namespace with `token`; returns its index.
    pub fn add_host(&mut self, token: &str, labels: &str) -> usize {
        let i = self.next;
        self.next += 1;
        let name = format!("h{i}");
        let netns = format!("chst{}{i}", self.tag);
        let address = format!("192.168.77.{i}");
        self.plug(&netns, &address);
        let data = self.tmp.path().join(&name);
        let mut h = HostAgent {
            name,
            netns,
            address,
            data,
            child: None,
        };
        self.spawn_agent(&mut h, Some(token), labels);
        self.hosts.push(h);
        self.hosts.len() - 1
    }

    fn spawn_agent(&self, h: &mut HostAgent, token: Option<&str>, labels: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.tmp.path().join(format!("{}.log", h.name)))
            .unwrap();
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", h.netns))
            .arg(bin())
            .args([
                "agent",
                "--join",
                &format!("https://{SERVER}:7701"),
                "--host",
                &h.name,
                "--address",
                &h.address,
            ])
            .args(["--netns-prefix", &format!("corral-{}-", h.name)])
            .arg("--data-dir")
            .arg(&h.data)
            .env("CORRAL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(t) = token {
            c.args(["--token", t]);
        }
        if !labels.is_empty() {
            c.args(["--label", labels]);
        }
        h.child = Some(c.spawn().unwrap());
    }

    /// The shell command that starts host `i`'s agent again (it has its certificate),
    /// for a power switch outside the harness, with `extra` options; its output goes to
    /// the host's log.
    pub fn agent_command_line(&self, i: usize, extra: &str) -> String {
        let h = &self.hosts[i];
        format!(
            "CORRAL_LOG=info setsid nsenter --net=/run/netns/{ns} {bin} agent --join https://{SERVER}:7701 \
             --host {name} --address {addr} --netns-prefix corral-{name}- {extra} --data-dir {data} \
             </dev/null >>{log} 2>&1 &",
            ns = h.netns,
            bin = bin(),
            name = h.name,
            addr = h.address,
            data = h.data.display(),
            log = self.tmp.path().join(format!("{}.log", h.name)).display(),
        )
    }

    /// Kills agent `i` with SIGKILL, leaving its host on the LAN.
    pub fn stop_agent(&mut self, i: usize) {
        if let Some(mut c) = self.hosts[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills agent `i` with SIGKILL and cuts its host off the LAN.
    pub fn lose_host(&mut self, i: usize) {
        self.stop_agent(i);
        must(&format!("ip -n {} link set lan0 down", self.hosts[i].netns));
    }

    /// Reconnects host `i` and starts its agent again (it has its certificate).
    pub fn return_host(&mut self, i: usize) {
        must(&format!("ip -n {} link set lan0 up", self.hosts[i].netns));
        let mut h = std::mem::replace(
            &mut self.hosts[i],
            HostAgent {
                name: String::new(),
                netns: String::new(),
                address: String::new(),
                data: PathBuf::new(),
                child: None,
            },
        );
        self.spawn_agent(&mut h, None, "");
        self.hosts[i] = h;
    }

    /// Containers crun knows on host `i`.
    pub fn containers(&self, i: usize) -> String {
        let out = Command::new("crun")
            .arg("--root")
            .arg(self.hosts[i].data.join("runtime/crun"))
            .arg("list")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether an agent's process still runs.
    pub fn agent_alive(&mut self, i: usize) -> bool {
        matches!(self.hosts[i].child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Runs a command inside a node held by host `i`, through that host's crun.
    pub fn node_exec(&self, i: usize, node_id: &str, command: &str) -> Output {
        Command::new("crun")
            .arg("--root")
            .arg(self.hosts[i].data.join("runtime/crun"))
            .args(["exec", node_id, "sh", "-c", command])
            .output()
            .unwrap()
    }

    /// Removes what agent `i` made and stops it.
    fn teardown_host(h: &mut HostAgent) {
        if let Some(mut c) = h.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // An agent started outside the harness (a power switch) goes too.
        let _ = sh(&format!("pkill -KILL -f -- '--data-dir {}$'", h.data.display()));
        let crun_root = h.data.join("runtime/crun");
        let nodes = std::fs::read_dir(h.data.join("runtime/nodes"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_else(|_| Vec::new());
        for id in nodes {
            let _ = Command::new("crun")
                .arg("--root")
                .arg(&crun_root)
                .args(["kill", "-a", &id, "KILL"])
                .output();
            std::thread::sleep(Duration::from_millis(50));
            let _ = Command::new("crun")
                .arg("--root")
                .arg(&crun_root)
                .args(["delete", "-f", &id])
                .output();
            let _ = Command::new("umount")
                .arg("-l")
                .arg(h.data.join("runtime/nodes").join(&id).join("rootfs"))
                .output();
            for ctrl in [
                "memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset", "hugetlb", "systemd",
            ] {
                let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}/corral/{id}"));
            }
            let _ = sh(&format!("ip netns del corral-{}-{id} 2>/dev/null", h.name));
        }
        super::remove_noted_netns(&h.netns, &format!("corral-{}-", h.name));
        let _ = sh(&format!("ip netns del {} 2>/dev/null", h.netns));
    }
}

/// Waits up to 60 s for `f`.
pub fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

impl Drop for Lan {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log("server"));
            for h in &self.hosts {
                eprintln!("--- {} log ---\n{}", h.name, self.log(&h.name));
            }
        }
        for h in &mut self.hosts {
            Lan::teardown_host(h);
        }
        if let Some(mut c) = self.server.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh(&format!(
            "ip netns del {} 2>/dev/null; ip netns del {} 2>/dev/null",
            self.server_ns, self.lan
        ));
    }
}
