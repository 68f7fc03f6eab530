use super::*;

fn policy(min: u32, max: u32) -> ElasticPolicy {
    ElasticPolicy {
        group: "worker".into(),
        bounds: Bounds::new(min, max).unwrap(),
        cooldown: 300,
        queue: Some(QueueTrigger { idle_time: 600 }),
        metrics: None,
        schedule: None,
    }
}

fn nodes(works: &[Work]) -> Vec<NodeStatus> {
    works
        .iter()
        .enumerate()
        .map(|(i, &work)| NodeStatus {
            created: i as u64 * 10,
            work,
        })
        .collect()
}

fn state<'a>(nodes: &'a [NodeStatus], pending: &'a [PendingJob], cpu: &'a [(u64, f64)]) -> GroupState<'a> {
    GroupState {
        nodes,
        last_scaled: None,
        pending,
        cpu,
    }
}

fn pct(percent: f64, min_step: u32) -> Adjustment {
    Adjustment::ChangeInPercentage { percent, min_step }
}

#[test]
fn senlin_adjustments() {
    assert_eq!(Adjustment::ExactCapacity(7).desired(3), 7);
    assert_eq!(Adjustment::ChangeInCapacity(2).desired(3), 5);
    assert_eq!(Adjustment::ChangeInCapacity(-5).desired(3), -2);
    // Below one node rounds away from zero, above one towards zero.
    assert_eq!(pct(10.0, 0).desired(5), 6);
    assert_eq!(pct(-10.0, 0).desired(5), 4);
    assert_eq!(pct(50.0, 0).desired(5), 7);
    assert_eq!(pct(-50.0, 0).desired(5), 3);
    // The minimum step wins when the percentage is smaller.
    assert_eq!(pct(20.0, 3).desired(10), 13);
    assert_eq!(pct(-20.0, 3).desired(10), 7);
    assert_eq!(pct(50.0, 3).desired(10), 15);
    // An empty group grows by the minimum step.
    assert_eq!(pct(50.0, 1).desired(0), 1);
}

#[test]
fn bounds_clamp_or_refuse() {
    let b = Bounds::new(2, 10).unwrap();
    assert_eq!(b.truncate("worker", 12, false), Ok(10));
    assert_eq!(b.truncate("worker", -1, false), Ok(2));
    assert_eq!(b.truncate("worker", 5, true), Ok(5));
    let err = b.truncate("worker", 12, true).unwrap_err();
    assert_eq!(err.to_string(), "worker would be 12 nodes, outside its bounds [2, 10]");
    assert!(Bounds::new(3, 2).is_err());
    // Manual requests go through the same bounds.
    let p = policy(2, 10);
    let n = nodes(&[Work::Unknown; 4]);
    let s = state(&n, &[], &[]);
    assert_eq!(manual(&p, &s, pct(200.0, 1), false).unwrap().to, 10);
    assert!(manual(&p, &s, Adjustment::ExactCapacity(1), true).is_err());
    let d = manual(&p, &s, Adjustment::ExactCapacity(1), false).unwrap();
    assert_eq!((d.from, d.to, d.remove.len()), (4, 2, 2));
}

#[test]
fn queue_grows_for_pending_jobs_with_a_reason() {
    let p = policy(0, 16);
    let n = nodes(&[Work::Busy, Work::Busy]);
    let jobs = [
        PendingJob { nodes: 1 },
        PendingJob { nodes: 2 },
        PendingJob { nodes: 1 },
        PendingJob { nodes: 2 },
    ];
    let d = decide(&p, &state(&n, &jobs, &[]), 0).unwrap();
    assert_eq!((d.from, d.to), (2, 8));
    assert_eq!(d.reason, "scaled worker 2→8: 4 jobs pending needing 6 nodes");
    // Idle nodes count against what is lacking; max caps it; cooldown does not hold it back.
    let n = nodes(&[Work::Busy, Work::Idle(0)]);
    let mut s = state(&n, &jobs, &[]);
    s.last_scaled = Some(0);
    assert_eq!(decide(&p, &s, 1).unwrap().to, 7);
    let p = policy(0, 4);
    assert_eq!(decide(&p, &state(&n, &jobs, &[]), 0).unwrap().to, 4);
}

