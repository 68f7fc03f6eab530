//! Cluster templates built into the binary (`corral cluster create NAME --template T`):
//! spec files from the repository's `templates/` directory (corral-api embeds them).

use anyhow::{bail, Result};
use corral_api::template::TEMPLATES;

/// The YAML text of the template `name`.
pub fn text(name: &str) -> Result<&'static str> {
    match TEMPLATES.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Ok(text),
        None => {
            let names: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
            bail!("no template {name:?}: choose one of {}", names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cluster_spec::{parse_spec, validate};

    #[test]
    fn every_template_parses_as_a_spec() {
        for (name, text) in TEMPLATES {
            let spec = parse_spec(text, Some("t"), None).unwrap_or_else(|e| panic!("template {name}: {e:#}"));
            validate(&spec).unwrap();
        }
    }

    #[test]
    fn slurm_template_has_a_head_and_elastic_workers() {
        let spec = parse_spec(text("slurm").unwrap(), Some("hpc"), None).unwrap();
        assert_eq!(spec.image, "slurm");
        let groups = spec.groups();
        assert_eq!(groups[0].name, "head");
        assert_eq!(groups[0].count, 1);
        let worker = &groups[1];
        assert_eq!((worker.name.as_str(), worker.count), ("worker", 0));
        let elastic = worker.elastic.as_ref().unwrap();
        assert_eq!(elastic.min, 0);
        assert!(elastic.max >= 2);
        // The same wiring runs after recovery (a fresh writable layer).
        assert_eq!(spec.scripts.on_create, spec.scripts.on_recovery);
        assert!(spec.scripts.on_create.unwrap().contains("State=$state"));
    }

    #[test]
    fn unknown_template_names_the_known_ones() {
        let err = text("pbs").unwrap_err().to_string();
        assert!(err.contains("slurm"), "{err}");
    }
}
