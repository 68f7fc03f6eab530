//! Human rendering of hosts and join tokens.

use corral_api::{quantity::format_bytes, EnergyReport, Host, JoinToken};

use super::{age, fields, table, wire_name, Render};

fn cpus(millis: u64) -> String {
    let c = millis as f64 / 1000.0;
    if c.fract() == 0.0 {
        format!("{c:.0}")
    } else {
        format!("{c:.1}")
    }
}

fn labels(h: &Host) -> String {
    h.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `on`, or `off (ipmi)` for a host whose power Corral switches.
fn power(h: &Host) -> String {
    match &h.power.driver {
        Some(d) => format!("{} ({d})", h.power.state.as_str()),
        None => h.power.state.as_str().to_string(),
    }
}

impl Render for Vec<Host> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|h| {
                vec![
                    h.name.clone(),
                    wire_name(&h.state),
                    h.address.clone(),
                    format!("{}/{}", cpus(h.used_cpu_millis), cpus(h.capacity.cpu_millis)),
                    format!(
                        "{}/{}",
                        format_bytes(h.used_memory_bytes),
                        format_bytes(h.capacity.memory_bytes)
                    ),
                    h.nodes.to_string(),
                    power(h),
                    format!("{:.0}", h.energy.watts),
                    labels(h),
                    age(now, h.last_seen),
                ]
            })
            .collect();
        table(
            &[
                "NAME", "STATE", "ADDRESS", "CPU", "MEMORY", "NODES", "POWER", "WATTS", "LABELS", "SEEN",
            ],
            rows,
        )
    }
}

impl Render for Host {
    fn table(&self, now: u64) -> String {
        fields(&[
            ("Name", self.name.clone()),
            ("State", wire_name(&self.state)),
            ("Address", self.address.clone()),
            (
                "Cpu",
                format!(
                    "{} used of {}",
                    cpus(self.used_cpu_millis),
                    cpus(self.capacity.cpu_millis)
                ),
            ),
            (
                "Memory",
                format!(
                    "{} used of {}",
                    format_bytes(self.used_memory_bytes),
                    format_bytes(self.capacity.memory_bytes)
                ),
            ),
            ("Nodes", self.nodes.to_string()),
            ("Power", power(self)),
            (
                "Energy",
                format!(
                    "{:.0} W now; {} drawn, {} saved",
                    self.energy.watts,
                    kwh(self.energy.joules),
                    kwh(self.energy.saved_joules)
                ),
            ),
            ("Power reason", self.power.reason.clone().unwrap_or_else(|| "-".into())),
            ("Power error", self.power.error.clone().unwrap_or_else(|| "-".into())),
            ("Labels", labels(self)),
            ("Seen", format!("{} ago", age(now, self.last_seen))),
        ])
    }
}

fn kwh(joules: f64) -> String {
    format!("{:.3} kWh", joules / 3.6e6)
}

impl Render for EnergyReport {
    fn table(&self, now: u64) -> String {
        let mut out = fields(&[
            (
                "Since",
                if self.since == 0 {
                    "accounting has not started yet".to_string()
                } else {
                    format!("{} ago", age(now, self.since))
                },
            ),
            ("Drawing now", format!("{:.0} W", self.watts)),
            ("Drawn", kwh(self.joules)),
            ("Always on would be", kwh(self.baseline_joules)),
            (
                "Saved",
                format!("{} ({:.1}%)", kwh(self.saved_joules), self.saved_fraction * 100.0),
            ),
        ]);
        let rows: Vec<Vec<String>> = self
            .clusters
            .iter()
            .map(|(c, j)| vec!["cluster".into(), c.clone(), kwh(*j)])
            .chain(
                self.projects
                    .iter()
                    .map(|(p, j)| vec!["project".into(), p.clone(), kwh(*j)]),
            )
            .collect();
        if !rows.is_empty() {
            out.push('\n');
            out.push_str(&table(&["CHARGED TO", "NAME", "ENERGY"], rows));
        }
        out
    }
}

impl Render for JoinToken {
    fn table(&self, now: u64) -> String {
        let left = self.expires_at.saturating_sub(now);
        format!(
            "{}\n# one-time; expires in {}m. On the new host:\n#   corral agent --join https://<server>:7701 --token {}\n",
            self.token,
            left / 60,
            self.token
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rows_line_up_with_the_header() {
        let h = Host {
            name: "h1".into(),
            address: "10.0.0.1".into(),
            state: corral_api::HostState::Ready,
            labels: [("site".to_string(), "a".to_string())].into(),
            capacity: corral_api::agent::HostCapacity {
                cpu_millis: 4000,
                memory_bytes: 8 << 30,
            },
            used_cpu_millis: 1000,
            used_memory_bytes: 1 << 30,
            nodes: 2,
            last_seen: 990,
            power: corral_api::HostPower {
                state: corral_api::PowerState::PoweringOff,
                driver: Some("ipmi".into()),
                ..Default::default()
            },
            energy: corral_api::HostEnergy {
                watts: 150.4,
                ..Default::default()
            },
        };
        let text = vec![h].table(1000);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            ["NAME", "STATE", "ADDRESS", "CPU", "MEMORY", "NODES", "POWER", "WATTS", "LABELS", "SEEN"]
        );
        let at = |name: &str| lines[0].find(name).unwrap();
        assert_eq!(&lines[1][at("WATTS")..at("WATTS") + 3], "150", "{text}");
        assert_eq!(&lines[1][at("LABELS")..at("LABELS") + 6], "site=a", "{text}");
        assert!(lines[1].contains("powering_off (ipmi)"), "{text}");
    }

    #[test]
    fn energy_before_accounting_starts_says_so() {
        let text = EnergyReport::default().table(1000);
        assert!(text.contains("not started"), "{text}");
        assert!(!text.contains("-0"), "{text}");
    }
}
