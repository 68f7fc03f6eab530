//! Root integration tests of exec and save for nodes on remote hosts: the server
//! reaches each agent's own listener over mutual TLS, and only the server may.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::lan::Lan;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A LAN with two ready hosts (h11 site=a, h12 site=b).
fn two_hosts() -> Lan {
    let mut lan = Lan::start();
    for site in ["site=a", "site=b"] {
        let t = lan.token();
        lan.add_host(&t, site);
    }
    lan.wait_ready_hosts(2);
    lan
}

/// Runs `corral exec` with `input` piped to its stdin.
fn exec_with_input(lan: &Lan, args: &[&str], input: &[u8]) -> Output {
    let mut c = lan.cmd(args);
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn exec_and_save_work_for_nodes_on_remote_hosts() {
    let lan = two_hosts();
    let c = lan.json(&[
        "cluster", "create", "wide", "--image", "minimal", "--nodes", "2", "--cpu", "0.1", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let on: Vec<String> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(on[0], on[1], "nodes should spread: {c}");

    // To completion (POST exec), on each host.
    for node in ["node-0", "node-1"] {
        let out = lan.cli(&["exec", &format!("wide/{node}"), "--", "hostname"]);
        assert_eq!(ok(&out, "exec hostname").trim(), node);
    }
    let out = lan.cli(&["exec", "wide/node-0", "--", "ping", "-c1", "-W2", "node-1"]);
    ok(&out, "ping node-1 from node-0 through the API");
    let out = lan.cli(&[
        "exec",
        "wide/node-1",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "the exit code comes back");
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");

    // Over the websocket, with stdin.
    let input = b"line one\nline two\n".repeat(500);
    let out = exec_with_input(&lan, &["exec", "-i", "wide/node-1", "--", "cat"], &input);
    assert_eq!(
        ok(&out, "exec -i cat").as_bytes(),
        &input[..],
        "cat gives back what it was fed"
    );
    let out = exec_with_input(
        &lan,
        &["exec", "-i", "wide/node-0", "--", "sh", "-c", "read x; exit $x"],
        b"7\n",
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    // On a terminal (the server's side of it: isatty holds, output comes with CRLF).
    let out = lan.cli(&[
        "exec",
        "-t",
        "wide/node-0",
        "--",
        "sh",
        "-c",
        "[ -t 0 ] && [ -t 1 ] && echo terminal",
    ]);
    assert_eq!(ok(&out, "exec -t"), "terminal\r\n");

    // Save node-0 (on one host); a cluster of the saved image spreads over both
    // hosts, so the other host pulls it and both nodes see the file.
    ok(
        &lan.cli(&[
            "exec",
            "wide/node-0",
            "--",
            "sh",
            "-c",
            "mkdir -p /opt/env && echo saved-remotely > /opt/env/README",
        ]),
        "write a file",
    );
    let saved = lan.json(&["node", "save", "wide/node-0", "--as", "snap"]);
    assert_eq!(saved["name"], "snap", "{saved}");
    assert_eq!(saved["source"], "saved", "{saved}");
    let c2 = lan.json(&[
        "cluster", "create", "again", "--image", "snap", "--nodes", "2", "--cpu", "0.1", "--memory", "64MiB",
    ]);
    assert_eq!(c2["state"], "running", "{c2}");
    let on2: Vec<&str> = c2["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap())
        .collect();
    assert_ne!(on2[0], on2[1], "{c2}");
    for node in ["node-0", "node-1"] {
        let out = lan.cli(&["exec", &format!("again/{node}"), "--", "cat", "/opt/env/README"]);
        assert_eq!(ok(&out, "read the saved file"), "saved-remotely\n", "on again/{node}");
    }
    // The server holds the image: the base's layers plus the node's, pulled and
    // verified; what the host placed for wide/node-0 alone is not in it.
    let images = lan.tmp.path().join("server/images");
    let hex = |d: &serde_json::Value| d.as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(images.join("manifests").join(format!("{}.json", hex(&saved["digest"])))).unwrap(),
    )
    .unwrap();
    let top = images
        .join("layers")
        .join(hex(manifest["layers"].as_array().unwrap().last().unwrap()));
    assert_eq!(
        std::fs::read_to_string(top.join("opt/env/README")).unwrap(),
        "saved-remotely\n"
    );
    for rel in [
        "root/.ssh/id_ed25519",
        "root/.ssh/authorized_keys",
        "etc/profile.d/corral.sh",
        "var/lib/corral-node",
    ] {
        assert!(!top.join(rel).exists(), "the saved layer carries the node's {rel}");
    }

    for name in ["again", "wide"] {
        ok(&lan.cli(&["cluster", "delete", name]), "delete");
    }
}

#[test]
fn only_the_server_may_call_an_agent_s_listener() {
    let lan = two_hosts();
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let hosts = lan.json(&["host", "list"]);
    assert!(
        hosts.as_array().unwrap().iter().all(|h| h["state"] == "ready"),
        "{hosts}"
    );
    // curl from host a, with a joined agent's certificate (its own, or b's), to b's
    // listener: the handshake is refused whichever agent's certificate it shows.
    let curl = |cert_of: Option<&common::lan::HostAgent>| -> (Option<i32>, String) {
        let tls = a.data.join("tls");
        let mut c = std::process::Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", a.netns))
            .args([
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
                "--cacert",
            ])
            .arg(tls.join("ca.pem"))
            .args([
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"command":["hostname"]}"#,
            ]);
        if let Some(h) = cert_of {
            let t = h.data.join("tls");
            c.arg("--cert")
                .arg(t.join("agent.pem"))
                .arg("--key")
                .arg(t.join("agent.key"));
        }
        c.arg(format!("https://{}:7702/v1/host/nodes/x/exec", b.address));
        let out = c.output().unwrap();
        (out.status.code(), text(&out.stdout))
    };
    for (who, cert) in [("host a's", Some(a)), ("host b's own", Some(b)), ("no", None)] {
        let (code, http) = curl(cert);
        assert_ne!(code, Some(0), "{who} certificate must not get through: {http}");
        assert_eq!(http, "000", "{who} certificate: no HTTP answer at all");
    }
    // It was b's listener that refused them, in the handshake (not a closed port).
    let refusals = lan
        .log(&b.name)
        .matches("refused a connection to the agent listener")
        .count();
    assert_eq!(refusals, 3, "{}", lan.log(&b.name));
    // The listener itself is up and serves the server: exec through the API works.
    let c = lan.json(&[
        "cluster", "create", "one", "--image", "minimal", "--nodes", "2", "--cpu", "0.1", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    for node in ["node-0", "node-1"] {
        let out = lan.cli(&["exec", &format!("one/{node}"), "--", "hostname"]);
        assert_eq!(ok(&out, "exec").trim(), node);
    }
    ok(&lan.cli(&["cluster", "delete", "one"]), "delete");
}
