//! `sha256:<hex>` digests and a reader that hashes what passes through it.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::ImageError;

/// The only algorithm the store names content with.
const PREFIX: &str = "sha256:";

/// Returns the hex part of a `sha256:<hex>` digest, refusing anything that could
/// name a path other than one store entry.
pub(crate) fn hex_of(digest: &str) -> Result<&str, ImageError> {
    let hex = digest
        .strip_prefix(PREFIX)
        .ok_or_else(|| ImageError::InvalidDigest(digest.to_string()))?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid {
        Ok(hex)
    } else {
        Err(ImageError::InvalidDigest(digest.to_string()))
    }
}

/// Formats a finished hasher as `sha256:<hex>`.
pub(crate) fn finish(hasher: Sha256) -> String {
    format!("{PREFIX}{}", hex::encode(hasher.finalize()))
}

/// The `sha256:<hex>` digest of a byte string.
pub(crate) fn of_bytes(bytes: &[u8]) -> String {
    finish(Sha256::new_with_prefix(bytes))
}

/// Hashes every byte read through it, so a stream is digested while it is unpacked.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads the rest of the stream (a tar reader stops before the trailing padding)
    /// and returns the digest of all of it.
    pub(crate) fn drain_and_finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(finish(self.hasher))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_refuses_paths_and_other_algorithms() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(hex_of(&good).unwrap(), "a".repeat(64));
        assert!(hex_of("sha256:../../etc").is_err());
        assert!(hex_of(&format!("sha512:{}", "a".repeat(64))).is_err());
        assert!(hex_of(&format!("sha256:{}", "A".repeat(64))).is_err());
    }

    #[test]
    fn hashing_reader_digests_the_whole_stream() {
        let mut reader = HashingReader::new(&b"hello world"[..]);
        let mut first = [0u8; 5];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(reader.drain_and_finish().unwrap(), of_bytes(b"hello world"));
    }
}
