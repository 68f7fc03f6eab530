//! Parsing of resource quantities as people write them: `1GiB`, `512M`, `0.5` cpu, `500m`.

use crate::error::ApiError;

/// Parses a byte size: a number with an optional unit (B, K/KiB, M/MiB, G/GiB, T/TiB,
/// KB/MB/GB decimal). A bare number is bytes.
pub fn parse_bytes(s: &str) -> Result<u64, ApiError> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid size {s:?}: expected e.g. 512MiB or 1GiB")))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "Ki" | "KiB" | "k" => 1 << 10,
        "M" | "Mi" | "MiB" => 1 << 20,
        "G" | "Gi" | "GiB" => 1 << 30,
        "T" | "Ti" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(ApiError::invalid(format!(
                "invalid size {s:?}: unknown unit {other:?} (use KiB, MiB, GiB)"
            )))
        }
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(ApiError::invalid(format!("invalid size {s:?}")));
    }
    Ok(bytes as u64)
}

/// Parses a cpu amount into millicpus: `1` → 1000, `0.5` → 500, `250m` → 250.
pub fn parse_millicpu(s: &str) -> Result<u32, ApiError> {
    let t = s.trim();
    let err = || ApiError::invalid(format!("invalid cpu amount {s:?}: expected e.g. 1, 0.5 or 500m"));
    let milli = if let Some(m) = t.strip_suffix('m') {
        m.parse::<u32>().map_err(|_| err())?
    } else {
        let v: f64 = t.parse().map_err(|_| err())?;
        if !v.is_finite() || v <= 0.0 || v > 1_000_000.0 {
            return Err(err());
        }
        (v * 1000.0).round() as u32
    };
    if milli == 0 {
        return Err(err());
    }
    Ok(milli)
}

/// Formats bytes with a binary unit for people: exact when whole (`64MiB`), else
/// one decimal (`1.9MiB`).
pub fn format_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (u, m) in UNITS {
        if b >= m {
            return if b.is_multiple_of(m) {
                format!("{}{u}", b / m)
            } else {
                format!("{:.1}{u}", b as f64 / m as f64)
            };
        }
    }
    format!("{b}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("1XB").is_err());
        assert!(parse_bytes("0").is_err());
        assert_eq!(format_bytes(1 << 30), "1GiB");
        assert_eq!(format_bytes(64 << 20), "64MiB");
        assert_eq!(format_bytes(1_982_000), "1.9MiB");
        assert_eq!(format_bytes(512), "512B");
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_millicpu("1").unwrap(), 1000);
        assert_eq!(parse_millicpu("0.5").unwrap(), 500);
        assert_eq!(parse_millicpu("250m").unwrap(), 250);
        assert!(parse_millicpu("0").is_err());
        assert!(parse_millicpu("-1").is_err());
        assert!(parse_millicpu("x").is_err());
    }
}
