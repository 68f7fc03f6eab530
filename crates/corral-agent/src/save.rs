//! A node's writable layer as a new image on top of the one it runs, without what
//! the host placed for that one node.

use std::path::Path;

use corral_image::{ImageManifest, ImageStore};

use crate::control_plane::AgentError;
use crate::node_files::NODE_LOCAL_PATHS;

/// Makes, in `images`, an image of `base` plus the writable layer at `upper`,
/// leaving out [`NODE_LOCAL_PATHS`]. Blocking: run it off the async threads.
pub fn save_node(images: &ImageStore, upper: &Path, base: &str) -> Result<ImageManifest, AgentError> {
    let base = images.manifest(base)?;
    Ok(images.save_excluding(upper, &base, NODE_LOCAL_PATHS)?)
}
