//! Root-only tests: real nodes run by crun in a busybox image.
//!
//! Each test owns a temp dir (state, image layer, hosts file), a network namespace and
//! a cgroup parent, all with unique names, and a guard that removes them on drop, so a
//! failing test leaves nothing behind and tests can run in parallel. Without root
//! they print a note and pass.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use corral_runtime::crun::{prepare_host, Crun};
use corral_runtime::{FileSpec, NodeSpec, Runtime, RuntimeState};

/// Makes names unique across the tests of this process.
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: needs root");
    false
}

/// A busybox image layer: the static binary, one symlink per applet, a root user.
fn busybox_layer(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    for sub in ["etc", "root", "tmp", "proc", "sys", "dev", "var/log"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
}

/// Everything one test creates, removed on drop.
struct Fixture {
    crun: Crun,
    dir: tempfile::TempDir,
    netns: String,
    cgroup_parent: String,
    nodes: std::sync::Mutex<Vec<String>>,
}

impl Fixture {
    fn new() -> Self {
        prepare_host().unwrap();
        let dir = tempfile::tempdir().unwrap();
        busybox_layer(&dir.path().join("layer"));
        std::fs::write(dir.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
        let netns = unique("corral-rt");
        let status = Command::new("ip").args(["netns", "add", &netns]).status().unwrap();
        assert!(status.success(), "ip netns add {netns}");
        let cgroup_parent = unique("corral-test");
        let crun = Crun::new(dir.path().join("state"), cgroup_parent.clone()).unwrap();
        Self {
            crun,
            dir,
            netns,
            cgroup_parent,
            nodes: Default::default(),
        }
    }

    /// A node spec with a unique id and modest limits.
    fn spec(&self) -> NodeSpec {
        let id = unique("n");
        self.nodes.lock().unwrap().push(id.clone());
        NodeSpec {
            hostname: format!("host-{id}"),
            id,
            layers: vec![self.dir.path().join("layer")],
            netns: PathBuf::from("/run/netns").join(&self.netns),
            cpu_millis: 500,
            memory_bytes: 128 << 20,
            pids_max: 256,
            env: vec!["GREETING=hello".into()],
            hosts_file: self.dir.path().join("hosts"),
            files: Vec::new(),
            on_create: None,
            on_recovery: None,
        }
    }

    /// Runs `script` with sh in the node: (exit code, stdout, stderr).
    fn sh(&self, id: &str, script: &str) -> (i32, String, String) {
        let argv = ["sh".to_string(), "-c".to_string(), script.to_string()];
        let output = self.crun.exec_command(id, &argv, false).unwrap().output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Stdout of `script`, which must succeed.
    fn sh_ok(&self, id: &str, script: &str) -> String {
        let (code, out, err) = self.sh(id, script);
        assert_eq!(code, 0, "{script}: {err}");
        out.trim().to_string()
    }

    fn pid(&self, id: &str) -> u32 {
        match self.crun.state(id).unwrap() {
            RuntimeState::Running { pid } => pid,
            other => panic!("{id} is {other:?}"),
        }
    }

    fn node_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join("state/nodes").join(id)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for id in self.nodes.lock().unwrap().iter() {
            if let Err(e) = self.crun.remove(id) {
                eprintln!("cleanup of {id}: {e}");
            }
        }
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = std::fs::remove_dir(hierarchy.path().join(&self.cgroup_parent));
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).status();
    }
}

fn mounted_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(dir))
        .map(str::to_string)
        .collect()
}

#[test]
fn node_has_its_hostname_hosts_env_and_pid_namespace() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = fx.spec();
    fx.crun.start(&spec).unwrap();
    assert_eq!(fx.sh_ok(&spec.id, "hostname"), spec.hostname);
    assert_eq!(fx.sh_ok(&spec.id, "cat /etc/hosts"), "127.0.0.1 localhost");
    assert_eq!(
        fx.sh_ok(&spec.id, "echo $GREETING; echo $PATH").lines().next(),
        Some("hello")
    );
    // Only tini, the init script (busybox), its sleep (busybox) and this exec's
    // sh and ps (ash may exec ps in place of itself).
    let processes = fx.sh_ok(&spec.id, "ps -o comm");
    let names: Vec<&str> = processes.lines().skip(1).collect();
    assert!(names.len() <= 5 && names.contains(&"tini"), "{names:?}");
    assert_eq!(fx.sh_ok(&spec.id, "cat /proc/1/comm"), "tini");
    // The agent rewrites the hosts file in place; the node sees the change.
    std::fs::write(&spec.hosts_file, "10.0.0.2 head\n").unwrap();
    assert_eq!(fx.sh_ok(&spec.id, "cat /etc/hosts"), "10.0.0.2 head");
    // Starting a running node changes nothing.
    let pid = fx.pid(&spec.id);
    fx.crun.start(&spec).unwrap();
    assert_eq!(fx.pid(&spec.id), pid);
}

