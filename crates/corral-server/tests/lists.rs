//! Pagination and filters of the list endpoints, without root: the real router and
//! store, two registered hosts with no agent, so nodes are placed but never run.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_server::Context;
use serde_json::{json, Value};

struct Api {
    ctx: Arc<Context>,
    token: String,
    _dir: tempfile::TempDir,
}

/// One answer: status, `Link` header, JSON body.
struct Answer {
    status: StatusCode,
    link: Option<String>,
    body: Value,
}

impl Answer {
    /// The `name` fields of a list body.
    fn names(&self) -> Vec<String> {
        self.field("name")
    }

    fn field(&self, f: &str) -> Vec<String> {
        let items = self
            .body
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", self.body));
        items
            .iter()
            .map(|v| match &v[f] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    /// The path of the `rel="next"` link.
    fn next(&self) -> Option<String> {
        let link = self.link.as_ref()?;
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        Some(link[1..link.find('>').unwrap()].to_string())
    }

    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let ctx = support::context(&dir);
        support::register(&ctx, "h1", 8000, 8 << 30, &[("site", "a")]).await;
        support::register(&ctx, "h2", 8000, 8 << 30, &[("site", "b"), ("gpu", "yes")]).await;
        support::fake_minimal_image(&ctx);
        let mut api = Api {
            ctx,
            token: String::new(),
            _dir: dir,
        };
        let pw = std::fs::read_to_string(corral_server::credential_path(&api.ctx)).unwrap();
        api.token = api.login("admin", pw.trim()).await;
        api
    }

    async fn login(&self, name: &str, password: &str) -> String {
        let a = self
            .send(
                "POST",
                "/v1/login",
                Some(json!({"name": name, "password": password})),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["token"].as_str().unwrap().to_string()
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Answer {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, headers, bytes) = support::send(&self.ctx, method, path, "application/json", body, token).await;
        let link = headers.get("link").map(|v| v.to_str().unwrap().to_string());
        Answer {
            status,
            link,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A request as the admin.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, Some(&self.token)).await
    }

    /// A `GET` as the admin that must succeed.
    async fn get(&self, path: &str) -> Answer {
        let a = self.call("GET", path, None).await;
        assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
        a
    }

    /// Every item of a list, page by page of `limit`, following the `Link` headers;
    /// returns the names and the number of pages.
    async fn walk(&self, path: &str, limit: u32, field: &str) -> (Vec<String>, usize) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}limit={limit}"));
        let (mut all, mut pages) = (Vec::new(), 0);
        while let Some(p) = next {
            let a = self.get(&p).await;
            let got = a.field(field);
            assert!(got.len() <= limit as usize, "{p}: {got:?}");
            all.extend(got);
            pages += 1;
            next = a.next();
            assert!(pages < 100, "pages never end");
        }
        (all, pages)
    }

