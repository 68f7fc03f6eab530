//! Root integration test of the `slurm` image and template: `corral image build slurm`
//! (debootstrap plus apt-get, minutes, through common/mirror_proxy.rs), then
//! - a cluster with a head and two always-up workers (`srun -N2` runs an MPI program
//!   across both);
//! - the `slurm` template as shipped: no worker runs until a job needs two; Slurm's
//!   ResumeProgram asks Corral through the node API to create worker-0 and worker-1,
//!   the job runs across both and prints the right sum, and once the workers have been
//!   idle for SuspendTime the SuspendProgram has Corral remove them again.

mod common;

use std::time::{Duration, Instant};

use common::mirror_proxy::pool_with_mirror;
use common::Pool;

/// An MPI program (mpi4py, so no compiler in the nodes): every rank adds rank + 1, and
/// rank 0 prints the total with the hosts that took part.
const MPI_SUM: &str = "from mpi4py import MPI; c = MPI.COMM_WORLD; \
    total = c.allreduce(c.rank + 1); hosts = c.gather(MPI.Get_processor_name()); \
    c.rank == 0 and print('sum', total, 'size', c.size, 'hosts', ','.join(sorted(hosts)))";

/// What `MPI_SUM` prints on two ranks, one on each worker.
const MPI_SUM_TWO_WORKERS: &str = "sum 3 size 2 hosts worker-0,worker-1";

/// Seconds an idle worker lasts before Slurm suspends it, in this test.
const SUSPEND_TIME: u64 = 10;

/// The shipped template with its worker group made always-up (two plain workers).
fn static_spec() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/slurm.yaml")).unwrap();
    let elastic = "    count: 0\n    elastic:\n      min: 0\n      max: 4\n";
    assert!(
        text.contains(elastic),
        "the template's worker group changed; adjust this test"
    );
    text.replace(elastic, "    count: 2\n")
}

/// The `srun` command line of the test job.
fn srun_mpi_sum() -> String {
    format!("srun -N2 -n2 --mpi=pmix python3 -c \"{MPI_SUM}\"")
}

