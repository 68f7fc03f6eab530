//! Root integration tests of users: isolation between tenants, roles, passwords,
//! token expiry and quotas, through the real CLI (and the REST API where the CLI
//! has no verb).

mod common;

use std::process::Command;

use common::Pool;

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn users_see_and_touch_only_their_own_clusters() {
    let pool = Pool::start();
    let alice = pool.new_user("alice", "alice-password");
    let bob = pool.new_user("bob", "bob-password");
    let small = ["--nodes", "1", "--cpu", "0.2", "--memory", "32MiB"];
    let create = |who: &common::UserCli, name: &str| {
        let mut a = vec!["cluster", "create", name, "--image", "minimal"];
        a.extend(small);
        who.json(&a)
    };
    assert_eq!(create(&alice, "a")["owner"], "alice");
    assert_eq!(create(&bob, "b")["owner"], "bob");

    // bob gets not_found for every verb on alice's cluster, as if it did not exist.
    let cases: &[&[&str]] = &[
        &["cluster", "show", "a"],
        &["node", "list", "a"],
        &["node", "show", "a/node-0"],
        &["exec", "a/node-0", "--", "hostname"],
        &["cluster", "scale", "a", "--nodes", "2"],
        &["cluster", "stop", "a"],
        &["cluster", "delete", "a"],
        &["node", "save", "a/node-0", "--as", "stolen"],
        &["cluster", "events", "a"],
    ];
    for args in cases {
        let err = bob.fails(args);
        assert!(err.contains("not_found"), "bob {args:?}: {err}");
    }
    // The same over HTTP: 404 with the stable code.
    let (status, body) = pool.http("GET", "/v1/clusters/a", Some(&bob.token()), None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not_found"), "{body}");
    let (status, body) = pool.http("GET", "/v1/clusters/a?owner=alice", Some(&bob.token()), None);
    assert_eq!(status, 404, "naming the owner does not help: {body}");

    // Lists show only one's own clusters; the admin sees both.
    assert_eq!(names(&bob.json(&["cluster", "list"])), ["b"]);
    assert_eq!(names(&alice.json(&["cluster", "list"])), ["a"]);
    let mut all = names(&pool.json(&["cluster", "list"]));
    all.sort();
    assert_eq!(all, ["a", "b"]);

    // alice's cluster is untouched by bob's attempts.
    let a = alice.json(&["cluster", "show", "a"]);
    assert_eq!(a["state"], "running", "{a}");
    assert_eq!(a["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(alice.exec("a/node-0", "hostname").1.trim(), "node-0");

    // Both may use the same cluster name: names are per user.
    let again = create(&bob, "a");
    assert_eq!(again["owner"], "bob");
    assert_ne!(again["network"]["subnet"], a["network"]["subnet"]);
    bob.ok(&["cluster", "delete", "a"]);
    assert_eq!(alice.json(&["cluster", "show", "a"])["state"], "running");

    // A user list of a non-admin shows only themselves; creating users is refused.
    assert_eq!(names(&bob.json(&["user", "list"])), ["bob"]);
    let mut c = bob.cmd(&["user", "create", "mallory", "--password-stdin"]);
    c.stdin(std::process::Stdio::piped());
    let out = common_stdin(c, "mallory-password\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("forbidden"), "{err}");
    let (status, body) = pool.http(
        "POST",
        "/v1/users",
        Some(&bob.token()),
        Some(r#"{"name":"mallory","password":"mallory-password"}"#),
    );
    assert_eq!(status, 403, "{body}");
    assert!(pool.try_login("mallory", "mallory-password").status.code() != Some(0));
    // bob cannot add a key to alice either.
    let key = pool.dir().join("k.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ x@y\n",
    )
    .unwrap();
    assert!(bob
        .fails(&["user", "add-key", "alice", "--key-file", key.to_str().unwrap()])
        .contains("not_found"));

    alice.ok(&["cluster", "delete", "a"]);
    bob.ok(&["cluster", "delete", "b"]);
}

fn common_stdin(mut c: Command, input: &str) -> std::process::Output {
    use std::io::Write;
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn wrong_password_and_expired_token_are_unauthorized() {
    let pool = Pool::start();
    let _bob = pool.new_user("bob", "bob-password");
    let out = pool.try_login("bob", "not-his-password");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized"), "{err}");
    let out = pool.try_login("nobody", "whatever-password");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));

    // A token asked for with a short lifetime works, then expires.
    let (status, body) = pool.http(
        "POST",
        "/v1/login",
        None,
        Some(r#"{"name":"bob","password":"bob-password","ttl_seconds":2}"#),
    );
    assert_eq!(status, 200, "{body}");
    let t: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = t["token"].as_str().unwrap().to_string();
    let whoami = |token: &str| {
        pool.cmd(&["whoami", "-o", "json"])
            .env("CORRAL_TOKEN", token)
            .output()
            .unwrap()
    };
    let out = whoami(&token);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"bob\""));
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let out = whoami(&token);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized"), "{err}");
    assert!(
        err.contains("expired") && err.contains("corral login"),
        "the message says to log in again: {err}"
    );
    // Over HTTP: 401.
    let (status, _) = pool.http("GET", "/v1/whoami", Some(&token), None);
    assert_eq!(status, 401);
    // A made-up token and no token at all are unauthorized too.
    let out = whoami("crl_0000");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    let (status, body) = pool.http("GET", "/v1/clusters", None, None);
    assert_eq!(status, 401, "{body}");
}

#[test]
fn non_admin_over_quota_is_refused() {
    let pool = Pool::start();
    let bob = pool.new_user("bob", "bob-password");
    // 16MiB and 10m cpu per node: 65 nodes fit the pool (1 GiB, 0.65 cpu) but not
    // the quota of 64 nodes.
    let err = bob.fails(&[
        "cluster", "create", "big", "--image", "minimal", "--nodes", "65", "--cpu", "10m", "--memory", "16MiB",
    ]);
    assert!(err.contains("quota_exceeded"), "{err}");
    // What is in use counts: with one node running, 64 more are over the quota.
    bob.ok(&[
        "cluster", "create", "one", "--image", "minimal", "--nodes", "1", "--cpu", "10m", "--memory", "16MiB",
    ]);
    let err = bob.fails(&[
        "cluster", "create", "big", "--image", "minimal", "--nodes", "64", "--cpu", "10m", "--memory", "16MiB",
    ]);
    assert!(err.contains("quota_exceeded"), "{err}");
    let err = bob.fails(&["cluster", "scale", "one", "--nodes", "65"]);
    assert!(err.contains("quota_exceeded"), "{err}");
    // Nothing was made by the refused requests.
    assert_eq!(names(&bob.json(&["cluster", "list"])), ["one"]);
    assert_eq!(bob.json(&["node", "list", "one"]).as_array().unwrap().len(), 1);
    // The admin has no quota: the same request is judged on capacity only.
    let err = pool.fails(&[
        "cluster", "create", "big", "--image", "minimal", "--nodes", "65", "--cpu", "1", "--memory", "16MiB",
    ]);
    assert!(err.contains("insufficient_capacity"), "{err}");
    bob.ok(&["cluster", "delete", "one"]);
}
