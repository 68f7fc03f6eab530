//! JSON documents on top of a [`Store`].

use serde::{de::DeserializeOwned, Serialize};

use crate::{KeyValue, Op, Store, StoreError};

/// A decoded document with the revision it was read at, for compare-and-swap.
#[derive(Debug, Clone)]
pub struct Doc<T> {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: T,
    /// Its modification revision.
    pub revision: u64,
}

fn decode<T: DeserializeOwned>(kv: KeyValue) -> Result<Doc<T>, StoreError> {
    let value = serde_json::from_slice(&kv.value).map_err(|source| StoreError::Codec {
        key: kv.key.clone(),
        source,
    })?;
    Ok(Doc {
        key: kv.key,
        value,
        revision: kv.mod_revision,
    })
}

/// Reads one document.
pub fn get<T: DeserializeOwned>(s: &dyn Store, key: &str) -> Result<Option<Doc<T>>, StoreError> {
    s.get(key)?.map(decode).transpose()
}

/// Reads every document under a prefix.
pub fn list<T: DeserializeOwned>(s: &dyn Store, prefix: &str) -> Result<Vec<Doc<T>>, StoreError> {
    s.list(prefix)?.into_iter().map(decode).collect()
}

/// A put operation of a document, for use in a transaction.
pub fn put_op<T: Serialize>(key: &str, value: &T) -> Result<Op, StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Codec {
        key: key.to_string(),
        source,
    })?;
    Ok(Op::Put(key.to_string(), bytes))
}
