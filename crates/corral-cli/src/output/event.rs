//! Human rendering of events.

use corral_api::Event;

use super::{age, table, Render};

impl Render for Vec<Event> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    age(now, e.time),
                    e.actor.clone(),
                    e.kind.clone(),
                    e.target.clone(),
                    e.message.clone(),
                ]
            })
            .collect();
        // SEQ is what `corral event list --since` takes.
        table(&["SEQ", "AGE", "ACTOR", "KIND", "TARGET", "MESSAGE"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_table() {
        let e = Event {
            seq: 1,
            time: 997,
            actor: "corral".into(),
            owner: "alice".into(),
            target: "clusters/demo/nodes/node-0".into(),
            kind: "node.running".into(),
            message: "node-0 is running".into(),
        };
        let text = vec![e].table(1000);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "1    3s   corral  node.running  clusters/demo/nodes/node-0  node-0 is running"
        );
    }
}
