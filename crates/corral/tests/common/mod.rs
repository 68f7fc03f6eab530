//! Harness of the root integration tests: a real `corral up` in a network namespace
//! of its own (a test "machine"), driven through the real CLI.
//!
//! Each `Pool` cleans up after itself on drop, even when the test failed: it deletes
//! what its own `corral up` made (containers, mounts, cgroups, node namespaces) and
//! then its network namespace, which takes its bridges and nft rules with it.

#![allow(dead_code)]

pub mod debian_image;
pub mod lan;
pub mod mirror_proxy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The corral binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_corral")
}

/// A random hex string.
pub fn rand_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    let f = std::fs::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let s: String = String::from_utf8_lossy(&f)
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = s.as_bytes()[i % s.len()];
    }
    String::from_utf8(buf).unwrap()
}

fn sh(cmd: &str) -> Output {
    Command::new("sh").arg("-c").arg(cmd).output().expect("sh")
}

/// One `corral up` in its own network namespace.
pub struct Pool {
    /// Name of the network namespace.
    pub netns: String,
    /// Data directory.
    pub data: PathBuf,
    /// CLI config file.
    pub config: PathBuf,
    child: Option<Child>,
    /// Extra environment of `corral up`.
    env: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl Pool {
    /// Starts a pool and logs in as the admin.
    pub fn start() -> Pool {
        Pool::start_with_env(&[])
    }

    /// Starts a pool whose `corral up` has extra environment variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Pool {
        let netns = format!("ctest-{}", rand_hex(6));
        let out = sh(&format!("ip netns add {netns} && ip -n {netns} link set lo up"));
        assert!(out.status.success(), "netns: {}", String::from_utf8_lossy(&out.stderr));
        let tmp = tempfile::Builder::new()
            .prefix("corral-test-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let data = tmp.path().join("data");
        let config = tmp.path().join("cli.json");
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut pool = Pool {
            netns,
            data,
            config,
            child: None,
            env,
            _tmp: tmp,
        };
        pool.launch();
        pool.login("admin", &pool.admin_password());
        pool
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self._tmp.path().join("up.log"))
            .unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg(bin())
            .args(["up", "--listen", "0.0.0.0:7700", "--host", "testhost", "--data-dir"])
            .arg(&self.data)
            .env("CORRAL_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn corral up");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let out = self.raw(&["image", "list"]);
            let text = String::from_utf8_lossy(&out.stderr);
            // Any answer from the API (even 401) means it listens.
            let answered = out.status.success() || text.contains("token") || text.contains("unauthorized");
            if answered && self.data.join("server/admin.password").exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("corral up did not come up; log:\n{}", self.log());
    }

