//! The state store: the source of truth of a Corral pool.
//!
//! [`Store`] is a transactional key-value seam with compare-and-swap and a watch, the
//! shape that both the embedded SQLite driver ([`sqlite::SqliteStore`]) and an etcd
//! driver fit. [`typed`] adds JSON documents on top.

pub mod sqlite;
pub mod typed;

use tokio::sync::broadcast;

/// One stored key with its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Key, a `/`-separated path.
    pub key: String,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Store revision of the last write to this key.
    pub mod_revision: u64,
}

/// A condition a transaction checks before it applies its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist.
    Absent(String),
    /// The key exists with exactly this modification revision.
    ModRevision(String, u64),
}

/// A write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set a key.
    Put(String, Vec<u8>),
    /// Remove a key (no error when absent).
    Delete(String),
}

/// A change seen by watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Revision of the transaction that made the change.
    pub revision: u64,
    /// Key changed.
    pub key: String,
    /// New value, or `None` when deleted.
    pub value: Option<Vec<u8>>,
}

/// Errors of a store driver.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite driver failed.
    #[error("sqlite store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document could not be decoded or encoded.
    #[error("stored document {key}: {source}")]
    Codec {
        /// Key of the document.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// An I/O error opening the store.
    #[error("store i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A transactional key-value store with a watch.
pub trait Store: Send + Sync {
    /// The value of one key.
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;
    /// All keys starting with `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError>;
    /// Applies `ops` atomically if every compare holds; returns the new revision, or
    /// `None` when a compare failed (nothing was written).
    fn txn(&self, compares: &[Compare], ops: &[Op]) -> Result<Option<u64>, StoreError>;
    /// The current revision.
    fn revision(&self) -> Result<u64, StoreError>;
    /// A receiver of every change committed from now on.
    fn watch(&self) -> broadcast::Receiver<WatchEvent>;
}