/// Runs `command` in `node` until it succeeds or `timeout` passes; returns its output.
fn wait_in_node(pool: &Pool, node: &str, command: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let (code, out, _) = pool.exec(node, command);
        if code == 0 {
            return Some(out);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Slurm logs of the head and of the cluster's workers, for failure messages.
fn slurm_logs(pool: &Pool, head: &str) -> String {
    let (_, out, err) = pool.exec(
        head,
        "cat /var/log/corral/*.log; sinfo; squeue; tail -n 30 /var/log/slurm/slurmctld.log; \
         cat /var/log/slurm/power.log; cat /tmp/job.out",
    );
    let mut logs = format!("--- {head}\n{out}{err}");
    let cluster = head.split('/').next().unwrap();
    for (worker, state) in group_nodes(pool, cluster, "worker") {
        let (_, out, err) = pool.exec(
            &format!("{cluster}/{worker}"),
            "cat /var/log/corral/on-create.log; tail -n 20 /var/log/slurm/slurmd.log",
        );
        logs.push_str(&format!("--- {worker} ({state})\n{out}{err}"));
    }
    logs
}

/// Names of a group's nodes in `corral cluster show`, with their states.
fn group_nodes(pool: &Pool, cluster: &str, group: &str) -> Vec<(String, String)> {
    let c = pool.json(&["cluster", "show", cluster]);
    let mut nodes: Vec<(String, String)> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["group"] == group)
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    nodes.sort();
    nodes
}

#[test]
#[ignore = "in progress: not yet passing reliably; run with --ignored"]
fn slurm_runs_mpi_across_workers_that_corral_starts_and_stops_for_it() {
    let (pool, _proxy) = pool_with_mirror();

    let started = Instant::now();
    let img = pool.json(&["image", "build", "slurm"]);
    eprintln!(
        "slurm image built in {:.0?}, {} bytes",
        started.elapsed(),
        img["size_bytes"]
    );
    assert_eq!(img["name"], "slurm", "{img}");

    // Always-up workers: slurmd registers at start and srun runs at once.
    let spec = pool.dir().join("static.yaml");
    std::fs::write(&spec, static_spec()).unwrap();
    let c = pool.json(&["cluster", "create", "st", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let ready = wait_in_node(
        &pool,
        "st/head-0",
        "test \"$(sinfo -h -o %T -n worker-0,worker-1 | sort -u)\" = idle",
        Duration::from_secs(60),
    );
    assert!(
        ready.is_some(),
        "workers never idle: {}",
        slurm_logs(&pool, "st/head-0")
    );
    let (code, out, err) = pool.exec("st/head-0", &srun_mpi_sum());
    assert_eq!((code, out.trim()), (0, MPI_SUM_TWO_WORKERS), "{err}");
    pool.ok(&["cluster", "delete", "st"]);

    // The template as shipped: elastic workers, none running at first.
    let c = pool.json(&[
        "cluster",
        "create",
        "hpc",
        "--template",
        "slurm",
        "--env",
        &format!("SLURM_SUSPEND_TIME={SUSPEND_TIME}"),
    ]);
    assert_eq!(c["state"], "running", "{c}");
    assert!(group_nodes(&pool, "hpc", "worker").is_empty(), "{c}");
    let head = "hpc/head-0";
    let ready = wait_in_node(&pool, head, "scontrol ping | grep -q UP", Duration::from_secs(30));
    assert!(ready.is_some(), "slurmctld is not up: {}", slurm_logs(&pool, head));
    let (code, out, err) = pool.exec(head, "sinfo -h -o '%T %N'");
    assert_eq!((code, out.trim()), (0, "idle~ worker-[0-3]"), "{err}");

    // Queue a job needing two workers; srun waits for them and prints to a file.
    let queued = Instant::now();
    let (code, _, err) = pool.exec(
        head,
        &format!(
            "setsid sh -c '{} >/tmp/job.out 2>&1; echo $? >/tmp/job.rc' </dev/null >/dev/null 2>&1 &",
            srun_mpi_sum().replace('\'', "'\\''")
        ),
    );
    assert_eq!(code, 0, "{err}");
    // Corral creates worker-0 and worker-1 because Slurm's ResumeProgram asked.
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = loop {
        let workers = group_nodes(&pool, "hpc", "worker");
        if workers.len() == 2 && workers.iter().all(|(_, s)| s == "running") {
            break queued.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "workers not running: {workers:?}\n{}",
            slurm_logs(&pool, head)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<String> = group_nodes(&pool, "hpc", "worker").into_iter().map(|n| n.0).collect();
    assert_eq!(names, ["worker-0", "worker-1"]);
    let out = wait_in_node(
        &pool,
        head,
        "cat /tmp/job.rc && cat /tmp/job.out",
        Duration::from_secs(120),
    );
    let job_done = queued.elapsed();
    let out = out.unwrap_or_else(|| panic!("the job did not end: {}", slurm_logs(&pool, head)));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}\n{}", slurm_logs(&pool, head));
    assert!(out.contains(MPI_SUM_TWO_WORKERS), "{out}");
    eprintln!("queued job → both workers running in Corral: {running:.1?}; job done: {job_done:.1?}");

    // The scale-out was Slurm's own request, audited as the head's.
    let events = pool.json(&["cluster", "events", "hpc"]);
    let scaled: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "cluster.scaled")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        scaled
            .iter()
            .any(|m| m.contains("0→2") && m.ends_with("requested by node head-0")),
        "{scaled:?}"
    );

    // Idle for SuspendTime: Slurm's SuspendProgram has Corral remove both workers.
    let idle = Instant::now();
    let deadline = idle + Duration::from_secs(SUSPEND_TIME + 60);
    while !group_nodes(&pool, "hpc", "worker").is_empty() {
        assert!(
            Instant::now() < deadline,
            "workers not removed: {:?}\n{}",
            group_nodes(&pool, "hpc", "worker"),
            slurm_logs(&pool, head)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "workers removed {:.0?} after the job ended (SuspendTime {SUSPEND_TIME} s)",
        idle.elapsed()
    );
    let c = pool.json(&["cluster", "show", "hpc"]);
    assert_eq!(c["state"], "running", "{c}");
    pool.ok(&["cluster", "delete", "hpc"]);
}
