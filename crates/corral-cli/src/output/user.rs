//! Human rendering of users.

use corral_api::User;

use super::{age, fields, table, wire_name, Render};

impl Render for Vec<User> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|u| {
                vec![
                    u.name.clone(),
                    wire_name(&u.role),
                    u.ssh_keys.len().to_string(),
                    age(now, u.created_at),
                ]
            })
            .collect();
        table(&["NAME", "ROLE", "SSH-KEYS", "AGE"], rows)
    }
}

impl Render for User {
    fn table(&self, now: u64) -> String {
        let mut out = fields(&[
            ("Name", self.name.clone()),
            ("Role", wire_name(&self.role)),
            ("SSH keys", self.ssh_keys.len().to_string()),
            ("Age", age(now, self.created_at)),
        ]);
        for key in &self.ssh_keys {
            out.push_str("  ");
            out.push_str(key);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use corral_api::Role;

    use super::*;

    #[test]
    fn list_and_show() {
        let u = User {
            name: "alice".into(),
            role: Role::Admin,
            ssh_keys: vec!["ssh-ed25519 AAAA alice@laptop".into()],
            created_at: 990,
        };
        let text = vec![u.clone()].table(1000);
        assert_eq!(
            text.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(),
            ["alice", "admin", "1", "10s"]
        );
        let text = u.table(1000);
        assert!(text.contains("Role:      admin\n"), "{text}");
        assert!(text.ends_with("  ssh-ed25519 AAAA alice@laptop\n"), "{text}");
    }
}
