//! Human rendering of operations.

use corral_api::{Operation, OperationStatus};

use super::{age, fields, table, wire_name, Render};
use crate::error::code_name;

/// What a person wants to read about an operation: its error when it failed, else
/// its progress.
fn message(op: &Operation) -> String {
    match (&op.status, &op.error) {
        (OperationStatus::Failed, Some(e)) => format!("{} ({})", e.message, code_name(e.code)),
        _ => op.progress.clone(),
    }
}

impl Render for Vec<Operation> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|o| {
                vec![
                    o.id.clone(),
                    o.kind.clone(),
                    o.target.clone(),
                    wire_name(&o.status),
                    age(now, o.created_at),
                    message(o),
                ]
            })
            .collect();
        table(&["ID", "KIND", "TARGET", "STATUS", "AGE", "MESSAGE"], rows)
    }
}

impl Render for Operation {
    fn table(&self, now: u64) -> String {
        let mut pairs = vec![
            ("Id", self.id.clone()),
            ("Kind", self.kind.clone()),
            ("Target", self.target.clone()),
            ("Owner", self.owner.clone()),
            ("Status", wire_name(&self.status)),
            ("Progress", self.progress.clone()),
        ];
        if let Some(e) = &self.error {
            pairs.push(("Error", format!("{} ({})", e.message, code_name(e.code))));
        }
        pairs.push(("Age", age(now, self.created_at)));
        pairs.push(("Updated", format!("{} ago", age(now, self.updated_at))));
        fields(&pairs)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use corral_api::{ApiError, ErrorCode};

    use super::*;

    pub(crate) fn operation(status: OperationStatus) -> Operation {
        Operation {
            id: "op-1".into(),
            kind: "cluster.create".into(),
            target: "clusters/demo".into(),
            owner: "alice".into(),
            status,
            progress: "1/2 nodes running".into(),
            error: None,
            created_at: 990,
            updated_at: 995,
        }
    }

    #[test]
    fn failed_operations_show_their_error() {
        let mut op = operation(OperationStatus::Failed);
        op.error = Some(ApiError::new(ErrorCode::InsufficientCapacity, "no room"));
        let text = vec![op.clone()].table(1000);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("op-1  cluster.create  clusters/demo  failed"), "{row}");
        assert!(row.ends_with("no room (insufficient_capacity)"), "{row}");
        assert!(op.table(1000).contains("Error:     no room"), "{}", op.table(1000));
    }
}
