//! Content-addressed image store: layers are unpacked directories named by the sha256
//! of their content, images are manifests listing layers; stored once however many
//! nodes use them. Names, owners and visibility live in the server's store, not here.

mod store;

pub use store::{ImageConfig, ImageError, ImageManifest, ImageStore};
