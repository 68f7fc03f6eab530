//! Root integration tests of the node API: software inside a node resizes its own
//! cluster at `http://169.254.169.254/` with the credential Corral placed in it, with
//! busybox `wget` as a program in a node would; in one `corral up`, and on a LAN where
//! the agent forwards to a remote server over mutual TLS.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::lan::{wait, Lan};
use common::Pool;

const LAB: &str = r#"
name: lab
image: minimal
resources:
  cpu: "0.1"
  memory: 32MiB
node_groups:
  - name: head
    count: 1
  - name: worker
    count: 0
    elastic:
      min: 0
      max: 3
"#;

/// The shell command calling the node API at `path`, POSTing `body` if given, with
/// `credential` (a shell word) as the bearer.
fn call(path: &str, body: Option<&str>, credential: &str) -> String {
    let post = body.map(|b| format!("--post-data '{b}' ")).unwrap_or_default();
    format!("timeout 10 wget -qO- --header \"Authorization: Bearer {credential}\" {post}http://169.254.169.254{path}")
}

/// The node's own credential, read in the node.
const OWN: &str = "$(cat /etc/corral/credential)";

fn exec(pool: &Pool, node: &str, command: &str) -> (i32, String, String) {
    pool.exec(node, command)
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Names of the running nodes of `group`.
fn running(pool: &Pool, cluster: &str, group: &str) -> Vec<String> {
    let c = pool.json(&["cluster", "show", cluster]);
    let mut v: Vec<String> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["group"] == group && n["state"] == "running")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn create(pool: &Pool, spec: &str, file: &str) {
    let path = pool.dir().join(file);
    std::fs::write(&path, spec).unwrap();
    let c = pool.json(&["cluster", "create", "-f", path.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
}

#[test]
fn a_node_grows_its_cluster_through_the_node_api() {
    let mut pool = Pool::start();
    create(&pool, LAB, "lab.yaml");

    // The credential is in the node, readable by root only.
    let (code, out, err) = exec(
        &pool,
        "lab/head-0",
        "stat -c '%a %U' /etc/corral/credential; wc -c < /etc/corral/credential",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["600", "root", "64"],
        "{out}"
    );

    // Who am I.
    let (code, out, err) = exec(&pool, "lab/head-0", &call("/v1/self", None, OWN));
    assert_eq!(code, 0, "{out}{err}\n{}", pool.log());
    let me = json_of(&out);
    assert_eq!(
        (me["cluster"].as_str(), me["node"].as_str(), me["group"].as_str()),
        (Some("lab"), Some("head-0"), Some("head"))
    );
    // Its creation time, as the user's API shows it.
    let shown = pool.json(&["node", "show", "lab/head-0"]);
    assert_eq!(me["created_at"], shown["created_at"], "{me}\n{shown}");
    assert!(me["created_at"].as_u64().unwrap() > 1_700_000_000, "{me}");
    let worker = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "worker")
        .unwrap();
    assert_eq!(
        (worker["nodes"].as_u64(), worker["min"].as_u64(), worker["max"].as_u64()),
        (Some(0), Some(0), Some(3))
    );

    // A wrong credential and a size above max are refused, and change nothing.
    let add = r#"{"group":"worker","add":["worker-0","worker-1"]}"#;
    let (code, _, err) = exec(&pool, "lab/head-0", &call("/v1/scale", Some(add), "not-the-credential"));
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    let (code, _, err) = exec(
        &pool,
        "lab/head-0",
        &call("/v1/scale", Some(r#"{"group":"worker","nodes":4}"#), OWN),
    );
    assert_ne!(code, 0);
    assert!(err.contains("400"), "{err}");
    let (code, _, err) = exec(&pool, "lab/head-0", &call("/v1/scale", Some("nodes=4"), OWN));
    assert_ne!(code, 0);
    assert!(err.contains("400"), "a body that is not JSON: {err}");
    assert!(running(&pool, "lab", "worker").is_empty());

    // Two workers by name, as Slurm's ResumeProgram asks.
    let asked = Instant::now();
    let (code, out, err) = exec(&pool, "lab/head-0", &call("/v1/scale", Some(add), OWN));
    assert_eq!(code, 0, "{out}{err}\n{}", pool.log());
    let done = json_of(&out);
    assert_eq!(
        (done["from"].as_u64(), done["to"].as_u64()),
        (Some(0), Some(2)),
        "{done}"
    );
    assert!(done["operation"].is_string(), "{done}");
    wait("two running workers", || {
        running(&pool, "lab", "worker") == ["worker-0", "worker-1"]
    });
    eprintln!("node API request to two workers running: {:?}", asked.elapsed());

    // Every node has its own listener: a worker is answered as itself.
    let (code, out, err) = exec(&pool, "lab/worker-1", &call("/v1/self", None, OWN));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json_of(&out)["node"], "worker-1");

    // Audited as the node's request.
    let events = pool.ok(&["cluster", "events", "lab"]);
    assert!(events.contains("node:head-0"), "{events}");
    assert!(
        events.contains("scaled worker 0→2: requested by node head-0"),
        "{events}"
    );

    // Another cluster's node cannot use lab's credential: its listener acts for its
    // own cluster only.
    create(&pool, &LAB.replace("name: lab", "name: other"), "other.yaml");
    let (_, lab_cred, _) = exec(&pool, "lab/head-0", "cat /etc/corral/credential");
    assert_eq!(lab_cred.len(), 64);
    let (code, _, err) = exec(
        &pool,
        "other/head-0",
        &call("/v1/scale", Some(r#"{"group":"worker","nodes":3}"#), &lab_cred),
    );
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    assert_eq!(running(&pool, "lab", "worker"), ["worker-0", "worker-1"]);
    assert!(running(&pool, "other", "worker").is_empty());

    // A rotation: the old credential is refused at once, and the running nodes get
    // the new one (root's alone, as before).
    pool.ok(&["cluster", "rotate-credential", "lab"]);
    let (code, _, err) = exec(&pool, "lab/head-0", &call("/v1/self", None, &lab_cred));
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    let read = |node: &str| {
        exec(
            &pool,
            node,
            "stat -c '%a %U' /etc/corral/credential; cat /etc/corral/credential",
        )
        .1
    };
    wait("the new credential in every node of lab", || {
        let seen: Vec<String> = ["lab/head-0", "lab/worker-0", "lab/worker-1"].map(read).into();
        seen.iter()
            .all(|s| s.starts_with("600 root\n") && s.len() == 9 + 64 && !s.contains(&lab_cred))
            && seen.windows(2).all(|w| w[0] == w[1])
    });
    let (code, out, err) = exec(&pool, "lab/head-0", &call("/v1/self", None, OWN));
    assert_eq!(code, 0, "{out}{err}");

    // After a crash of `corral up` the agent serves the node API again.
    pool.restart();
    let mut answer = (1, String::new(), String::new());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        answer = exec(
            &pool,
            "lab/head-0",
            &call("/v1/scale", Some(r#"{"group":"worker","change":-1}"#), OWN),
        );
        if answer.0 == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(answer.0, 0, "{answer:?}\n{}", pool.log());
    assert_eq!(json_of(&answer.1)["removed"], serde_json::json!(["worker-1"]));
    wait("one worker", || running(&pool, "lab", "worker") == ["worker-0"]);
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_node_on_a_remote_host_scales_over_mutual_tls() {
    let mut lan = Lan::start();
    let t = lan.token();
    lan.add_host(&t, "");
    lan.wait_ready_hosts(1);
    let spec = lan.tmp.path().join("lab.yaml");
    std::fs::write(&spec, LAB).unwrap();
    let c = lan.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");

    let sh = |cmd: &str| lan.cli(&["exec", "lab/head-0", "--", "sh", "-c", cmd]);
    let out = sh(&call("/v1/scale", Some(r#"{"group":"worker","nodes":1}"#), OWN));
    let done = serde_json::from_str::<serde_json::Value>(ok(&out, "scale from the node").trim()).unwrap();
    assert_eq!(
        (done["from"].as_u64(), done["to"].as_u64()),
        (Some(0), Some(1)),
        "{done}"
    );
    let out = sh(&call("/v1/scale", Some(r#"{"group":"worker","nodes":1}"#), "wrong"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{out:?}");
    wait("a running worker", || {
        let c = lan.json(&["cluster", "show", "lab"]);
        c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "worker-0" && n["state"] == "running")
    });
}