    async fn create(&self, spec: Value) {
        let a = self.call("POST", "/v1/clusters", Some(spec)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    }
}

#[tokio::test]
async fn cluster_pages_follow_links_and_filters_narrow_them() {
    let api = Api::new().await;
    for name in ["web-b", "web-a", "db", "web-c", "batch"] {
        api.create(json!({"name": name, "image": "minimal", "nodes": 1})).await;
    }
    // Without `limit`: the whole list, sorted, no link (what older clients read).
    let all = api.get("/v1/clusters").await;
    assert_eq!(all.names(), ["batch", "db", "web-a", "web-b", "web-c"]);
    assert_eq!(all.link, None);

    let (names, pages) = api.walk("/v1/clusters", 2, "name").await;
    assert_eq!((names, pages), (all.names(), 3));

    // A cluster created before the cursor does not shift the next page.
    let first = api.get("/v1/clusters?limit=2").await;
    assert_eq!(first.names(), ["batch", "db"]);
    api.create(json!({"name": "aaa", "image": "minimal"})).await;
    let second = api.get(&first.next().unwrap()).await;
    assert_eq!(second.names(), ["web-a", "web-b"]);
    // Filters stay in the next link.
    let web = api.get("/v1/clusters?prefix=web-&limit=2").await;
    assert_eq!(web.names(), ["web-a", "web-b"]);
    let next = web.next().unwrap();
    assert!(next.contains("prefix=web-"), "{next}");
    assert_eq!(api.get(&next).await.names(), ["web-c"]);

    // No agent runs, so every cluster is still creating.
    assert_eq!(api.get("/v1/clusters?state=creating").await.names().len(), 6);
    assert!(api.get("/v1/clusters?state=running").await.names().is_empty());
    assert_eq!(api.get("/v1/clusters?owner=admin&prefix=d").await.names(), ["db"]);
    assert!(api.get("/v1/clusters?owner=nobody").await.names().is_empty());

    // A user sees only their own, whatever `owner` says.
    let ok = api
        .call(
            "POST",
            "/v1/users",
            Some(json!({"name": "bob", "password": "bob-secret"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let bob = api.login("bob", "bob-secret").await;
    let mine = api.send("GET", "/v1/clusters?owner=admin", None, Some(&bob)).await;
    assert_eq!((mine.status, mine.names().len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn bad_list_parameters_are_400_invalid_request() {
    let api = Api::new().await;
    for path in [
        "/v1/clusters?state=sleeping",
        "/v1/clusters?limit=0",
        "/v1/clusters?limit=1001",
        "/v1/clusters?limit=ten",
        "/v1/clusters?limit=-1",
        "/v1/clusters?after=not-a-cursor",
        "/v1/images?after=ff",
        "/v1/hosts?label=%3Dx",
        "/v1/hosts?state=gone",
        "/v1/operations?status=done",
        "/v1/events?since=yesterday",
        "/v1/users?limit=99999999999",
        "/v1/operations/op-1?wait_ms=soon",
        "/v1/clusters/x?owner=a&owner=b",
    ] {
        let a = api.call("GET", path, None).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{path}: {}",
            a.body
        );
    }
    // A GET on the exec websocket route that is not an upgrade is a 400 too, with the
    // API's error body (axum's own rejection would be plain text).
    api.create(json!({"name": "c", "image": "minimal"})).await;
    let a = api.call("GET", "/v1/clusters/c/nodes/node-0/exec/ws", None).await;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn nodes_filter_by_group_state_and_host() {
    let api = Api::new().await;
    api.create(json!({
        "name": "hpc",
        "image": "minimal",
        "node_groups": [{"name": "worker", "count": 11}, {"name": "head", "count": 1}],
    }))
    .await;
    let all = api.get("/v1/clusters/hpc/nodes").await.names();
    let mut expected = vec!["head-0".to_string()];
    expected.extend((0..11).map(|i| format!("worker-{i}")));
    assert_eq!(all, expected, "by group, then index (worker-2 before worker-10)");
    let (paged, pages) = api.walk("/v1/clusters/hpc/nodes", 5, "name").await;
    assert_eq!((paged, pages), (expected, 3));

    assert_eq!(api.get("/v1/clusters/hpc/nodes?group=head").await.names(), ["head-0"]);
    assert_eq!(api.get("/v1/clusters/hpc/nodes?state=pending").await.names().len(), 12);
    corral_server::run_scheduler_pass(&api.ctx).unwrap();
    assert!(api.get("/v1/clusters/hpc/nodes?state=pending").await.names().is_empty());
    let on_h1 = api.get("/v1/clusters/hpc/nodes?host=h1").await;
    let on_h2 = api.get("/v1/clusters/hpc/nodes?host=h2&group=worker").await;
    assert!(on_h1.field("host").iter().all(|h| h == "h1"), "{}", on_h1.body);
    assert!(on_h2.field("group").iter().all(|g| g == "worker"), "{}", on_h2.body);
    let head_on_h2 = api.get("/v1/clusters/hpc/nodes?host=h2&group=head").await;
    assert_eq!(on_h1.names().len() + on_h2.names().len() + head_on_h2.names().len(), 12);
    let a = api.call("GET", "/v1/clusters/nope/nodes?group=x", None).await;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn hosts_filter_by_state_and_labels() {
    let api = Api::new().await;
    assert_eq!(api.get("/v1/hosts").await.names(), ["h1", "h2"]);
    assert_eq!(api.get("/v1/hosts?label=site=b").await.names(), ["h2"]);
    assert_eq!(api.get("/v1/hosts?label=gpu").await.names(), ["h2"]);
    assert_eq!(api.get("/v1/hosts?label=site,gpu=yes").await.names(), ["h2"]);
    assert!(api.get("/v1/hosts?label=site=c").await.names().is_empty());
    let drained = api.call("POST", "/v1/hosts/h1/drain", None).await;
    assert_eq!(drained.status, StatusCode::OK, "{}", drained.body);
    assert_eq!(api.get("/v1/hosts?state=draining").await.names(), ["h1"]);
    assert_eq!(api.get("/v1/hosts?state=ready&limit=1").await.names(), ["h2"]);
    let (names, pages) = api.walk("/v1/hosts", 1, "name").await;
    assert_eq!((names, pages), (vec!["h1".to_string(), "h2".to_string()], 2));
}

#[tokio::test]
async fn operations_newest_first_with_filters() {
    let api = Api::new().await;
    for name in ["one", "two", "three"] {
        api.create(json!({"name": name, "image": "minimal"})).await;
    }
    api.call("DELETE", "/v1/clusters/two", None).await;
    let all = api.get("/v1/operations").await;
    assert_eq!(all.field("target").len(), 4);
    let (ids, _) = api.walk("/v1/operations", 3, "id").await;
    assert_eq!(ids, all.field("id"), "pages keep the newest-first order");
    let created: Vec<u64> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["created_at"].as_u64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");

    assert_eq!(
        api.get("/v1/operations?kind=cluster.delete").await.field("target"),
        ["clusters/two"]
    );
    let two = api.get("/v1/operations?target=clusters/two").await;
    assert_eq!(two.field("kind").len(), 2, "{}", two.body);
    assert!(api.get("/v1/operations?target=clusters/tw").await.names().is_empty());
    // No agent: nothing ends, everything still runs.
    assert_eq!(api.get("/v1/operations?status=running").await.field("id").len(), 4);
    assert!(api.get("/v1/operations?status=failed").await.field("id").is_empty());
}

#[tokio::test]
async fn events_by_kind_target_and_since() {
    let api = Api::new().await;
    for name in ["ev-a", "ev-b"] {
        api.create(json!({"name": name, "image": "minimal"})).await;
    }
    let all = api.get("/v1/events").await;
    let seqs: Vec<u64> = all.field("seq").iter().map(|s| s.parse().unwrap()).collect();
    assert!(
        seqs.len() >= 2 && seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
    let (paged, _) = api.walk("/v1/events", 2, "seq").await;
    assert_eq!(paged, all.field("seq"));

    let created = api.get("/v1/events?kind=cluster.created").await;
    assert_eq!(
        created.field("target"),
        ["clusters/ev-a", "clusters/ev-b"],
        "{}",
        all.body
    );
    let a = api.get("/v1/events?target=clusters/ev-a").await;
    assert!(!a.field("seq").is_empty());
    assert!(
        a.field("target").iter().all(|t| t.starts_with("clusters/ev-a")),
        "{}",
        a.body
    );
    let last_of_a: u64 = a.field("seq").last().unwrap().parse().unwrap();
    let after = api.get(&format!("/v1/events?since={last_of_a}")).await;
    assert!(after.field("seq").iter().all(|s| s.parse::<u64>().unwrap() > last_of_a));
    assert!(
        after.field("target").contains(&"clusters/ev-b".to_string()),
        "{}",
        after.body
    );

    // A cluster's own events take the same filters and pages.
    let own = api.get("/v1/clusters/ev-b/events?kind=cluster.created").await;
    assert_eq!(own.field("target"), ["clusters/ev-b"]);
    let (paged, _) = api.walk("/v1/clusters/ev-a/events", 1, "seq").await;
    assert_eq!(paged, a.field("seq"));
}

#[tokio::test]
async fn users_and_images_page_too() {
    let api = Api::new().await;
    for name in ["carol", "bob", "dave"] {
        let a = api
            .call(
                "POST",
                "/v1/users",
                Some(json!({"name": name, "password": "long-enough"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let (users, pages) = api.walk("/v1/users", 3, "name").await;
    assert_eq!(
        (users, pages),
        (["admin", "bob", "carol", "dave"].map(String::from).to_vec(), 2)
    );
    let images = api.get("/v1/images?limit=1").await;
    assert_eq!((images.names(), images.link), (vec!["minimal".to_string()], None));
}

#[tokio::test]
async fn bodies_are_objects_typed_alike_in_json_and_yaml() {
    let api = Api::new().await;
    let post = |ct: &'static str, body: &'static str| {
        let api = &api;
        async move {
            let (status, _, bytes) =
                support::send(&api.ctx, "POST", "/v1/users", ct, body.into(), Some(&api.token)).await;
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, v["code"].as_str().unwrap_or("").to_string())
        }
    };
    let malformed = (StatusCode::BAD_REQUEST, "malformed_request".to_string());
    // serde alone would read `null` as the name "null" from YAML, and a struct from an array.
    assert_eq!(
        post("application/yaml", "name: null\npassword: long-enough\n").await,
        malformed
    );
    assert_eq!(
        post("application/yaml", "name: false\npassword: long-enough\n").await,
        malformed
    );
    assert_eq!(post("application/yaml", "- zed\n- long-enough\n").await, malformed);
    assert_eq!(post("application/json", r#"["zed", "long-enough"]"#).await, malformed);
    assert_eq!(post("application/json", "").await, malformed);
    let ok = post("application/yaml", "name: zed\npassword: 'long-enough'\n").await;
    assert_eq!(ok.0, StatusCode::CREATED, "{ok:?}");
}
