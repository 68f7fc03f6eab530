//! Cluster templates: ready-made specs shipped with Corral (`templates/*.yaml`), which
//! `corral cluster create --template NAME` and the web UI start from.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cluster::ClusterSpec;

/// One template as `GET /v1/templates` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterTemplate {
    /// Template name, as `--template` takes it, e.g. `slurm`.
    pub name: String,
    /// What it makes, in one line (the template file's first comment line).
    pub description: String,
    /// The spec it stands for, exactly as the CLI reads the file; `name` is empty
    /// (whoever creates the cluster names it).
    pub spec: ClusterSpec,
}

/// Each built-in template's name and YAML text, embedded at compile time: the CLI's
/// `--template` and the server's `GET /v1/templates` read the same files.
pub const TEMPLATES: &[(&str, &str)] = &[("slurm", include_str!("../../../templates/slurm.yaml"))];
