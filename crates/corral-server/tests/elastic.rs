//! Elastic node groups through the real router and SQLite store: validation at create,
//! manual scaling within [min, max], and passes of the elasticity manager at chosen
//! times (calendar floors, the metrics trigger fed through the control plane as an
//! agent would, cooldowns, the queue trigger through a fake probe), each change an
//! event with its reason.

mod support;

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use corral_agent::ControlPlane;
use corral_api::agent::{MetricsReport, NodeSamples};
use corral_api::NodeSample;
use corral_policy::elastic::PendingJob;
use corral_server::{
    Activity, Context, ElasticManager, InProcessControlPlane, ProbeError, ProbeTarget, QueueProbe, QueueStatus,
};
use serde_json::{json, Value};

/// [`support::call`] with `""` for no token and `Null` for no body.
async fn call(ctx: &Arc<Context>, method: &str, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
    let token = Some(token).filter(|t| !t.is_empty());
    support::call(ctx, method, path, token, Some(body).filter(|b| !b.is_null())).await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A cluster `demo` with a `head` and an elastic `worker` group.
fn spec(count: u32, elastic: Value) -> Value {
    json!({
        "name": "demo", "image": "minimal",
        "resources": {"cpu": "0.5", "memory": "64MiB"},
        "node_groups": [
            {"name": "head", "count": 1},
            {"name": "worker", "count": count, "elastic": elastic},
        ],
    })
}

async fn workers(ctx: &Arc<Context>, token: &str) -> Vec<String> {
    let (s, v) = call(ctx, "GET", "/v1/clusters/demo", Value::Null, token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["group"] == "worker")
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

async fn scaled_events(ctx: &Arc<Context>, token: &str) -> Vec<(String, String)> {
    let (s, v) = call(ctx, "GET", "/v1/clusters/demo/events", Value::Null, token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "cluster.created")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                format!("{}: {}", e["kind"].as_str().unwrap(), e["message"].as_str().unwrap()),
            )
        })
        .collect()
}

/// A probe that answers what the test says, and notes what it was asked to drain.
#[derive(Default)]
struct FakeProbe {
    answer: Mutex<Option<QueueStatus>>,
    drained: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl QueueProbe for FakeProbe {
    async fn probe(&self, _: &Context, t: &ProbeTarget) -> Result<QueueStatus, ProbeError> {
        assert_eq!((t.cluster.as_str(), t.runner_group.as_str()), ("demo", "head"));
        self.answer
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| ProbeError::NoRunner("head".into()))
    }

    async fn drain(&self, _: &Context, _: &ProbeTarget, nodes: &[String]) -> Result<(), ProbeError> {
        self.drained.lock().unwrap().extend(nodes.iter().cloned());
        Ok(())
    }

    async fn resume(&self, _: &Context, _: &ProbeTarget, _: &[String]) -> Result<(), ProbeError> {
        Ok(())
    }
}

fn manager() -> (ElasticManager, Arc<FakeProbe>) {
    let probe = Arc::new(FakeProbe::default());
    (ElasticManager::new(probe.clone()), probe)
}

