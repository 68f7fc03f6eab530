//! The embedded driver: one SQLite file in WAL mode.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::broadcast;

use crate::{Compare, KeyValue, Op, Store, StoreError, WatchEvent};

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    events: broadcast::Sender<WatchEvent>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        // WAL with synchronous=FULL: a commit is on disk when txn returns, so an
        // acknowledged request survives kill -9 and power loss alike.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (
                 key TEXT PRIMARY KEY,
                 value BLOB NOT NULL,
                 mod_revision INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (
                 name TEXT PRIMARY KEY,
                 value INTEGER NOT NULL);
             INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0);",
        )?;
        let (events, _) = broadcast::channel(4096);
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            events,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn mod_revision(conn: &Connection, key: &str) -> Result<Option<u64>, rusqlite::Error> {
    conn.query_row("SELECT mod_revision FROM kv WHERE key = ?1", params![key], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
    .map(|o| o.map(|v| v as u64))
}

fn holds(conn: &Connection, c: &Compare) -> Result<bool, rusqlite::Error> {
    Ok(match c {
        Compare::Absent(k) => mod_revision(conn, k)?.is_none(),
        Compare::ModRevision(k, rev) => mod_revision(conn, k)? == Some(*rev),
    })
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let conn = self.lock();
        let kv = conn
            .query_row("SELECT value, mod_revision FROM kv WHERE key = ?1", params![key], |r| {
                Ok(KeyValue {
                    key: key.to_string(),
                    value: r.get(0)?,
                    mod_revision: r.get::<_, i64>(1)? as u64,
                })
            })
            .optional()?;
        Ok(kv)
    }

    fn list(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let conn = self.lock();
        // Range scan [prefix, prefix + U+10FFFF) uses the primary-key index.
        let end = format!("{prefix}\u{10FFFF}");
        let mut stmt =
            conn.prepare_cached("SELECT key, value, mod_revision FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key")?;
        let rows = stmt.query_map(params![prefix, end], |r| {
            Ok(KeyValue {
                key: r.get(0)?,
                value: r.get(1)?,
                mod_revision: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn txn(&self, compares: &[Compare], ops: &[Op]) -> Result<Option<u64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for c in compares {
            if !holds(&tx, c)? {
                return Ok(None);
            }
        }
        let rev: i64 = tx.query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get(0))?;
        let rev = rev + 1;
        tx.execute("UPDATE meta SET value = ?1 WHERE name = 'revision'", params![rev])?;
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    tx.execute(
                        "INSERT INTO kv(key, value, mod_revision) VALUES (?1, ?2, ?3)
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                         mod_revision = excluded.mod_revision",
                        params![k, v, rev],
                    )?;
                }
                Op::Delete(k) => {
                    tx.execute("DELETE FROM kv WHERE key = ?1", params![k])?;
                }
            }
        }
        tx.commit()?;
        drop(conn);
        let rev = rev as u64;
        for op in ops {
            let (key, value) = match op {
                Op::Put(k, v) => (k.clone(), Some(v.clone())),
                Op::Delete(k) => (k.clone(), None),
            };
            // No receivers is fine: nobody is watching yet.
            let _ = self.events.send(WatchEvent {
                revision: rev,
                key,
                value,
            });
        }
        Ok(Some(rev))
    }

    fn revision(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        let rev: i64 = conn.query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get(0))?;
        Ok(rev as u64)
    }

    fn watch(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn put_get_list_delete() {
        let (_d, s) = store();
        let r1 = s.txn(&[], &[Op::Put("/a/1".into(), b"x".to_vec())]).unwrap().unwrap();
        s.txn(&[], &[Op::Put("/a/2".into(), b"y".to_vec())]).unwrap();
        s.txn(&[], &[Op::Put("/b/1".into(), b"z".to_vec())]).unwrap();
        assert_eq!(s.get("/a/1").unwrap().unwrap().mod_revision, r1);
        let keys: Vec<_> = s.list("/a/").unwrap().into_iter().map(|kv| kv.key).collect();
        assert_eq!(keys, ["/a/1", "/a/2"]);
        s.txn(&[], &[Op::Delete("/a/1".into())]).unwrap();
        assert!(s.get("/a/1").unwrap().is_none());
        assert_eq!(s.revision().unwrap(), 4);
    }

    #[test]
    fn compare_and_swap() {
        let (_d, s) = store();
        let put = |v: &[u8]| vec![Op::Put("/k".into(), v.to_vec())];
        let r = s.txn(&[Compare::Absent("/k".into())], &put(b"1")).unwrap().unwrap();
        assert!(s.txn(&[Compare::Absent("/k".into())], &put(b"2")).unwrap().is_none());
        assert!(s
            .txn(&[Compare::ModRevision("/k".into(), r + 5)], &put(b"2"))
            .unwrap()
            .is_none());
        s.txn(&[Compare::ModRevision("/k".into(), r)], &put(b"3"))
            .unwrap()
            .unwrap();
        assert_eq!(s.get("/k").unwrap().unwrap().value, b"3");
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            s.txn(&[], &[Op::Put("/k".into(), b"v".to_vec())]).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.get("/k").unwrap().unwrap().value, b"v");
        assert_eq!(s.revision().unwrap(), 1);
    }

    #[test]
    fn watch_sees_commits() {
        let (_d, s) = store();
        let mut w = s.watch();
        s.txn(&[], &[Op::Put("/k".into(), b"v".to_vec())]).unwrap();
        let e = w.try_recv().unwrap();
        assert_eq!(e.key, "/k");
        assert_eq!(e.value.as_deref(), Some(&b"v"[..]));
    }
}
