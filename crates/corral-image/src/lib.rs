//! Content-addressed image store: layers are unpacked directories named by the sha256
//! of their content, images are manifests listing layers; stored once however many
//! nodes use them. Names, owners and visibility live in the server's store, not here.
//! Other hosts pull images with [`ImageStore::export_layer`] on the server and
//! [`ImageStore::install_layer`] / [`ImageStore::install_manifest`] on the agent.

#![warn(missing_docs)]

mod build;
mod digest;
mod error;
mod export;
mod gc;
mod import;
mod install;
mod layer;
mod manifest;
mod oci;
mod save;
mod staging;
mod store;
mod transfer;
mod unpack;

pub use error::ImageError;
pub use gc::GcReport;
pub use manifest::{ImageConfig, ImageManifest};
pub use store::ImageStore;
pub use transfer::{export_dir, unpack_dir};