#[tokio::test]
async fn invalid_elasticity_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let cases = [
        (spec(1, json!({"min": 3, "max": 2})), "min 3 is above max 2"),
        (spec(5, json!({"min": 1, "max": 3})), "do not hold its count 5"),
        (spec(1, json!({"min": 1, "max": 5000})), "above 1000"),
        (
            spec(1, json!({"min": 1, "max": 3, "metrics": {"scale_out_above": 0.5}})),
            "",
        ),
        (
            spec(1, json!({"min": 1, "max": 3, "metrics": {"scale_out_above": 150}})),
            "scale_out_above 150 is not a percentage",
        ),
        (
            spec(
                1,
                json!({"min": 1, "max": 3, "metrics": {"scale_out_above": 50, "scale_in_below": 50}}),
            ),
            "flap",
        ),
        (
            spec(
                1,
                json!({"min": 1, "max": 3, "metrics": {"scale_out_above": 50, "scale_out": {"change_in_capacity": -1}}}),
            ),
            "must grow",
        ),
        (
            spec(
                1,
                json!({"min": 1, "max": 3, "schedule": {"timezone": "Europe/Stokholm", "rules": [{"days": "mon-fri", "start": "08:00", "end": "20:00", "min": 2}]}}),
            ),
            "unknown time zone \"Europe/Stokholm\"",
        ),
        (
            spec(
                1,
                json!({"min": 1, "max": 3, "schedule": {"rules": [{"days": "mon-fri", "start": "8h", "end": "20:00", "min": 2}]}}),
            ),
            "not a time of day",
        ),
        (
            spec(
                1,
                json!({"min": 1, "max": 3, "queue": {"probe": "slurm", "probe_group": "ctl"}}),
            ),
            "group \"ctl\"",
        ),
    ];
    for (body, want) in cases {
        let (s, v) = call(&ctx, "POST", "/v1/clusters", body.clone(), &token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains(want), "{msg:?} lacks {want:?}");
        if want.is_empty() {
            // A fraction where a percentage is meant does not even parse.
            assert_eq!(v["code"], "malformed_request", "{v}");
        } else {
            assert_eq!(v["code"], "invalid_request", "{v}");
        }
    }
    let (s, v) = call(&ctx, "GET", "/v1/clusters", Value::Null, &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn manual_scale_stays_within_bounds_and_starts_a_cooldown() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let (s, v) = call(
        &ctx,
        "POST",
        "/v1/clusters",
        spec(1, json!({"min": 1, "max": 3})),
        &token,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    for n in [0, 4] {
        let (s, v) = call(
            &ctx,
            "POST",
            "/v1/clusters/demo/scale",
            json!({"group": "worker", "nodes": n}),
            &token,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["code"], "invalid_request");
        assert!(v["message"].as_str().unwrap().contains("[1, 3]"), "{v}");
    }
    assert_eq!(workers(&ctx, &token).await, ["worker-0"]);
    let (s, v) = call(
        &ctx,
        "POST",
        "/v1/clusters/demo/scale",
        json!({"group": "worker", "nodes": 3}),
        &token,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (_, c) = call(&ctx, "GET", "/v1/clusters/demo", Value::Null, &token).await;
    assert_eq!(c["scaling"]["worker"]["actor"], "admin", "{c}");
    assert_eq!(c["scaling"]["worker"]["last_decision"], "scaled worker 1→3");
    let t = c["scaling"]["worker"]["last_scaled"].as_u64().unwrap();
    assert!(t.abs_diff(now()) < 60, "{t}");
    // The non-elastic group is not bounded.
    let (s, v) = call(
        &ctx,
        "POST",
        "/v1/clusters/demo/scale",
        json!({"group": "head", "nodes": 5}),
        &token,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
}

#[tokio::test]
async fn schedule_floor_is_applied_in_the_clusters_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let elastic = json!({"min": 1, "max": 4, "schedule": {"timezone": "Europe/Stockholm",
        "rules": [{"days": "mon-fri", "start": "08:00", "end": "20:00", "min": 3}]}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec(1, elastic), &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (mut m, _) = manager();
    // Saturday 2024-06-01 10:00 in Stockholm (08:00 UTC): no rule applies.
    let saturday = 1_717_228_800;
    assert!(m.pass(&ctx, saturday).await.unwrap().is_empty());
    // Monday 2024-06-03 07:30 local (05:30 UTC): not yet.
    let monday = saturday + 2 * 86_400;
    assert!(m.pass(&ctx, monday - 2 * 3600 - 1800).await.unwrap().is_empty());
    // Monday 08:00 local (06:00 UTC): the floor holds, cooldown or not.
    let done = m.pass(&ctx, monday - 2 * 3600).await.unwrap();
    assert_eq!(done, ["scaled worker 1→3: schedule Mon–Fri 08:00–20:00 min 3"]);
    assert_eq!(workers(&ctx, &token).await, ["worker-0", "worker-1", "worker-2"]);
    assert!(m.pass(&ctx, monday).await.unwrap().is_empty());
    let events = scaled_events(&ctx, &token).await;
    assert_eq!(
        events,
        [(
            "elastic".to_string(),
            "cluster.scaled: scaled worker 1→3: schedule Mon–Fri 08:00–20:00 min 3".to_string()
        )]
    );
}

fn sample(t: u64, cpu_percent: f64) -> NodeSample {
    NodeSample {
        t,
        cpu_percent,
        memory_bytes: 32 << 20,
        rx_bytes_per_sec: 0.0,
        tx_bytes_per_sec: 0.0,
        disk_bytes: 0,
    }
}

/// Feeds samples of every placed worker, as their hosts' agents would.
async fn feed(ctx: &Arc<Context>, samples: impl Fn(&str) -> Vec<NodeSample>) {
    corral_server::run_scheduler_pass(ctx).unwrap();
    let cp = InProcessControlPlane::new(ctx.clone());
    let a = cp.assignments("h1", 0).await.unwrap();
    let nodes = a
        .nodes
        .iter()
        .filter(|n| n.id.contains("-worker-"))
        .map(|n| NodeSamples {
            id: n.id.clone(),
            samples: samples(&n.id),
        })
        .collect();
    cp.metrics(
        "h1",
        MetricsReport {
            interval_secs: 10,
            nodes,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn metrics_trigger_grows_on_busy_cpu_after_the_cooldown_and_shrinks_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let elastic = json!({"min": 1, "max": 3, "cooldown": 60,
        "metrics": {"window": 60, "scale_out_above": 50, "scale_in_below": 10}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec(1, elastic), &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (mut m, _) = manager();
    let t0 = now();
    // No samples yet: no decision.
    assert!(m.pass(&ctx, t0).await.unwrap().is_empty());
    // 0.4 of a cpu used of a 0.5 limit: 80%.
    feed(&ctx, |_| vec![sample(t0 - 20, 40.0), sample(t0 - 10, 40.0)]).await;
    let done = m.pass(&ctx, t0).await.unwrap();
    assert_eq!(done, ["scaled worker 1→2: mean cpu 80% over 60 s, above 50%"]);
    // Still busy, but within the cooldown.
    feed(&ctx, |_| vec![sample(t0 + 10, 40.0)]).await;
    assert!(m.pass(&ctx, t0 + 10).await.unwrap().is_empty());
    // After it: grows again.
    feed(&ctx, |_| vec![sample(t0 + 65, 40.0)]).await;
    let done = m.pass(&ctx, t0 + 70).await.unwrap();
    assert_eq!(done, ["scaled worker 2→3: mean cpu 80% over 60 s, above 50%"]);
    assert_eq!(workers(&ctx, &token).await.len(), 3);
    // Idle for a window: shrinks by one, the youngest first.
    feed(&ctx, |_| (1..=6).map(|i| sample(t0 + 140 + i * 10, 1.0)).collect()).await;
    let done = m.pass(&ctx, t0 + 200).await.unwrap();
    assert_eq!(done, ["scaled worker 3→2: mean cpu 2% over 60 s, below 10%"]);
    assert_eq!(workers(&ctx, &token).await, ["worker-0", "worker-1"]);
    let events: Vec<String> = scaled_events(&ctx, &token).await.into_iter().map(|e| e.1).collect();
    assert_eq!(
        events,
        [
            "cluster.scaled: scaled worker 1→2: mean cpu 80% over 60 s, above 50%",
            "cluster.scaled: scaled worker 2→3: mean cpu 80% over 60 s, above 50%",
            "cluster.scaled: scaled worker 3→2: mean cpu 2% over 60 s, below 10%",
        ]
    );
    // `corral cluster show` has the last decision.
    let (_, c) = call(&ctx, "GET", "/v1/clusters/demo", Value::Null, &token).await;
    assert_eq!(c["scaling"]["worker"]["actor"], "elastic");
    assert_eq!(
        c["scaling"]["worker"]["last_decision"],
        "scaled worker 3→2: mean cpu 2% over 60 s, below 10%"
    );
}

#[tokio::test]
async fn queue_trigger_grows_for_pending_jobs_drains_idle_nodes_and_reports_a_failing_probe_once() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let elastic = json!({"min": 1, "max": 6, "queue": {"probe": "slurm", "idle_time": 300}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec(1, elastic), &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (mut m, probe) = manager();
    let t0 = now();
    let busy = |names: &[&str]| -> std::collections::BTreeMap<String, Activity> {
        names.iter().map(|n| (n.to_string(), Activity::Busy)).collect()
    };
    *probe.answer.lock().unwrap() = Some(QueueStatus {
        pending: vec![PendingJob { nodes: 2 }, PendingJob { nodes: 2 }],
        nodes: busy(&["worker-0"]),
    });
    let done = m.pass(&ctx, t0).await.unwrap();
    assert_eq!(done, ["scaled worker 1→5: 2 jobs pending needing 4 nodes"]);
    // The new nodes are on their way: no second growth for the same jobs.
    assert!(m.pass(&ctx, t0 + 5).await.unwrap().is_empty());
    // Jobs done, every node idle; removed only after the idle time, busy worker-0 never.
    *probe.answer.lock().unwrap() = Some(QueueStatus {
        pending: vec![],
        nodes: busy(&["worker-0"]),
    });
    assert!(m.pass(&ctx, t0 + 100).await.unwrap().is_empty());
    let done = m.pass(&ctx, t0 + 400).await.unwrap();
    assert_eq!(done, ["scaled worker 5→1: 4 nodes idle for 300 s"]);
    assert_eq!(workers(&ctx, &token).await, ["worker-0"]);
    let mut drained = probe.drained.lock().unwrap().clone();
    drained.sort();
    assert_eq!(drained, ["worker-1", "worker-2", "worker-3", "worker-4"]);
    // A failing probe: one event for the streak, no queue decisions, one when it is back.
    *probe.answer.lock().unwrap() = None;
    for i in 0..3 {
        assert!(m.pass(&ctx, t0 + 500 + i).await.unwrap().is_empty());
    }
    *probe.answer.lock().unwrap() = Some(QueueStatus::default());
    assert!(m.pass(&ctx, t0 + 600).await.unwrap().is_empty());
    let events: Vec<String> = scaled_events(&ctx, &token).await.into_iter().map(|e| e.1).collect();
    assert_eq!(
        events,
        [
            "cluster.scaled: scaled worker 1→5: 2 jobs pending needing 4 nodes",
            "cluster.scaled: scaled worker 5→1: 4 nodes idle for 300 s",
            "cluster.probe_failed: queue probe failed: no running node in group \"head\" to ask the batch system from; no queue-based scaling until it answers",
            "cluster.probe_recovered: queue probe answers again",
        ]
    );
}

#[tokio::test]
async fn stopped_clusters_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    let token = support::admin_token(&ctx).await;
    let elastic = json!({"min": 1, "max": 4, "schedule": {"rules": [{"days": "daily", "start": "00:00", "end": "24:00", "min": 2}]}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec(1, elastic), &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = call(&ctx, "POST", "/v1/clusters/demo/stop", Value::Null, &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (mut m, _) = manager();
    assert!(m.pass(&ctx, now()).await.unwrap().is_empty());
    let (s, v) = call(&ctx, "POST", "/v1/clusters/demo/start", Value::Null, &token).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        m.pass(&ctx, now()).await.unwrap(),
        ["scaled worker 1→2: schedule daily 00:00–24:00 min 2"]
    );
}
