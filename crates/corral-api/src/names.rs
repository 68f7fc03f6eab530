//! Name rules: every cluster, node group, image and user name is a DNS label, so it
//! can be a hostname inside a cluster and a path segment in the API.

use crate::error::{ApiError, ErrorCode};

/// Longest name accepted; shorter than the DNS limit of 63 so `<group>-<index>` fits.
pub const MAX_NAME_LEN: usize = 40;

/// Checks a DNS label: lowercase letters, digits and '-', starting with a letter,
/// not ending with '-', at most [`MAX_NAME_LEN`] characters.
pub fn validate_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidName,
            format!("invalid {kind} name {name:?}: {why}"),
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lowercase letter");
    }
    if name.ends_with('-') {
        return bad("it must not end with '-'");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("only lowercase letters, digits and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for n in ["demo", "a", "web-2", "node-10"] {
            validate_name("cluster", n).unwrap();
        }
    }

    #[test]
    fn rejects_bad_labels() {
        for n in ["", "Demo", "-a", "a-", "a_b", "1abc", "a.b", &"x".repeat(41)] {
            let e = validate_name("cluster", n).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidName, "{n}");
        }
    }
}
