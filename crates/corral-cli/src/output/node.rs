//! Human rendering of nodes.

use corral_api::quantity::format_bytes;
use corral_api::Node;

use super::{age, fields, format_cpu, or_dash, table, Render};

impl Render for Vec<Node> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|n| {
                vec![
                    n.name.clone(),
                    n.state.as_str().to_string(),
                    n.address.clone(),
                    or_dash(n.host.as_deref()),
                    format_cpu(n.cpu_millis),
                    format_bytes(n.memory_bytes),
                    age(now, n.created_at),
                    n.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &["NAME", "STATE", "ADDRESS", "HOST", "CPU", "MEMORY", "AGE", "ERROR"],
            rows,
        )
    }
}

impl Render for Node {
    fn table(&self, now: u64) -> String {
        let mut pairs = vec![
            ("Name", self.name.clone()),
            ("Cluster", self.cluster.clone()),
            ("Group", self.group.clone()),
            ("State", self.state.as_str().to_string()),
            ("Address", self.address.clone()),
            ("Host", or_dash(self.host.as_deref())),
            ("Image", self.image.clone()),
            ("Cpu", format_cpu(self.cpu_millis)),
            ("Memory", format_bytes(self.memory_bytes)),
            ("Pids", self.pids_max.to_string()),
            ("OOM kills", self.oom_kills.to_string()),
            ("Age", age(now, self.created_at)),
            ("Up", self.started_at.map(|t| age(now, t)).unwrap_or_else(|| "-".into())),
        ];
        if let Some(err) = &self.error {
            pairs.push(("Error", err.clone()));
        }
        fields(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use corral_api::NodeState;

    use super::*;
    use crate::output::cluster::tests::node;

    #[test]
    fn list_has_the_promised_columns() {
        let mut failed = node("node-1", NodeState::Failed);
        failed.host = None;
        failed.error = Some("no host has 64GiB free".into());
        let text = vec![node("node-0", NodeState::Running), failed].table(1000);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            ["NAME", "STATE", "ADDRESS", "HOST", "CPU", "MEMORY", "AGE", "ERROR"]
        );
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row, ["node-0", "running", "10.20.0.2", "host-a", "1", "1GiB", "1m"]);
        assert!(lines[2].contains(" - "), "{}", lines[2]);
        assert!(lines[2].ends_with("no host has 64GiB free"), "{}", lines[2]);
    }

    #[test]
    fn show_lists_fields() {
        let text = node("node-0", NodeState::Running).table(1000);
        assert!(text.contains("Address:    10.20.0.2\n"), "{text}");
        assert!(text.contains("Up:         50s\n"), "{text}");
    }
}
