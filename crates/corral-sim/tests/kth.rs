//! The real KTH SP2 trace, coarsely: the first jobs, the default policy only. Checks
//! what a reader of the tables would: every job finished, no policy draws more than
//! always on, waits are sane. The full run is `bench/sim.sh` (release).

use std::path::PathBuf;

use corral_sim::experiment::Policy;
use corral_sim::SimArgs;

fn trace() -> Option<PathBuf> {
    // ../shared/data beside the repository root.
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/traces/KTH-SP2-1996-2.swf");
    p.exists().then_some(p)
}

fn args(trace: PathBuf, jobs: usize) -> SimArgs {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }
    let mut a = Cli::parse_from(["sim"]).sim;
    a.trace = trace;
    a.jobs = jobs;
    a
}

#[test]
fn kth_trace_replays_sanely() {
    let Some(trace) = trace() else {
        eprintln!("skipped: ../shared/data/traces/KTH-SP2-1996-2.swf not found");
        return;
    };
    let jobs = std::env::var("CORRAL_SIM_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(3000);
    let setup = args(trace, jobs).setup().unwrap();
    assert!(setup.trace.dropped > 0, "the trace has jobs without run time");
    let policies = Policy::table();
    let q = setup.question1(&policies[..1]);
    let on = &q.always_on;
    let corral = &q.policies[0];
    eprintln!("{}", corral_sim::report::question1(&q));
    assert_eq!(on.unfinished, 0);
    assert_eq!(corral.unfinished, 0);
    assert!(q.ideal.kwh < on.kwh, "ideal {} vs always on {}", q.ideal.kwh, on.kwh);
    assert!(corral.kwh <= on.kwh, "policy {} vs always on {}", corral.kwh, on.kwh);
    assert!(
        corral.kwh >= q.ideal.kwh * 0.99,
        "nothing beats the ideal: {} vs {}",
        corral.kwh,
        q.ideal.kwh
    );
    assert!(on.mean_wait.unwrap() >= 0.0 && corral.mean_wait.unwrap() >= on.mean_wait.unwrap() * 0.9);
    assert!(corral.host_hours < on.host_hours);
    assert!(
        !q.reasons.is_empty() && q.reasons[0].starts_with("scaled worker"),
        "{:?}",
        q.reasons
    );
}
