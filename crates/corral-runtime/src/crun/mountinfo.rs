//! What is mounted where, from `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

use super::io_err;
use crate::RuntimeError;

/// Mount points of this mount namespace, in mount order.
pub(crate) fn mount_points() -> Result<Vec<PathBuf>, RuntimeError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(io_err("read /proc/self/mountinfo"))?;
    Ok(parse_mount_points(&text))
}

/// Whether `path` is a mount point.
pub(crate) fn is_mount_point(path: &Path) -> Result<bool, RuntimeError> {
    Ok(mount_points()?.iter().any(|m| m == path))
}

/// Mount points at or below `dir`, deepest last.
pub(crate) fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>, RuntimeError> {
    Ok(mount_points()?.into_iter().filter(|m| m.starts_with(dir)).collect())
}

/// The fifth field of each line is the mount point, with spaces and the like
/// escaped as octal (`\040`).
fn parse_mount_points(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_octal(field)))
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(digits)) => {
                let value = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mount_points_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(
            parse_mount_points(text),
            vec![PathBuf::from("/mnt/a b"), PathBuf::from("/proc")]
        );
    }

    #[test]
    fn leaves_lone_backslashes() {
        assert_eq!(unescape_octal("a\\9b\\"), "a\\9b\\");
    }
}
