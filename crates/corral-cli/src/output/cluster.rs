//! Human rendering of clusters.

use corral_api::{Cluster, ElasticSpec, NodeState};

use super::{age, fields, table, wire_name, Render};

/// `running/desired`, the one number people look at first.
fn node_counts(c: &Cluster) -> String {
    let desired: u32 = c.spec.groups().iter().map(|g| g.count).sum();
    let running = c.nodes.iter().filter(|n| n.state == NodeState::Running).count();
    format!("{running}/{desired}")
}

/// "worker 1–3 nodes, cooldown 60s; metrics: cpu >70% grows, <20% shrinks over 300s;
/// schedule (Europe/Stockholm): mon-fri 08:00–20:00 min 4; queue: slurm, idle 300s".
fn describe_elastic(group: &str, e: &ElasticSpec) -> String {
    let mut out = format!("{group} {}–{} nodes, cooldown {}s", e.min, e.max, e.cooldown);
    if let Some(m) = &e.metrics {
        let mut sides = Vec::new();
        if let Some(p) = m.scale_out_above {
            sides.push(format!(">{p}% grows"));
        }
        if let Some(p) = m.scale_in_below {
            sides.push(format!("<{p}% shrinks"));
        }
        out.push_str(&format!("; metrics: cpu {} over {}s", sides.join(", "), m.window));
    }
    if let Some(s) = &e.schedule {
        let rules: Vec<String> = s
            .rules
            .iter()
            .map(|r| format!("{} {}–{} min {}", r.days, r.start, r.end, r.min))
            .collect();
        out.push_str(&format!("; schedule ({}): {}", s.timezone, rules.join(", ")));
    }
    if let Some(q) = &e.queue {
        out.push_str(&format!("; queue: {}, idle {}s", wire_name(&q.probe), q.idle_time));
    }
    out
}

impl Render for Vec<Cluster> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    wire_name(&c.state),
                    node_counts(c),
                    c.spec.image.clone(),
                    c.network.subnet.clone(),
                    age(now, c.created_at),
                ]
            })
            .collect();
        table(&["NAME", "STATE", "NODES", "IMAGE", "SUBNET", "AGE"], rows)
    }
}

