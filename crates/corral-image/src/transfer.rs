//! Moving a node's writable layer between hosts (cold migration): the same OCI tar
//! form as layer distribution, for a directory that is not in the store.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::ImageError;
use crate::unpack::{unpack, Whiteouts};

/// Writes a directory (a stopped node's writable layer) as an OCI-form tar stream.
pub fn export_dir(dir: &Path, out: &mut dyn Write) -> Result<(), ImageError> {
    crate::export::write_layer(dir, out)
}

/// Unpacks such a stream into `dest`, turning OCI whiteouts back into overlayfs form.
pub fn unpack_dir(input: &mut dyn Read, dest: &Path) -> Result<(), ImageError> {
    std::fs::create_dir_all(dest).map_err(|source| ImageError::Io {
        context: format!("creating {}", dest.display()),
        source,
    })?;
    unpack(&mut tar::Archive::new(input), dest, Whiteouts::ConvertOci)
}
