use chrono::Weekday::*;
use corral_api::{ElasticSpec, MetricsTrigger, ScheduleRuleSpec, ScheduleSpec};

use super::*;

// Written in the formats of Slurm 22.05 (Debian bookworm's slurm-wlm) for a head node
// with two partitions, `worker-1` in both; not captured from a live cluster.
const SQUEUE: &str = "2 Resources\n1 Priority\n4 Dependency\n3 JobHeldUser\n1-4 Resources\n1 (ReqNodeNotAvail,_UnavailableNodes:worker-[3-4])\n";
const SINFO: &str = "head-0 idle\nworker-0 allocated\nworker-1 mixed\nworker-1 idle\nworker-2 idle~\nworker-3 down*\nworker-4 completing\nworker-5 drained\nworker-6 draining\nworker-7 idle#\n";

#[test]
fn squeue_counts_nodes_of_jobs_that_more_nodes_would_start() {
    let jobs: Vec<u32> = parse_squeue(SQUEUE).iter().map(|j| j.nodes).collect();
    assert_eq!(jobs, [2, 1, 1, 1]);
    assert!(parse_squeue("").is_empty());
    assert!(parse_squeue("garbage\n").is_empty());
}

#[test]
fn sinfo_busy_and_idle_nodes() {
    let nodes = parse_sinfo(SINFO);
    let busy: Vec<&str> = nodes
        .iter()
        .filter(|(_, a)| **a == Activity::Busy)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(busy, ["worker-0", "worker-1", "worker-4", "worker-6"]);
    for idle in ["head-0", "worker-2", "worker-3", "worker-5", "worker-7"] {
        assert_eq!(nodes[idle], Activity::Idle, "{idle}");
    }
    // The long form of states.
    let long = parse_sinfo("w-0 IDLE+CLOUD+POWERED_DOWN\nw-1 MIXED+CLOUD\n");
    assert_eq!((long["w-0"], long["w-1"]), (Activity::Idle, Activity::Busy));
}

#[test]
fn days_and_times_parse() {
    assert_eq!(parse_days("mon-fri").unwrap(), [Mon, Tue, Wed, Thu, Fri]);
    assert_eq!(parse_days("Sat,sun").unwrap(), [Sat, Sun]);
    assert_eq!(parse_days("fri-mon").unwrap(), [Fri, Sat, Sun, Mon]);
    assert_eq!(parse_days("monday,wed-thu").unwrap(), [Mon, Wed, Thu]);
    assert_eq!(parse_days("daily").unwrap().len(), 7);
    assert!(parse_days("funday").unwrap_err().contains("not a day"));
    assert!(parse_days("").is_err());
    assert_eq!(parse_time("08:00", false), Ok(480));
    assert_eq!(parse_time("24:00", true), Ok(1440));
    assert!(parse_time("24:00", false).is_err());
    assert!(parse_time("8", false).is_err());
    assert!(parse_time("12:60", false).is_err());
}

fn spec() -> ElasticSpec {
    ElasticSpec::bounds(1, 4)
}

fn metrics(out: Option<u32>, inn: Option<u32>) -> MetricsTrigger {
    MetricsTrigger {
        window: 60,
        scale_out_above: out,
        scale_in_below: inn,
        scale_out: Adjustment::ChangeInCapacity(1),
        scale_in: Adjustment::ChangeInCapacity(-1),
    }
}

#[test]
fn policy_carries_thresholds_as_fractions() {
    let mut e = spec();
    e.metrics = Some(metrics(Some(70), None));
    let p = policy_of("worker", &e).unwrap();
    let m = p.metrics.unwrap();
    assert_eq!(m.scale_out_above, 0.7);
    assert!(m.scale_in_below < 0.0, "absent: never crossed");
    assert_eq!(p.bounds, Bounds { min: 1, max: 4 });
    assert_eq!(p.cooldown, 60);
}

#[test]
fn insane_policies_are_refused_with_reasons() {
    let refused = |e: ElasticSpec, want: &str| {
        let err = policy_of("worker", &e).unwrap_err();
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    };
    let mut e = spec();
    e.metrics = Some(metrics(Some(150), None));
    refused(e, "1–100");
    let mut e = spec();
    e.metrics = Some(metrics(Some(50), Some(60)));
    refused(e, "flap");
    let mut e = spec();
    e.metrics = Some(metrics(None, None));
    refused(e, "give scale_out_above");
    let mut e = spec();
    let mut m = metrics(Some(50), Some(10));
    m.scale_in = Adjustment::ChangeInCapacity(1);
    e.metrics = Some(m);
    refused(e, "must shrink");
    let mut e = spec();
    let mut m = metrics(Some(50), Some(10));
    m.scale_out = Adjustment::ExactCapacity(9);
    e.metrics = Some(m);
    refused(e, "outside [1, 4]");
    let rule = |days: &str, start: &str, end: &str, min: u32| ScheduleRuleSpec {
        days: days.into(),
        start: start.into(),
        end: end.into(),
        min,
    };
    let mut e = spec();
    e.schedule = Some(ScheduleSpec {
        timezone: "Mars/Olympus".into(),
        rules: vec![rule("mon-fri", "08:00", "20:00", 2)],
    });
    refused(e, "unknown time zone");
    let mut e = spec();
    e.schedule = Some(ScheduleSpec {
        timezone: "Europe/Stockholm".into(),
        rules: vec![rule("mon-fri", "08:00", "20:00", 9)],
    });
    refused(e, "above the group's max");
    let mut e = spec();
    e.schedule = Some(ScheduleSpec {
        timezone: "UTC".into(),
        rules: vec![rule("weekdays", "08:00", "20:00", 2)],
    });
    refused(e, "rule 1: \"weekdays\" is not a day");
    let mut e = spec();
    e.schedule = Some(ScheduleSpec {
        timezone: "UTC".into(),
        rules: vec![rule("daily", "8am", "20:00", 2)],
    });
    refused(e, "not a time of day");
}

#[test]
fn night_rule_runs_past_midnight() {
    let mut e = spec();
    e.schedule = Some(ScheduleSpec {
        timezone: "Europe/Stockholm".into(),
        rules: vec![ScheduleRuleSpec {
            days: "fri".into(),
            start: "22:00".into(),
            end: "02:00".into(),
            min: 3,
        }],
    });
    let s = policy_of("worker", &e).unwrap().schedule.unwrap();
    // Saturday 2024-06-01 01:00 in Stockholm (UTC+2) is 2024-05-31 23:00 UTC.
    assert_eq!(s.floor(1_717_196_400).map(|r| r.min), Some(3));
    // Saturday 03:00 local: over.
    assert!(s.floor(1_717_196_400 + 2 * 3600).is_none());
}