    /// A scratch directory of this pool, removed with it.
    pub fn dir(&self) -> &Path {
        self._tmp.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._tmp.path().join("up.log")).unwrap_or_default()
    }

    /// The bootstrap admin password.
    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.data.join("server/admin.password"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Logs the CLI in as a user.
    pub fn login(&self, user: &str, password: &str) {
        login_with(self.cmd(&[]), user, password);
    }

    /// A CLI command inside the pool's namespace, with the admin's config file.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_with(&self.config, args)
    }

    /// A CLI command inside the pool's namespace with a given config file.
    pub fn cmd_with(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(bin())
            .args(args)
            .env("CORRAL_CONFIG", config)
            .env("CORRAL_SERVER", "http://127.0.0.1:7700")
            .env_remove("CORRAL_TOKEN")
            .stdin(Stdio::null());
        c
    }

    /// The CLI of another user, with a config file of its own; logs that user in.
    pub fn as_user(&self, name: &str, password: &str) -> UserCli<'_> {
        let config = self._tmp.path().join(format!("cli-{name}.json"));
        let cli = UserCli {
            pool: self,
            name: name.to_string(),
            config,
        };
        login_with(cli.cmd(&[]), name, password);
        cli
    }

    /// `corral login` with a config file of its own; returns its output.
    pub fn try_login(&self, user: &str, password: &str) -> Output {
        let config = self._tmp.path().join(format!("cli-try-{user}.json"));
        let mut c = self.cmd_with(
            &config,
            &[
                "login",
                "--server",
                "http://127.0.0.1:7700",
                "--user",
                user,
                "--password-stdin",
            ],
        );
        with_stdin(&mut c, &format!("{password}\n"))
    }

    /// Creates a non-admin user (as the admin) and returns its logged-in CLI.
    pub fn new_user(&self, name: &str, password: &str) -> UserCli<'_> {
        let mut c = self.cmd(&["user", "create", name, "--password-stdin"]);
        let out = with_stdin(&mut c, &format!("{password}\n"));
        assert!(
            out.status.success(),
            "user create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.as_user(name, password)
    }

    /// Runs a CLI command and returns its output.
    pub fn raw(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run corral")
    }

    /// Runs a CLI command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(self.raw(args), args)
    }

    /// Runs a CLI command that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        fails(self.raw(args), args)
    }

    /// Runs a CLI command with `-o json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        json(|a| self.ok(a), args)
    }

    /// Runs a command in a node; returns (exit code, stdout, stderr).
    pub fn exec(&self, node: &str, command: &str) -> (i32, String, String) {
        exec_out(self.raw(&["exec", node, "--", "sh", "-c", command]))
    }

    /// A command (not the CLI) run inside the pool's network namespace.
    pub fn in_netns(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg(program)
            .stdin(Stdio::null());
        c
    }

    /// A plain HTTP request to the API from inside the namespace (with curl); returns
    /// (status, body).
    pub fn http(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
        let mut c = self.in_netns("curl");
        c.args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ]);
        c.arg(format!("http://127.0.0.1:7700{path}"));
        if let Some(t) = token {
            c.arg("-H").arg(format!("Authorization: Bearer {t}"));
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = c.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Kills `corral up` with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts `corral up` again on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// The runtime ids of a cluster's nodes start with its uid; the uid is found from
    /// the node namespaces this pool made.
    pub fn node_ids(&self) -> Vec<String> {
        let dir = self.data.join("runtime/nodes");
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Everything on the machine that still carries one of `ids`, or this pool's
    /// data directory: namespaces, links, mounts, cgroups, processes, nft elements.
    pub fn leftovers(&self, ids: &[String], subnets: &[String]) -> Vec<String> {
        let mut found = Vec::new();
        for id in ids {
            if Path::new(&format!("/run/netns/corral-{id}")).exists() {
                found.push(format!("netns corral-{id}"));
            }
            for ctrl in [
                "memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset",
            ] {
                let p = format!("/sys/fs/cgroup/{ctrl}/corral/{id}");
                if Path::new(&p).exists() {
                    found.push(format!("cgroup {p}"));
                }
            }
            if self.data.join("runtime/nodes").join(id).exists() {
                found.push(format!("node dir {id}"));
            }
        }
        let data = self.data.to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for line in mounts
            .lines()
            .filter(|l| l.contains(&data) && l.contains("/runtime/nodes/"))
        {
            found.push(format!("mount {line}"));
        }
        let links = sh(&format!("ip -n {} -o link show", self.netns));
        for l in String::from_utf8_lossy(&links.stdout).lines() {
            let name = l.split(':').nth(1).unwrap_or("").trim().to_string();
            if name.starts_with("cv") || name.starts_with("cb-") || name.starts_with("cx-") {
                found.push(format!("link {name}"));
            }
        }
        let nft = sh(&format!(
            "ip netns exec {} nft list set inet corral subnets 2>/dev/null",
            self.netns
        ));
        for s in subnets {
            if String::from_utf8_lossy(&nft.stdout).contains(s.as_str()) {
                found.push(format!("nft subnets element {s}"));
            }
        }
        let ps = sh("ps -eo pid,args");
        for l in String::from_utf8_lossy(&ps.stdout).lines() {
            if ids.iter().any(|id| l.contains(id.as_str())) && !l.contains("ps -eo") {
                found.push(format!("process {l}"));
            }
        }
        found
    }

    /// Forcefully removes whatever this pool's agent made, then the namespace.
    fn teardown(&mut self) {
        self.kill9();
        let crun_root = self.data.join("runtime/crun");
        for id in self.node_ids() {
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
            let rootfs = self.data.join("runtime/nodes").join(&id).join("rootfs");
            let _ = Command::new("umount").arg("-l").arg(&rootfs).output();
            for ctrl in [
                "memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset", "hugetlb", "systemd",
            ] {
                let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}/corral/{id}"));
            }
            let _ = sh(&format!("ip netns del corral-{id} 2>/dev/null"));
        }
        remove_noted_netns(&self.netns, "corral-");
        let _ = sh(&format!("ip netns del {} 2>/dev/null", self.netns));
    }
}

