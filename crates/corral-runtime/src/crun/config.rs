//! The OCI `config.json` of a node, built from its [`NodeSpec`].

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::layout::{NodePaths, NODE_SCRIPTS_MOUNT, SUPPORT_MOUNT};
use crate::{NodeSpec, RuntimeError};

/// PATH for images whose spec does not set one.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The cpu quota is expressed against this period (100 ms, the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;

/// Docker's default capability set: enough for sshd, package managers and daemons
/// that drop privileges, without the ones that reach the host (SYS_ADMIN, NET_ADMIN…).
const CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Host files a node must not read, as Docker masks them.
const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Kernel knobs a node may read but not change, as Docker does.
const READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Host-side inputs of a node's config besides its spec.
pub(crate) struct ConfigInputs<'a> {
    /// The node's paths.
    pub paths: &'a NodePaths,
    /// Shared support dir (tini, busybox, init script).
    pub support_dir: &'a Path,
    /// Cgroup path relative to each hierarchy's root, e.g. `/corral/<id>`.
    pub cgroup_path: String,
}

/// Builds the OCI runtime config of a node.
pub(crate) fn node_config(spec: &NodeSpec, inputs: &ConfigInputs) -> Result<Spec, RuntimeError> {
    SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(inputs.paths.rootfs.clone())
                .readonly(false)
                .build()
                .map_err(oci_err)?,
        )
        .hostname(spec.hostname.clone())
        .process(process(spec)?)
        .mounts(mounts(spec, inputs)?)
        .linux(linux(spec, inputs)?)
        .build()
        .map_err(oci_err)
}

/// The environment of every process in the node: the spec's, plus PATH and HOME when
/// missing, because tini and the init script need a PATH to find the image's tools.
pub(crate) fn node_env(spec: &NodeSpec) -> Vec<String> {
    let mut env = spec.env.clone();
    let has = |key: &str| spec.env.iter().any(|e| e.split('=').next() == Some(key));
    if !has("PATH") {
        env.push(DEFAULT_PATH.to_string());
    }
    if !has("HOME") {
        env.push("HOME=/root".to_string());
    }
    env
}

/// The argv of the node's init: tini as PID 1 (it reaps orphans) running the shared
/// init script with the static busybox shell, so images without a shell work too.
pub(crate) fn init_argv() -> Vec<String> {
    vec![
        format!("{SUPPORT_MOUNT}/tini"),
        "--".to_string(),
        format!("{SUPPORT_MOUNT}/busybox"),
        "sh".to_string(),
        format!("{SUPPORT_MOUNT}/init.sh"),
    ]
}

fn process(spec: &NodeSpec) -> Result<oci_spec::runtime::Process, RuntimeError> {
    let caps: Capabilities = CAPABILITIES.into_iter().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        // Inheritable and ambient stay empty: a non-empty inheritable set lets
        // file capabilities grant more than the bounding intent (CVE-2022-24769).
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()
        .map_err(oci_err)?;
    // No rlimits: nodes inherit the agent's, which the operator sets for the host
    // (raising them here fails where the agent may not exceed its hard limit).
    ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build().map_err(oci_err)?)
        .args(init_argv())
        .env(node_env(spec))
        .cwd("/")
        .capabilities(capabilities)
        .no_new_privileges(true)
        .build()
        .map_err(oci_err)
}

fn mounts(spec: &NodeSpec, inputs: &ConfigInputs) -> Result<Vec<Mount>, RuntimeError> {
    let nosuid_noexec_nodev = ["nosuid", "noexec", "nodev"];
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount("/dev/mqueue", "mqueue", "mqueue", &nosuid_noexec_nodev)?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ];
    mounts.push(bind_ro("/etc/hosts", &spec.hosts_file)?);
    mounts.push(bind_ro(SUPPORT_MOUNT, inputs.support_dir)?);
    mounts.push(bind_ro(NODE_SCRIPTS_MOUNT, &inputs.paths.scripts)?);
    Ok(mounts)
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, RuntimeError> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(oci_err)
}

