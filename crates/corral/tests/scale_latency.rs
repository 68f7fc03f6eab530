//! Benchmark (run by bench/scale_up.sh; ignored in the test run): time from a request
//! to grow a cluster to the new node running and answering its peers, measured from
//! inside the cluster by a node that asks through the node API, against the same
//! growth asked by a user through the REST API (`corral cluster scale`).

mod common;

use common::Pool;

const ROUNDS: usize = 10;

/// Seconds from `/proc/uptime` in the node before and after: the request, then pings
/// by name until the new node answers. A name not yet in /etc/hosts would go to the
/// resolver and wait out its timeout, so the loop looks there first.
fn inside(pool: &Pool, group: &str, node: &str) -> f64 {
    let script = format!(
        "read t0 _ < /proc/uptime; \
         wget -qO- --header \"Authorization: Bearer $(cat /etc/corral/credential)\" \
           --post-data '{{\"group\":\"{group}\",\"add\":[\"{node}\"]}}' http://169.254.169.254/v1/scale >/dev/null || exit 9; \
         until grep -qw {node} /etc/hosts && ping -c1 -W1 {node} >/dev/null 2>&1; do :; done; \
         read t1 _ < /proc/uptime; echo \"$t0 $t1\""
    );
    let (code, out, err) = pool.exec("lat/head-0", &script);
    assert_eq!(code, 0, "{out}{err}");
    let t: Vec<f64> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
    t[1] - t[0]
}

/// Seconds for `corral cluster scale` (which waits for the operation) plus the first
/// ping by name from head-0 that the new node answers.
fn outside(pool: &Pool, nodes: u32, node: &str) -> f64 {
    let start = std::time::Instant::now();
    pool.ok(&[
        "cluster",
        "scale",
        "lat",
        "--group",
        "user",
        "--nodes",
        &nodes.to_string(),
    ]);
    let (code, out, err) = pool.exec(
        "lat/head-0",
        &format!("until ping -c1 -W1 {node} >/dev/null 2>&1; do :; done"),
    );
    assert_eq!(code, 0, "{out}{err}");
    start.elapsed().as_secs_f64()
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = v[v.len() / 2];
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    println!(
        "scale-up {name}: median {median:.2} s, p90 {p90:.2} s, max {:.2} s over {} rounds",
        v[v.len() - 1],
        v.len()
    );
}

#[test]
#[ignore = "benchmark: bench/scale_up.sh"]
fn bench_scale_up() {
    let pool = Pool::start();
    let spec = pool.dir().join("lat.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: lat\nimage: minimal\nresources: {{cpu: \"0.1\", memory: 64MiB}}\nnode_groups:\n\
             - {{name: head, count: 1}}\n\
             - {{name: worker, count: 0, elastic: {{min: 0, max: {ROUNDS}, cooldown: 0}}}}\n\
             - {{name: user, count: 0}}\n"
        ),
    )
    .unwrap();
    pool.ok(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    let mut asked_inside = Vec::new();
    let mut asked_outside = Vec::new();
    for i in 0..ROUNDS {
        asked_inside.push(inside(&pool, "worker", &format!("worker-{i}")));
        asked_outside.push(outside(&pool, i as u32 + 1, &format!("user-{i}")));
    }
    summary("requested from inside (node API)", asked_inside);
    summary("requested by a user (corral cluster scale, baseline)", asked_outside);
    pool.ok(&["cluster", "delete", "lat"]);
}
