//! Printing API objects as a human table, JSON or YAML: the same types in all three.

mod cluster;
mod event;
mod host;
mod image;
mod node;
mod operation;
mod user;

#[cfg(test)]
pub(crate) use operation::tests::operation as operation_for_tests;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use comfy_table::{presets, Table};
use serde::Serialize;

use crate::console::Console;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Columns for people.
    #[default]
    Table,
    /// Pretty-printed JSON, the API's own shape.
    Json,
    /// YAML, the API's own shape.
    Yaml,
}

/// An API object (or list) with a human rendering besides its serialised form.
pub trait Render: Serialize {
    /// The human rendering; ages are measured from `now` (seconds since the epoch).
    fn table(&self, now: u64) -> String;
}

/// Prints a value in the chosen format.
pub fn print<R: Render + ?Sized>(console: &mut Console, format: OutputFormat, value: &R) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Table => value.table(now()),
        _ => serialised(format, value)?,
    };
    console.print(&text);
    Ok(())
}

/// The JSON or YAML form of a value (the table form has no generic rendering).
pub fn serialised<T: Serialize + ?Sized>(format: OutputFormat, value: &T) -> anyhow::Result<String> {
    match format {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).context("encoding JSON")?;
            s.push('\n');
            Ok(s)
        }
        OutputFormat::Yaml | OutputFormat::Table => serde_yaml::to_string(value).context("encoding YAML"),
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Time since `then` in its largest whole unit: `5s`, `3m`, `2h`, `4d`.
pub fn age(now: u64, then: u64) -> String {
    // A server clock ahead of ours must not print a negative or huge age.
    let secs = now.saturating_sub(then);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// A borderless table with a header row, columns two spaces apart.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    for col in t.column_iter_mut() {
        col.set_padding((0, 2));
    }
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Key:  value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        out.push_str(format!("{label:<width$}  {value}").trim_end());
        out.push('\n');
    }
    out
}

/// The name an enum has on the wire, e.g. `running`.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Millicpus as people write them: `1`, `2`, `500m`.
pub fn format_cpu(millis: u32) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// A size for reading at a glance, e.g. `1.9MiB`; limits, which people set exactly,
/// use `quantity::format_bytes` instead.
pub fn approx_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if b >= size {
            let v = b as f64 / size as f64;
            return if v >= 100.0 || b % size == 0 {
                format!("{v:.0}{unit}")
            } else {
                format!("{v:.1}{unit}")
            };
        }
    }
    format!("{b}B")
}

/// Placeholder for an absent value in a table cell.
pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_the_largest_unit() {
        assert_eq!(age(100, 95), "5s");
        assert_eq!(age(1000, 1000), "0s");
        assert_eq!(age(1000, 2000), "0s");
        assert_eq!(age(200, 20), "3m");
        assert_eq!(age(10_000, 10_000 - 2 * 3600 - 59), "2h");
        assert_eq!(age(1_000_000, 1_000_000 - 4 * 86400 - 5), "4d");
        assert_eq!(age(3600, 1), "59m");
    }

    #[test]
    fn tables_align_columns_without_borders() {
        let text = table(
            &["NAME", "STATE"],
            vec![
                vec!["a".into(), "running".into()],
                vec!["longer-name".into(), "x".into()],
            ],
        );
        assert_eq!(text, "NAME         STATE\na            running\nlonger-name  x\n");
    }

    #[test]
    fn fields_align_values() {
        let text = fields(&[("Name", "demo".into()), ("Subnet", "10.0.0.0/24".into())]);
        assert_eq!(text, "Name:    demo\nSubnet:  10.0.0.0/24\n");
    }

    #[test]
    fn approximate_sizes() {
        assert_eq!(approx_bytes(1_982_342), "1.9MiB");
        assert_eq!(approx_bytes(3 << 20), "3MiB");
        assert_eq!(approx_bytes(300 << 20), "300MiB");
        assert_eq!(approx_bytes(512), "512B");
    }

    #[test]
    fn cpu_amounts() {
        assert_eq!(format_cpu(1000), "1");
        assert_eq!(format_cpu(500), "500m");
    }

    #[test]
    fn json_and_yaml_are_the_wire_shape() {
        let v = serde_json::json!({"name": "demo"});
        assert_eq!(
            serialised(OutputFormat::Json, &v).unwrap(),
            "{\n  \"name\": \"demo\"\n}\n"
        );
        assert_eq!(serialised(OutputFormat::Yaml, &v).unwrap(), "name: demo\n");
    }
}