fn bind_ro(destination: &str, source: &Path) -> Result<Mount, RuntimeError> {
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(PathBuf::from(source))
        .options(
            ["rbind", "ro", "nosuid", "nodev"]
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(oci_err)
}

fn linux(spec: &NodeSpec, inputs: &ConfigInputs) -> Result<oci_spec::runtime::Linux, RuntimeError> {
    LinuxBuilder::default()
        .namespaces(namespaces(spec)?)
        .cgroups_path(PathBuf::from(&inputs.cgroup_path))
        .resources(resources(spec)?)
        .masked_paths(MASKED_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .readonly_paths(READONLY_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(oci_err)
}

fn namespaces(spec: &NodeSpec) -> Result<Vec<oci_spec::runtime::LinuxNamespace>, RuntimeError> {
    let own = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Cgroup,
    ];
    let mut namespaces = own
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build().map_err(oci_err))
        .collect::<Result<Vec<_>, _>>()?;
    // The network namespace is made and wired by the network driver; we only join it.
    namespaces.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(spec.netns.clone())
            .build()
            .map_err(oci_err)?,
    );
    Ok(namespaces)
}

/// Cgroup limits; a zero in the spec means "no limit" for that resource.
fn resources(spec: &NodeSpec) -> Result<LinuxResources, RuntimeError> {
    // Deny every device, crun then allows the standard ones it creates in /dev.
    let deny_devices = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(oci_err)?;
    let mut builder = LinuxResourcesBuilder::default().devices(vec![deny_devices]);
    if spec.cpu_millis > 0 {
        let quota = i64::from(spec.cpu_millis) * (CPU_PERIOD_US as i64) / 1000;
        builder = builder.cpu(
            LinuxCpuBuilder::default()
                .quota(quota)
                .period(CPU_PERIOD_US)
                .build()
                .map_err(oci_err)?,
        );
    }
    if spec.memory_bytes > 0 {
        let limit =
            i64::try_from(spec.memory_bytes).map_err(|_| RuntimeError::InvalidSpec("memory limit too large".into()))?;
        // Swap limit equal to the memory limit: a node gets no swap on top of its memory.
        builder = builder.memory(
            LinuxMemoryBuilder::default()
                .limit(limit)
                .swap(limit)
                .build()
                .map_err(oci_err)?,
        );
    }
    if spec.pids_max > 0 {
        builder = builder.pids(
            LinuxPidsBuilder::default()
                .limit(i64::from(spec.pids_max))
                .build()
                .map_err(oci_err)?,
        );
    }
    builder.build().map_err(oci_err)
}