#[test]
fn writable_layer_files_and_on_create_survive_restarts() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let top = fx.dir.path().join("top");
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::fs::write(top.join("etc/layer"), "top\n").unwrap();
    std::fs::write(fx.dir.path().join("layer/etc/layer"), "base\n").unwrap();
    let mut spec = fx.spec();
    spec.layers.push(top);
    // The on-create script also leaves a start hook, which runs at every start.
    spec.on_create = Some(
        "echo ran >> /root/created\nmkdir -p /etc/corral/on-start.d\n\
         printf '#!/bin/sh\\necho started >> /root/starts\\n' > /etc/corral/on-start.d/10-count\n\
         chmod +x /etc/corral/on-start.d/10-count\n"
            .into(),
    );
    spec.files = vec![FileSpec {
        path: "/etc/corral/new/key".into(),
        content: b"secret".to_vec(),
        mode: 0o600,
    }];
    fx.crun.start(&spec).unwrap();
    assert_eq!(fx.sh_ok(&spec.id, "cat /etc/layer"), "top");
    assert_eq!(fx.sh_ok(&spec.id, "cat /etc/corral/new/key"), "secret");
    assert_eq!(fx.sh_ok(&spec.id, "stat -c %a /etc/corral/new/key"), "600");
    fx.sh_ok(&spec.id, "echo kept > /root/kept");
    wait_for(|| fx.sh(&spec.id, "test -e /var/lib/corral-node/created").0 == 0);
    wait_for(|| fx.sh(&spec.id, "cat /root/starts").1.trim() == "started");

    let begun = Instant::now();
    fx.crun.stop(&spec.id, Duration::from_secs(5)).unwrap();
    // The init script exits on SIGTERM: no waiting for the grace period.
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        begun.elapsed()
    );
    assert_eq!(fx.crun.state(&spec.id).unwrap(), RuntimeState::Stopped);
    assert!(mounted_under(&fx.node_dir(&spec.id)).is_empty());
    assert!(fx.crun.upper_dir(&spec.id).join("root/kept").exists());
    fx.crun.stop(&spec.id, Duration::from_secs(5)).unwrap();

    fx.crun.start(&spec).unwrap();
    assert_eq!(fx.sh_ok(&spec.id, "cat /root/kept"), "kept");
    assert_eq!(fx.sh_ok(&spec.id, "cat /root/created"), "ran");
    assert_eq!(fx.sh_ok(&spec.id, "cat /var/log/corral/on-create.log"), "");
    wait_for(|| fx.sh(&spec.id, "cat /root/starts").1.lines().count() == 2);
}

/// A layer with stand-ins for sshd and ssh-keygen that record how they were called.
fn fake_ssh_layer(dir: &Path) {
    let tools = [
        ("usr/sbin/sshd", "printf '%s\\n' \"$*\" > /run/sshd-args\n"),
        (
            "usr/bin/ssh-keygen",
            "echo \"$@\" >> /root/keygen; mkdir -p /etc/ssh; touch /etc/ssh/ssh_host_ed25519_key\n",
        ),
    ];
    for (path, body) in tools {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
}

#[test]
fn init_starts_sshd_and_runs_recovery_each_start() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let ssh = fx.dir.path().join("ssh");
    fake_ssh_layer(&ssh);
    let mut spec = fx.spec();
    spec.layers.push(ssh);
    spec.on_recovery = Some("echo recovered >> /root/recovered\n".into());
    for start in 1..=2 {
        fx.crun.start(&spec).unwrap();
        wait_for(|| fx.sh(&spec.id, "test -e /run/sshd-args").0 == 0);
        assert_eq!(fx.sh_ok(&spec.id, "cat /run/sshd-args"), "-E /var/log/corral/sshd.log");
        assert_eq!(fx.sh_ok(&spec.id, "test -d /run/sshd && echo yes"), "yes");
        assert_eq!(fx.sh_ok(&spec.id, "wc -l < /root/recovered"), start.to_string());
        fx.crun.stop(&spec.id, Duration::from_secs(5)).unwrap();
    }
    // Host keys are made once and kept in the writable layer.
    let keygen = std::fs::read_to_string(fx.crun.upper_dir(&spec.id).join("root/keygen")).unwrap();
    assert_eq!(keygen, "-A\n");
}

#[test]
fn start_replaces_a_dead_container() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = fx.spec();
    fx.crun.start(&spec).unwrap();
    let pid = fx.pid(&spec.id);
    // Init dies behind the agent's back; the container stays in crun's state.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL).unwrap();
    wait_for(|| fx.crun.state(&spec.id).unwrap() == RuntimeState::Stopped);
    fx.crun.start(&spec).unwrap();
    assert_ne!(fx.pid(&spec.id), pid);
    assert_eq!(fx.sh_ok(&spec.id, "hostname"), spec.hostname);
}