/// Removes the node namespaces the network driver noted as made by the agent in
/// namespace `host` (its notes are keyed by that namespace's inode), and the notes: a
/// node killed between its namespace and its runtime directory is only found there.
/// Call before deleting `host`.
pub fn remove_noted_netns(host: &str, prefix: &str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(format!("/run/netns/{host}")) else {
        return;
    };
    let notes = Path::new("/run/corral-network").join(meta.ino().to_string());
    for entry in std::fs::read_dir(&notes).into_iter().flatten().flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let _ = sh(&format!("ip netns del {prefix}{id} 2>/dev/null"));
    }
    let _ = std::fs::remove_dir_all(&notes);
    let _ = std::fs::remove_dir("/run/corral-network");
}

/// The CLI as another user than the admin, with its own config file.
pub struct UserCli<'a> {
    /// The pool.
    pub pool: &'a Pool,
    /// User name.
    pub name: String,
    /// Config file of this user's CLI.
    pub config: PathBuf,
}

impl UserCli<'_> {
    /// A CLI command as this user.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.pool.cmd_with(&self.config, args)
    }

    /// Runs a CLI command and returns its output.
    pub fn raw(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run corral")
    }

    /// Runs a CLI command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(self.raw(args), args)
    }

    /// Runs a CLI command that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        fails(self.raw(args), args)
    }

    /// Runs a CLI command with `-o json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        json(|a| self.ok(a), args)
    }

    /// Runs a command in a node; returns (exit code, stdout, stderr).
    pub fn exec(&self, node: &str, command: &str) -> (i32, String, String) {
        exec_out(self.raw(&["exec", node, "--", "sh", "-c", command]))
    }

    /// The token saved by this user's login.
    pub fn token(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&self.config).unwrap()).unwrap();
        v["token"].as_str().unwrap().to_string()
    }
}

fn with_stdin(c: &mut Command, input: &str) -> Output {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn login_with(mut c: Command, user: &str, password: &str) {
    c.args([
        "login",
        "--server",
        "http://127.0.0.1:7700",
        "--user",
        user,
        "--password-stdin",
    ]);
    let out = with_stdin(&mut c, &format!("{password}\n"));
    assert!(
        out.status.success(),
        "login {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ok(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "corral {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: Output, args: &[&str]) -> String {
    assert!(
        !out.status.success(),
        "corral {args:?} should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(ok: impl Fn(&[&str]) -> String, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let text = ok(&a);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("json output of {args:?}: {e}: {text}"))
}

fn exec_out(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Pool {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- corral up log ---\n{}", self.log());
        }
        self.teardown();
    }
}

/// Options for `ssh` (after `corral ssh NODE --`) from a test with the user's `key`:
/// that key only, no prompts, no host key checks (nodes are new every run), a short
/// connect timeout.
pub fn ssh_options(key: &str) -> Vec<&str> {
    vec![
        "-i",
        key,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
    ]
}