fn oci_err(err: oci_spec::OciSpecError) -> RuntimeError {
    RuntimeError::InvalidSpec(format!("oci config: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn spec() -> NodeSpec {
        NodeSpec {
            id: "n1".into(),
            hostname: "worker-1".into(),
            layers: vec![PathBuf::from("/layers/base")],
            netns: PathBuf::from("/run/netns/c1"),
            cpu_millis: 1500,
            memory_bytes: 256 << 20,
            pids_max: 512,
            env: vec!["FOO=bar".into()],
            hosts_file: PathBuf::from("/var/lib/corral/hosts/c1"),
            files: Vec::new(),
            on_create: None,
            on_recovery: None,
        }
    }

    fn config_json(spec: &NodeSpec) -> Value {
        let paths = NodePaths::new(Path::new("/state/nodes"), &spec.id);
        let inputs = ConfigInputs {
            paths: &paths,
            support_dir: Path::new("/state/support"),
            cgroup_path: "/corral/n1".into(),
        };
        serde_json::to_value(node_config(spec, &inputs).unwrap()).unwrap()
    }

    fn mount_of<'a>(config: &'a Value, destination: &str) -> &'a Value {
        config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == destination)
            .unwrap_or_else(|| panic!("no mount at {destination}"))
    }

    #[test]
    fn root_hostname_and_cgroup() {
        let config = config_json(&spec());
        assert_eq!(config["root"]["path"], "/state/nodes/n1/rootfs");
        assert_eq!(config["hostname"], "worker-1");
        assert_eq!(config["linux"]["cgroupsPath"], "/corral/n1");
    }

    #[test]
    fn joins_the_given_netns_and_owns_the_others() {
        let config = config_json(&spec());
        let namespaces = config["linux"]["namespaces"].as_array().unwrap();
        let types: Vec<&str> = namespaces.iter().map(|n| n["type"].as_str().unwrap()).collect();
        for typ in ["pid", "mount", "uts", "ipc", "cgroup", "network"] {
            assert!(types.contains(&typ), "missing {typ}");
        }
        let net = namespaces.iter().find(|n| n["type"] == "network").unwrap();
        assert_eq!(net["path"], "/run/netns/c1");
        assert!(namespaces
            .iter()
            .filter(|n| n["type"] != "network")
            .all(|n| n.get("path").is_none()));
    }

    #[test]
    fn limits_follow_the_spec() {
        let resources = &config_json(&spec())["linux"]["resources"];
        assert_eq!(resources["cpu"]["quota"], 150_000);
        assert_eq!(resources["cpu"]["period"], 100_000);
        assert_eq!(resources["memory"]["limit"], 256 << 20);
        assert_eq!(resources["memory"]["swap"], 256 << 20);
        assert_eq!(resources["pids"]["limit"], 512);
    }

    #[test]
    fn zero_means_unlimited() {
        let mut spec = spec();
        (spec.cpu_millis, spec.memory_bytes, spec.pids_max) = (0, 0, 0);
        let resources = &config_json(&spec)["linux"]["resources"];
        for key in ["cpu", "memory", "pids"] {
            assert!(resources.get(key).is_none(), "{key} limited");
        }
    }

    #[test]
    fn capabilities_are_reduced() {
        let process = &config_json(&spec())["process"];
        let caps = &process["capabilities"];
        let mut effective: Vec<&str> = caps["effective"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        effective.sort();
        assert_eq!(effective.len(), CAPABILITIES.len());
        assert!(!effective.contains(&"CAP_SYS_ADMIN"));
        assert!(effective.contains(&"CAP_NET_BIND_SERVICE"));
        for set in ["bounding", "permitted"] {
            let mut other: Vec<&str> = caps[set]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            other.sort();
            assert_eq!(other, effective, "{set}");
        }
        assert_eq!(caps["inheritable"], Value::Array(vec![]));
        assert_eq!(process["noNewPrivileges"], true);
    }

    #[test]
    fn hosts_and_support_are_read_only_binds() {
        let config = config_json(&spec());
        for (destination, source) in [
            ("/etc/hosts", "/var/lib/corral/hosts/c1"),
            (SUPPORT_MOUNT, "/state/support"),
            (NODE_SCRIPTS_MOUNT, "/state/nodes/n1/scripts"),
        ] {
            let mount = mount_of(&config, destination);
            assert_eq!(mount["source"], source);
            assert!(mount["options"].as_array().unwrap().contains(&Value::from("ro")));
        }
        assert!(mount_of(&config, "/sys")["options"]
            .as_array()
            .unwrap()
            .contains(&Value::from("ro")));
        for destination in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"] {
            mount_of(&config, destination);
        }
    }

    #[test]
    fn masks_host_paths() {
        let linux = &config_json(&spec())["linux"];
        assert!(linux["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&Value::from("/proc/kcore")));
        assert!(linux["readonlyPaths"]
            .as_array()
            .unwrap()
            .contains(&Value::from("/proc/sys")));
    }

    #[test]
    fn init_is_tini_running_the_script() {
        let args = &config_json(&spec())["process"]["args"];
        assert_eq!(args[0], "/.corral/bin/tini");
        assert_eq!(args[args.as_array().unwrap().len() - 1], "/.corral/bin/init.sh");
    }

    #[test]
    fn env_gets_path_and_home_once() {
        let env = node_env(&spec());
        assert!(env.contains(&"FOO=bar".to_string()));
        assert!(env.iter().any(|e| e.starts_with("PATH=")));
        assert!(env.contains(&"HOME=/root".to_string()));
        let mut spec = spec();
        spec.env = vec!["PATH=/opt/bin".into(), "HOME=/home/x".into()];
        assert_eq!(node_env(&spec), spec.env);
    }
}