#[test]
fn oom_kills_the_hog_and_init_survives() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let mut spec = fx.spec();
    spec.memory_bytes = 32 << 20;
    fx.crun.start(&spec).unwrap();
    let pid = fx.pid(&spec.id);
    assert_eq!(fx.crun.oom_kills(&spec.id).unwrap(), 0);
    // dd touches its whole 64 MiB buffer: twice the limit.
    let (code, _, _) = fx.sh(&spec.id, "dd if=/dev/zero of=/dev/null bs=64M count=1");
    assert_ne!(code, 0);
    assert!(fx.crun.oom_kills(&spec.id).unwrap() > 0);
    assert_eq!(fx.pid(&spec.id), pid);
    assert_eq!(fx.sh_ok(&spec.id, "echo alive"), "alive");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let mut spec = fx.spec();
    spec.pids_max = 32;
    fx.crun.start(&spec).unwrap();
    let bomb = "i=0; while [ $i -lt 200 ]; do sleep 2 & i=$((i+1)); done; wait";
    let (code, _, err) = fx.sh(&spec.id, bomb);
    assert_ne!(code, 0, "the bomb ran all its forks");
    assert!(err.contains("fork"), "{err}");
    let pids = Path::new("/sys/fs/cgroup/pids").join(&fx.cgroup_parent).join(&spec.id);
    let current: u32 = std::fs::read_to_string(pids.join("pids.current"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(current <= 32, "{current} pids");
    // Once the bomb's children exit, the node takes commands again.
    wait_for(|| fx.sh(&spec.id, "true").0 == 0);
    assert!(matches!(fx.crun.state(&spec.id).unwrap(), RuntimeState::Running { .. }));
}

#[test]
fn capabilities_are_reduced() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = fx.spec();
    fx.crun.start(&spec).unwrap();
    // chown 0, dac_override 1, fowner 3, fsetid 4, kill 5, setgid 6, setuid 7,
    // setpcap 8, net_bind_service 10, net_raw 13, sys_chroot 18, mknod 27,
    // audit_write 29, setfcap 31.
    let expected = "00000000a80425fb";
    for pid in ["self", "1"] {
        let status = fx.sh_ok(&spec.id, &format!("cat /proc/{pid}/status"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap()
        };
        assert_eq!(field("CapEff:"), expected, "{pid}");
        assert_eq!(field("CapBnd:"), expected, "{pid}");
        assert_eq!(field("NoNewPrivs:"), "1", "{pid}");
    }
    let (code, _, _) = fx.sh(&spec.id, "mount -t tmpfs none /mnt");
    assert_ne!(code, 0, "mount needs CAP_SYS_ADMIN");
}

#[test]
fn remove_leaves_nothing_behind() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let spec = fx.spec();
    fx.crun.start(&spec).unwrap();
    let pid = fx.pid(&spec.id);
    assert!(fx.crun.list().unwrap().contains(&spec.id));
    fx.crun.remove(&spec.id).unwrap();

    assert_eq!(fx.crun.state(&spec.id).unwrap(), RuntimeState::Absent);
    assert!(!fx.crun.list().unwrap().contains(&spec.id));
    assert!(mounted_under(fx.dir.path()).is_empty());
    assert!(!fx.node_dir(&spec.id).exists());
    assert!(!fx.dir.path().join("state/crun").join(&spec.id).exists());
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = hierarchy.path().join(&fx.cgroup_parent).join(&spec.id);
        assert!(!dir.exists(), "{} left", dir.display());
    }
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid),
        "init {pid} alive"
    );
    fx.crun.remove(&spec.id).unwrap();
}

/// Times starts and stops; run with `--nocapture` to see the numbers
/// (crates/corral-runtime/BENCHMARKS.md records them).
#[test]
fn start_timings() {
    if !is_root() {
        return;
    }
    let fx = Fixture::new();
    let specs: Vec<NodeSpec> = (0..40).map(|_| fx.spec()).collect();
    let (sequential, parallel) = specs.split_at(8);
    let sequential_time = timed(|| sequential.iter().for_each(|s| fx.crun.start(s).unwrap()));
    let parallel_time = timed(|| on_threads(4, parallel, |s| fx.crun.start(s).unwrap()));
    let stop_time = timed(|| on_threads(4, &specs, |s| fx.crun.stop(&s.id, Duration::from_secs(5)).unwrap()));
    println!(
        "start 8 nodes one after another: {sequential_time:?} ({:?} per node); \
         start 32 nodes on 4 threads: {parallel_time:?}; stop 40 nodes on 4 threads: {stop_time:?}",
        sequential_time / 8
    );
    assert!(sequential_time < Duration::from_secs(4));
    assert!(parallel_time < Duration::from_secs(8));
}

fn timed(work: impl FnOnce()) -> Duration {
    let begun = Instant::now();
    work();
    begun.elapsed()
}

/// Runs `work` on every spec, spread over `threads` threads.
fn on_threads(threads: usize, specs: &[NodeSpec], work: impl Fn(&NodeSpec) + Sync) {
    let per_thread = specs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for chunk in specs.chunks(per_thread) {
            let work = &work;
            scope.spawn(move || chunk.iter().for_each(work));
        }
    });
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Waits up to ten seconds for `condition`, checking every 20 ms.
fn wait_for(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}
