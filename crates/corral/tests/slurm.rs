//! Root integration test of the `slurm` image and template: `corral image build slurm`
//! (debootstrap plus apt-get, minutes, through common/mirror_proxy.rs), then
//! - a cluster with a head and two always-up workers (`srun -N2` runs an MPI program
//!   across both);
//! - the `slurm` template as shipped: no worker runs until a job needs two; Slurm's
//!   ResumeProgram asks Corral through the node API to create worker-0 and worker-1,
//!   the job runs across both and prints the right sum, and once the workers have been
//!   idle for SuspendTime the SuspendProgram has Corral remove them again.
//!
//! Both clusters are then stopped and started: the template's start hook brings munge
//! and the Slurm daemons back, and a job runs again.
//!
//! `CORRAL_SLURM_ROUNDS=N` runs the cluster part N times on one image build, to chase
//! a rare failure without paying for the build each time.

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
            "cat /var/log/corral/*.log; cat /etc/hosts; tail -n 30 /var/log/slurm/slurmd.log",
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

    let rounds: u32 = std::env::var("CORRAL_SLURM_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        let began = Instant::now();
        always_up_workers(&pool, &format!("st{round}"));
        workers_on_demand(&pool, &format!("hpc{round}"));
        eprintln!("round {round}: clusters done in {:.0?}", began.elapsed());
    }
}

/// Always-up workers: slurmd registers at start and srun runs at once, also after
/// the cluster was stopped and started.
fn always_up_workers(pool: &Pool, cluster: &str) {
    let spec = pool.dir().join("static.yaml");
    std::fs::write(&spec, static_spec()).unwrap();
    let c = pool.json(&["cluster", "create", cluster, "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let head = format!("{cluster}/head-0");
    for start in ["create", "stop and start"] {
        if start != "create" {
            stop_and_start(pool, cluster);
        }
        let ready = wait_in_node(
            pool,
            &head,
            "test \"$(sinfo -h -o %T -n worker-0,worker-1 | sort -u)\" = idle",
            Duration::from_secs(60),
        );
        assert!(
            ready.is_some(),
            "workers never idle after {start}: {}",
            slurm_logs(pool, &head)
        );
        let (code, out, err) = pool.exec(&head, &srun_mpi_sum());
        assert_eq!(
            (code, out.trim()),
            (0, MPI_SUM_TWO_WORKERS),
            "after {start}: {err}\n{}",
            slurm_logs(pool, &head)
        );
    }
    let ids = pool.node_ids();
    delete_leaving_nothing(pool, cluster, &ids);
}

/// The template as shipped: elastic workers, none running at first; a queued job
/// has Corral start two, they are removed once idle; after a stop and start of the
/// cluster, the next job has them started again.
fn workers_on_demand(pool: &Pool, cluster: &str) {
    let c = pool.json(&[
        "cluster",
        "create",
        cluster,
        "--template",
        "slurm",
        "--env",
        &format!("SLURM_SUSPEND_TIME={SUSPEND_TIME}"),
    ]);
    assert_eq!(c["state"], "running", "{c}");
    assert!(group_nodes(pool, cluster, "worker").is_empty(), "{c}");
    let head = format!("{cluster}/head-0");
    wait_for_slurmctld(pool, &head);
    eprintln!("queued job → {}", queued_job_starts_workers(pool, cluster));

    // The scale-out was Slurm's own request, audited as the head's.
    let events = pool.json(&["cluster", "events", cluster]);
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
    while !group_nodes(pool, cluster, "worker").is_empty() {
        assert!(
            Instant::now() < deadline,
            "workers not removed: {:?}\n{}",
            group_nodes(pool, cluster, "worker"),
            slurm_logs(pool, &head)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "workers removed {:.0?} after the job ended (SuspendTime {SUSPEND_TIME} s)",
        idle.elapsed()
    );
    let c = pool.json(&["cluster", "show", cluster]);
    assert_eq!(c["state"], "running", "{c}");

    // slurmctld comes back with the cluster and still knows its workers are powered
    // down: the next job has Corral start them again.
    stop_and_start(pool, cluster);
    wait_for_slurmctld(pool, &head);
    eprintln!(
        "after stop and start, queued job → {}",
        queued_job_starts_workers(pool, cluster)
    );
    let ids = pool.node_ids();
    delete_leaving_nothing(pool, cluster, &ids);
}

/// Times from queueing a job to a cloud worker's milestones.
struct Times {
    /// Both workers running in Corral.
    running: Duration,
    /// Both registered with slurmctld: accepting work.
    registered: Duration,
    /// The job running on them, as squeue shows it.
    started: Duration,
    /// The job ended.
    done: Duration,
}

impl std::fmt::Display for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "both workers running in Corral: {:.2?}; registered in Slurm (accepting work): {:.2?}; \
             the job running: {:.2?}; job done: {:.2?}",
            self.running, self.registered, self.started, self.done
        )
    }
}

