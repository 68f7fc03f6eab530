//! Human rendering of images.

use corral_api::Image;

use super::{age, approx_bytes, fields, table, wire_name, Render};

/// The first 12 hex digits of a digest, enough to tell images apart by eye.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(12).collect()
}

impl Render for Vec<Image> {
    fn table(&self, now: u64) -> String {
        let rows = self
            .iter()
            .map(|i| {
                vec![
                    i.name.clone(),
                    i.owner.clone(),
                    wire_name(&i.visibility),
                    short_digest(&i.digest),
                    approx_bytes(i.size_bytes),
                    age(now, i.created_at),
                ]
            })
            .collect();
        table(&["NAME", "OWNER", "VISIBILITY", "DIGEST", "SIZE", "AGE"], rows)
    }
}

impl Render for Image {
    fn table(&self, now: u64) -> String {
        fields(&[
            ("Name", self.name.clone()),
            ("Owner", self.owner.clone()),
            ("Visibility", wire_name(&self.visibility)),
            ("Digest", self.digest.clone()),
            ("Layers", self.layers.to_string()),
            ("Size", approx_bytes(self.size_bytes)),
            ("Source", wire_name(&self.source)),
            ("Age", age(now, self.created_at)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use corral_api::{ImageSource, Visibility};

    use super::*;

    fn image() -> Image {
        Image {
            name: "minimal".into(),
            owner: "admin".into(),
            visibility: Visibility::Public,
            digest: format!("sha256:{}", "ab12".repeat(16)),
            layers: 1,
            size_bytes: 3 << 20,
            source: ImageSource::Built,
            created_at: 1_000_000 - 3 * 86400,
        }
    }

    #[test]
    fn list_has_the_promised_columns() {
        let text = vec![image()].table(1_000_000);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["NAME", "OWNER", "VISIBILITY", "DIGEST", "SIZE", "AGE"]);
        assert_eq!(lines[1], ["minimal", "admin", "public", "ab12ab12ab12", "3MiB", "3d"]);
    }

    #[test]
    fn show_has_the_full_digest() {
        let text = image().table(1_000_000);
        assert!(text.contains(&image().digest), "{text}");
        assert!(text.contains("Source:      built"), "{text}");
    }
}
