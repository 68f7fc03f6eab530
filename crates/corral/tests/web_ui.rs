//! The web UI end to end in a real headless Chromium (Debian's, driven by
//! playwright-core; web/e2e/ui.mjs holds the browser steps) against a real
//! `corral up`: log in, see the slurm recipe offered and the slurm template fill the
//! create form, create a 2-node cluster whose group is elastic (checked before submit)
//! through the form, see its bounds and trigger, open a node's terminal, be refused a
//! size outside the bounds, scale within them and see who did, delete; another user
//! cannot see the cluster. Screenshots of the main pages land in
//! target/e2e-screenshots/; any browser console error fails.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Pool;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The whole browser scenario takes about a minute; past this it is stuck.
const DEADLINE: Duration = Duration::from_secs(240);

fn web() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Fails (never skips) with what to run when a tool the test needs is missing.
fn check_tools() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/test-deps.sh (the dependency step of scripts/test.sh)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is missing: install Node.js 20.19+ (see scripts/web.sh), then run scripts/test.sh"
    );
    assert!(
        web().join("node_modules/playwright-core").exists(),
        "web/node_modules is missing: run scripts/web.sh (scripts/test.sh does)"
    );
}

fn login(pool: &Pool, name: &str, password: &str) -> String {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let (code, text) = pool.http("POST", "/v1/login", None, Some(&body));
    assert_eq!(code, 200, "login {name}: {text}");
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn create_user(pool: &Pool, admin: &str, name: &str, password: &str) {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let (code, text) = pool.http("POST", "/v1/users", Some(admin), Some(&body));
    assert_eq!(code, 201, "create user {name}: {text}");
}

#[test]
fn web_ui_end_to_end_in_chromium() {
    check_tools();
    let pool = Pool::start();
    let (code, index) = pool.http("GET", "/", None, None);
    assert_eq!(code, 200);
    assert!(
        index.contains("id=\"app\""),
        "this corral binary was built without the web UI: run scripts/web.sh, then rebuild\n{index}"
    );

    let admin_password = pool.admin_password();
    let admin = login(&pool, "admin", &admin_password);
    let (user, other, password) = ("alice", "bob", "correct-horse-1");
    create_user(&pool, &admin, user, password);
    create_user(&pool, &admin, other, password);

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = pool.in_netns("node");
    cmd.arg(web().join("e2e/ui.mjs"))
        .current_dir(web())
        .env("CORRAL_URL", "http://127.0.0.1:7700")
        .env("ADMIN_PASSWORD", &admin_password)
        .env("USER_NAME", user)
        .env("USER_PASSWORD", password)
        .env("OTHER_NAME", other)
        .env("OTHER_PASSWORD", password)
        .env("CLUSTER", "webdemo")
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a stuck run is ended with its browser.
        .process_group(0);
    let mut child = cmd.spawn().expect("start node");
    // Drained as it runs, so a chatty failure cannot fill a pipe and stall it.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let stdout = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let stderr = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > DEADLINE {
            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap());
    println!("{log}");
    let status = status.unwrap_or_else(|| panic!("the browser test took over {DEADLINE:?}:\n{log}"));
    assert!(
        status.success(),
        "the browser test failed (screenshots in {}):\n{log}\nserver log:\n{}",
        shots.display(),
        pool.log()
    );
    for page in [
        "01-admin-dashboard",
        "03b-admin-build-slurm",
        "04a-create-from-slurm-template",
        "05-cluster-detail",
        "06-terminal",
        "07a-scale-outside-bounds",
        "07-cluster-scaled",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "no screenshot {page}");
    }
}
