//! Images: content-addressed layers plus config, with an owner and a visibility.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who may use an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Only its owner.
    Private,
    /// Every user.
    Public,
}

/// How an image came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Built by `corral image build`.
    Built,
    /// Imported from a tarball or OCI archive.
    Imported,
    /// Saved from a node.
    Saved,
}

/// An image as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "minimal", "owner": "admin", "visibility": "public", "digest": "sha256:3657dee8dff46bd09bfa48051317e3183926ced43ea308210886820423d63fff", "layers": 1, "size_bytes": 1982330, "source": "built", "created_at": 1795328211}))]
pub struct Image {
    /// Image name.
    pub name: String,
    /// Owner (`admin` for built-in images).
    pub owner: String,
    /// Who may use it.
    pub visibility: Visibility,
    /// sha256 digest of its manifest.
    pub digest: String,
    /// Number of layers.
    pub layers: usize,
    /// Unpacked size in bytes.
    pub size_bytes: u64,
    /// How it was made.
    pub source: ImageSource,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

/// Body of `POST /v1/images/build`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"recipe": "minimal", "name": "tools"}))]
#[serde(deny_unknown_fields)]
pub struct BuildImageRequest {
    /// Recipe: `minimal` (busybox), `debian` (debootstrap bookworm) or `slurm` (debian with
    /// Slurm, munge and Open MPI).
    pub recipe: String,
    /// Image name; defaults to the recipe's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