#[test]
fn queue_shrinks_idle_nodes_never_busy_ones() {
    let p = policy(1, 16);
    let n = nodes(&[Work::Busy, Work::Idle(0), Work::Idle(500), Work::Idle(100), Work::Busy]);
    // At 650 only nodes idle since 0 and 100 passed the 600 s idle time.
    let d = decide(&p, &state(&n, &[], &[]), 700).unwrap();
    assert_eq!((d.from, d.to), (5, 3));
    assert_eq!(d.remove, vec![3, 1], "youngest idle first");
    assert_eq!(d.reason, "scaled worker 5→3: 2 nodes idle for 600 s");
    // Later, every idle node goes, down to the busy ones, whatever the floor: busy nodes stay.
    let d = decide(&p, &state(&n, &[], &[]), 5000).unwrap();
    assert_eq!(d.to, 2);
    assert!(d.remove.iter().all(|&i| n[i].work != Work::Busy));
    // Pending jobs keep idle nodes, and grow the group by what the idle ones lack.
    assert_eq!(decide(&p, &state(&n, &[PendingJob { nodes: 3 }], &[]), 5000), None);
    assert_eq!(
        decide(&p, &state(&n, &[PendingJob { nodes: 4 }], &[]), 5000)
            .unwrap()
            .to,
        6
    );
    // Within the cooldown nothing shrinks.
    let mut s = state(&n, &[], &[]);
    s.last_scaled = Some(4900);
    assert_eq!(decide(&p, &s, 5000), None);
}

#[test]
fn scale_in_order_idle_first_then_youngest_never_busy() {
    let n = nodes(&[
        Work::Unknown,
        Work::Busy,
        Work::Idle(5),
        Work::Unknown,
        Work::Idle(9),
        Work::Busy,
    ]);
    assert_eq!(scale_in_order(&n), vec![4, 2, 3, 0]);
    // Asked for more than can go, a manual shrink removes only what is not busy.
    let p = policy(0, 10);
    let d = manual(&p, &state(&n, &[], &[]), Adjustment::ExactCapacity(0), false).unwrap();
    assert_eq!((d.to, d.remove.len()), (2, 4));
}

#[test]
fn metrics_trigger_on_the_window_mean() {
    let mut p = policy(1, 20);
    p.queue = None;
    p.metrics = Some(MetricsTrigger {
        window: 600,
        scale_out_above: 0.7,
        scale_in_below: 0.3,
        scale_out: pct(20.0, 1),
        scale_in: pct(-10.0, 1),
    });
    let n = nodes(&[Work::Unknown; 10]);
    // An old spike outside the window does not count.
    let cpu = [(0, 1.0), (500, 0.9), (800, 0.8)];
    let d = decide(&p, &state(&n, &[], &cpu), 1000).unwrap();
    assert_eq!((d.from, d.to), (10, 12));
    assert_eq!(d.reason, "scaled worker 10→12: mean cpu 85% over 600 s, above 70%");
    let cpu = [(900, 0.1), (1000, 0.2)];
    let d = decide(&p, &state(&n, &[], &cpu), 1000).unwrap();
    assert_eq!((d.to, d.remove.len()), (9, 1));
    assert_eq!(d.remove, vec![9], "youngest first");
    let cpu = [(1000, 0.5)];
    assert_eq!(decide(&p, &state(&n, &[], &cpu), 1000), None);
    assert_eq!(decide(&p, &state(&n, &[], &[]), 1000), None, "no samples, no decision");
}

#[test]
fn schedule_sets_a_floor_in_the_time_zone() {
    let mut p = policy(1, 20);
    p.queue = None;
    p.schedule = Some(Schedule {
        tz: chrono_tz::Europe::Stockholm,
        rules: vec![ScheduleRule {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            start_minute: 8 * 60,
            end_minute: 20 * 60,
            min: 8,
        }],
    });
    let n = nodes(&[Work::Unknown; 2]);
    // Monday 2024-01-08 07:30 UTC is 08:30 in Stockholm (CET, +1).
    let monday_0830 = 1_704_699_000;
    let d = decide(&p, &state(&n, &[], &[]), monday_0830).unwrap();
    assert_eq!((d.from, d.to), (2, 8));
    assert_eq!(d.reason, "scaled worker 2→8: schedule Mon–Fri 08:00–20:00 min 8");
    // 06:30 UTC is 07:30 local: before the rule.
    assert_eq!(decide(&p, &state(&n, &[], &[]), monday_0830 - 3600), None);
    // Saturday: no rule.
    assert_eq!(decide(&p, &state(&n, &[], &[]), monday_0830 + 5 * 86_400), None);
    // A rule over midnight: Friday 22:00–06:00 applies early on Saturday.
    let night = ScheduleRule {
        days: vec![Weekday::Fri],
        start_minute: 22 * 60,
        end_minute: 6 * 60,
        min: 3,
    };
    assert!(night.applies(Weekday::Sat, 60));
    assert!(!night.applies(Weekday::Fri, 60));
    assert!(night.applies(Weekday::Fri, 23 * 60));
}

#[test]
fn rules_describe_common_day_sets_by_name() {
    let rule = |days: Vec<Weekday>| ScheduleRule {
        days,
        start_minute: 0,
        end_minute: 1440,
        min: 2,
    };
    let week = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    assert_eq!(rule(week.clone()).describe(), "daily 00:00–24:00 min 2");
    assert_eq!(rule(week[..5].to_vec()).describe(), "Mon–Fri 00:00–24:00 min 2");
    assert_eq!(rule(week[5..].to_vec()).describe(), "Sat,Sun 00:00–24:00 min 2");
}