/// Deletes `cluster`, whose nodes' runtime ids are `ids`, and checks that nothing of
/// them is left on the machine (the Slurm daemons ran in their cgroups).
fn delete_leaving_nothing(pool: &Pool, cluster: &str, ids: &[String]) {
    assert!(!ids.is_empty());
    pool.ok(&["cluster", "delete", cluster]);
    let left = pool.leftovers(ids, &[]);
    assert!(left.is_empty(), "{cluster} left behind: {left:#?}");
}

/// `corral cluster stop` then `start`; both wait for the cluster's state.
fn stop_and_start(pool: &Pool, cluster: &str) {
    let c = pool.json(&["cluster", "stop", cluster]);
    assert_eq!(c["state"], "stopped", "{c}");
    let c = pool.json(&["cluster", "start", cluster]);
    assert_eq!(c["state"], "running", "{c}");
}

/// Waits for slurmctld in `head` to answer, with every worker powered down (a worker
/// suspended just before a stop is still powering down for SuspendTimeout after).
fn wait_for_slurmctld(pool: &Pool, head: &str) {
    let ready = wait_in_node(pool, head, "scontrol ping | grep -q UP", Duration::from_secs(30));
    assert!(ready.is_some(), "slurmctld is not up: {}", slurm_logs(pool, head));
    let powered_down = wait_in_node(
        pool,
        head,
        "test \"$(sinfo -h -o '%T %N')\" = 'idle~ worker-[0-3]'",
        Duration::from_secs(60),
    );
    assert!(
        powered_down.is_some(),
        "workers not powered down: {}",
        slurm_logs(pool, head)
    );
}

/// Queues a job needing two workers in a cluster that has none running: Corral
/// creates worker-0 and worker-1 because Slurm's ResumeProgram asked, and the job
/// runs across both. Returns the times from queueing.
fn queued_job_starts_workers(pool: &Pool, cluster: &str) -> Times {
    let head = format!("{cluster}/head-0");
    // srun waits for the workers and prints to a file.
    let queued = Instant::now();
    let (code, _, err) = pool.exec(
        &head,
        &format!(
            "rm -f /tmp/job.out /tmp/job.rc; \
             setsid sh -c '{} >/tmp/job.out 2>&1; echo $? >/tmp/job.rc' </dev/null >/dev/null 2>&1 &",
            srun_mpi_sum().replace('\'', "'\\''")
        ),
    );
    assert_eq!(code, 0, "{err}");
    // Both workers running in Corral, registered in Slurm (accepting work: no longer
    // powering up, `#` in sinfo's short state), and the job running on them (it is
    // CONFIGURING until srun, which polls, sees its nodes ready).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut running, mut registered, mut started) = (None, None, None);
    let times = loop {
        if running.is_none() {
            let workers = group_nodes(pool, cluster, "worker");
            if workers.len() == 2 && workers.iter().all(|(_, s)| s == "running") {
                running = Some(queued.elapsed());
            }
        }
        if registered.is_none() || started.is_none() {
            let (_, out, _) = pool.exec(
                &head,
                "sinfo -h -N -n worker-0,worker-1 -o %t; echo job $(squeue -h -o %T); \
                 test -e /tmp/job.rc && echo ENDED",
            );
            let ended = out.contains("ENDED");
            let states: Vec<&str> = out.lines().filter(|l| !l.starts_with("job") && *l != "ENDED").collect();
            let up = states.len() == 2
                && states
                    .iter()
                    .all(|s| ["alloc", "mix", "comp", "idle"].contains(&s.trim()));
            if registered.is_none() && (up || ended) {
                registered = Some(queued.elapsed());
            }
            if started.is_none() && (ended || out.contains("RUNNING") || out.contains("COMPLETING")) {
                started = Some(queued.elapsed());
            }
        }
        if let (Some(r), Some(g), Some(s)) = (running, registered, started) {
            break Times {
                running: r,
                registered: g,
                started: s,
                done: Duration::ZERO,
            };
        }
        assert!(
            Instant::now() < deadline,
            "workers not running ({running:?}), registered ({registered:?}) or the job not started \
             ({started:?}): {:?}\n{}",
            group_nodes(pool, cluster, "worker"),
            slurm_logs(pool, &head)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let names: Vec<String> = group_nodes(pool, cluster, "worker").into_iter().map(|n| n.0).collect();
    assert_eq!(names, ["worker-0", "worker-1"]);
    let out = wait_in_node(
        pool,
        &head,
        "cat /tmp/job.rc && cat /tmp/job.out",
        Duration::from_secs(120),
    );
    let job_done = queued.elapsed();
    let out = out.unwrap_or_else(|| panic!("the job did not end: {}", slurm_logs(pool, &head)));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}\n{}", slurm_logs(pool, &head));
    assert!(out.contains(MPI_SUM_TWO_WORKERS), "{out}");
    Times {
        done: job_done,
        ..times
    }
}
