//! Helpers shared by the image store's tests: tar and OCI archive builders.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// Builds a tar stream entry by entry with exact modes and owners.
pub struct TarBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        Self {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, mode: u32, uid: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(uid);
        header.set_mtime(1_700_000_000);
        header.set_size(0);
        header
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut header = Self::header(EntryType::Directory, mode, 0);
        self.builder.append_data(&mut header, path, &[][..]).unwrap();
        self
    }

    pub fn file(mut self, path: &str, content: &str, mode: u32, uid: u64) -> Self {
        let mut header = Self::header(EntryType::Regular, mode, uid);
        header.set_size(content.len() as u64);
        self.builder.append_data(&mut header, path, content.as_bytes()).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn chardev(mut self, path: &str, major: u32, minor: u32) -> Self {
        let mut header = Self::header(EntryType::Char, 0o666, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.builder.append_data(&mut header, path, &[][..]).unwrap();
        self
    }

    /// A file whose name is written raw, bypassing the builder's path checks.
    pub fn raw_file(mut self, name: &[u8], content: &str) -> Self {
        let mut header = Self::header(EntryType::Regular, 0o644, 0);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(content.len() as u64);
        header.set_cksum();
        self.builder.append(&header, content.as_bytes()).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OCI image layout being assembled: blobs plus the top-level files.
pub struct OciArchive {
    files: Vec<(String, Vec<u8>)>,
}

impl Default for OciArchive {
    fn default() -> Self {
        Self::new()
    }
}

impl OciArchive {
    pub fn new() -> Self {
        Self {
            files: vec![("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())],
        }
    }

    /// Adds a blob; returns its descriptor JSON fields (digest, size).
    pub fn blob(&mut self, bytes: Vec<u8>) -> (String, usize) {
        let digest = sha256(&bytes);
        let size = bytes.len();
        let hex = digest.trim_start_matches("sha256:").to_string();
        self.files.push((format!("blobs/sha256/{hex}"), bytes));
        (digest, size)
    }

    pub fn index(&mut self, json: String) {
        self.files.push(("index.json".into(), json.into_bytes()));
    }

    /// The layout as a tar archive, as `skopeo copy ... oci-archive:` writes it.
    pub fn write_to(&self, path: &Path) {
        let mut tar = TarBuilder::new().dir("blobs", 0o755).dir("blobs/sha256", 0o755);
        for (name, bytes) in &self.files {
            tar = tar.binary(name, bytes);
        }
        std::fs::write(path, tar.finish()).unwrap();
    }
}

impl TarBuilder {
    pub fn binary(mut self, path: &str, content: &[u8]) -> Self {
        let mut header = Self::header(EntryType::Regular, 0o644, 0);
        header.set_size(content.len() as u64);
        self.builder.append_data(&mut header, path, content).unwrap();
        self
    }
}

/// Names of the entries of a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