impl Render for Cluster {
    fn table(&self, now: u64) -> String {
        let groups = self
            .spec
            .groups()
            .iter()
            .map(|g| format!("{} x{}", g.name, g.count))
            .collect::<Vec<_>>()
            .join(", ");
        let r = &self.spec.resources;
        let net = &self.network;
        let mut pairs = vec![
            ("Name", self.name.clone()),
            ("Owner", self.owner.clone()),
            ("State", wire_name(&self.state)),
            ("Image", self.spec.image.clone()),
            ("Nodes", format!("{} running ({groups})", node_counts(self))),
            (
                "Resources",
                format!("cpu {}, memory {}, pids {}", r.cpu, r.memory, r.pids),
            ),
            (
                "Network",
                format!(
                    "{} (gateway {}, vni {}, mtu {})",
                    net.subnet, net.gateway, net.vni, net.mtu
                ),
            ),
        ];
        let mut placement = self.spec.placement.to_string();
        for (k, v) in &self.spec.constraints {
            placement.push_str(&format!(", {k}={v}"));
        }
        pairs.push(("Placement", placement));
        if !self.spec.env.is_empty() {
            let env = self
                .spec
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            pairs.push(("Env", env));
        }
        let s = &self.spec.scripts;
        let scripts: Vec<&str> = [
            ("on_create", &s.on_create),
            ("on_destroy", &s.on_destroy),
            ("on_recovery", &s.on_recovery),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
        if !scripts.is_empty() {
            pairs.push(("Scripts", scripts.join(", ")));
        }
        for g in self.spec.groups() {
            if let Some(e) = &g.elastic {
                pairs.push(("Elastic", describe_elastic(&g.name, e)));
            }
        }
        for s in self.scaling.values() {
            pairs.push((
                "Scaled",
                format!("{} ({} ago, by {})", s.last_decision, age(now, s.last_scaled), s.actor),
            ));
        }
        pairs.push(("Age", age(now, self.created_at)));
        let mut out = fields(&pairs);
        out.push('\n');
        out.push_str(&self.nodes.table(now));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use corral_api::{ClusterSpec, ClusterState, NetworkInfo, Node, Resources};

    use super::*;

    pub(crate) fn node(name: &str, state: NodeState) -> Node {
        Node {
            cluster: "demo".into(),
            name: name.into(),
            group: "node".into(),
            state,
            address: "10.20.0.2".into(),
            host: Some("host-a".into()),
            image: "minimal".into(),
            cpu_millis: 1000,
            memory_bytes: 1 << 30,
            pids_max: 1024,
            oom_kills: 0,
            error: None,
            created_at: 940,
            started_at: Some(950),
        }
    }

    pub(crate) fn cluster() -> Cluster {
        Cluster {
            name: "demo".into(),
            owner: "alice".into(),
            spec: ClusterSpec {
                name: "demo".into(),
                image: "minimal".into(),
                node_groups: vec![],
                nodes: Some(2),
                resources: Resources {
                    cpu: "1".into(),
                    memory: "1GiB".into(),
                    pids: 1024,
                },
                scripts: Default::default(),
                env: [("A".to_string(), "1".to_string())].into(),
                subnet: None,
                placement: Default::default(),
                constraints: Default::default(),
                recovery: Default::default(),
                max_unavailable: None,
            },
            state: ClusterState::Creating,
            network: NetworkInfo {
                vni: 7,
                subnet: "10.20.0.0/24".into(),
                gateway: "10.20.0.1".into(),
                mtu: 1450,
            },
            nodes: vec![node("node-0", NodeState::Running), node("node-1", NodeState::Pending)],
            created_at: 880,
            scaling: Default::default(),
        }
    }

    #[test]
    fn list_has_the_promised_columns() {
        let text = vec![cluster()].table(1000);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "STATE", "NODES", "IMAGE", "SUBNET", "AGE"]);
        let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(row, ["demo", "creating", "1/2", "minimal", "10.20.0.0/24", "2m"]);
    }

    #[test]
    fn show_prints_elasticity_and_the_last_decision() {
        let mut c = cluster();
        let mut e = corral_api::ElasticSpec::bounds(1, 3);
        e.metrics = Some(corral_api::MetricsTrigger {
            window: 20,
            scale_out_above: Some(50),
            scale_in_below: Some(10),
            scale_out: corral_api::Adjustment::ChangeInCapacity(1),
            scale_in: corral_api::Adjustment::ChangeInCapacity(-1),
        });
        c.spec.node_groups = vec![corral_api::NodeGroupSpec {
            name: "worker".into(),
            count: 2,
            resources: None,
            image: None,
            elastic: Some(e),
        }];
        c.scaling.insert(
            "worker".into(),
            corral_api::GroupScaling {
                last_scaled: 880,
                last_decision: "scaled worker 1→2: mean cpu 97% over 20 s, above 50%".into(),
                actor: "elastic".into(),
            },
        );
        let text = c.table(1000);
        assert!(
            text.contains("Elastic:    worker 1–3 nodes, cooldown 60s; metrics: cpu >50% grows, <10% shrinks over 20s"),
            "{text}"
        );
        assert!(
            text.contains("Scaled:     scaled worker 1→2: mean cpu 97% over 20 s, above 50% (2m ago, by elastic)"),
            "{text}"
        );
    }

    #[test]
    fn show_prints_fields_then_nodes() {
        let text = cluster().table(1000);
        assert!(text.starts_with("Name:"), "{text}");
        assert!(text.contains("Nodes:      1/2 running (node x2)"), "{text}");
        assert!(text.contains("Env:        A=1"), "{text}");
        let (_, nodes) = text.split_once("\n\n").unwrap();
        assert!(nodes.starts_with("NAME"), "{nodes}");
        assert!(nodes.contains("node-1"), "{nodes}");
    }
}
