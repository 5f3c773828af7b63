//! berth-store: the daemon's metadata database.
//!
//! One [redb] file (`<data-root>/berth.redb`) holds every record berthd keeps:
//! images and tags (written by `berth-graph`), containers and reserved names
//! (written by `berth-engine`). This crate is a thin typed layer over it:
//!
//! - a [`Table<V>`] names a redb table whose keys are strings and whose values
//!   are `V` stored as JSON, so records stay readable and can gain fields
//!   (`#[serde(default)]`) without a migration;
//! - [`Store::read`] gives a consistent snapshot ([`ReadTxn`]);
//! - [`Store::write`] runs a closure in one write transaction ([`WriteTxn`])
//!   that spans any number of tables and commits only when the closure returns
//!   `Ok` — "create the container record and reserve its name" or "write the
//!   image record and its tag" are atomic;
//! - the single-operation helpers ([`Store::get`], [`Store::put`], ...) are
//!   shorthands for a one-statement transaction.
//!
//! Commits are durable (`fsync`) when `write` returns: redb's default
//! `Durability::Immediate`.
//!
//! A redb file can be open only once at a time, so a daemon opens the store
//! once and hands clones of the [`Store`] (a reference-counted handle) to the
//! graph and the engine.
//!
//! ```no_run
//! use berth_store::{Store, Table};
//!
//! const NAMES: Table<String> = Table::new("names");
//!
//! let store = Store::open("/var/lib/berth/berth.redb".as_ref())?;
//! store.write(|txn| {
//!     if txn.get(NAMES, "web")?.is_some() {
//!         return Err(berth_store::StoreError::Exists {
//!             table: NAMES.name(),
//!             key: "web".into(),
//!         });
//!     }
//!     txn.put(NAMES, "web", &"1a2b...".to_string())
//! })?;
//! # Ok::<(), berth_store::StoreError>(())
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// File name of the database inside the data root.
pub const DB_FILE_NAME: &str = "berth.redb";

/// How long [`Store::open`] waits for another process to let go of the
/// database (a daemon killed an instant ago).
pub const OPEN_WAIT: Duration = Duration::from_secs(10);

/// Errors of the metadata store. Every variant names the table (and key) it
/// was working on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("failed to open metadata database {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: redb::DatabaseError,
    },
    /// Another process still held the database after the open waited
    /// [`OPEN_WAIT`] for it.
    #[error(
        "metadata database {path} is still open in another process after waiting {}s: is another berthd running on this data root?",
        waited.as_secs()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long the open waited.
        waited: Duration,
    },
    /// The directory meant to hold the database could not be created.
    #[error("failed to create directory {path} for the metadata database")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A transaction could not be started.
    #[error("failed to begin a {kind} transaction on the metadata database")]
    Begin {
        /// `"read"` or `"write"`.
        kind: &'static str,
        /// What redb reported.
        #[source]
        source: redb::TransactionError,
    },
    /// A table could not be opened.
    #[error("failed to open table {table:?}")]
    Table {
        /// The table name.
        table: &'static str,
        /// What redb reported.
        #[source]
        source: redb::TableError,
    },
    /// Reading or writing a record failed in the storage layer.
    #[error("failed to {op} key {key:?} in table {table:?}")]
    Storage {
        /// `"read"`, `"write"`, `"delete"` or `"scan"`.
        op: &'static str,
        /// The table name.
        table: &'static str,
        /// The key (empty for scans).
        key: String,
        /// What redb reported.
        #[source]
        source: redb::StorageError,
    },
    /// A stored value is not valid JSON for the table's record type.
    #[error("record {key:?} in table {table:?} is not a valid {type_name}")]
    Decode {
        /// The table name.
        table: &'static str,
        /// The key.
        key: String,
        /// The Rust type the record was decoded into.
        type_name: &'static str,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be encoded as JSON.
    #[error("failed to encode record {key:?} for table {table:?}")]
    Encode {
        /// The table name.
        table: &'static str,
        /// The key.
        key: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// [`WriteTxn::insert_new`] found the key already present.
    #[error("key {key:?} already exists in table {table:?}")]
    Exists {
        /// The table name.
        table: &'static str,
        /// The key.
        key: String,
    },
    /// The write transaction could not be committed; nothing was written.
    #[error("failed to commit a write transaction to the metadata database")]
    Commit {
        /// What redb reported.
        #[source]
        source: redb::CommitError,
    },
}

/// A named table of JSON records of type `V`, keyed by strings.
///
/// Tables are declared as constants by the crate that owns them; a table
/// that was never written reads as empty.
pub struct Table<V> {
    name: &'static str,
    _record: PhantomData<fn() -> V>,
}

impl<V> Table<V> {
    /// Declares a table. `name` must be unique in the database and should be
    /// prefixed by the owning component (`"graph.images"`, `"engine.containers"`).
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _record: PhantomData,
        }
    }

    /// The table's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn definition(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }
}

impl<V> Clone for Table<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Table<V> {}

impl<V> fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Table").field(&self.name).finish()
    }
}

/// A handle on the open database. Cloning is cheap; all clones share the file.
#[derive(Clone)]
pub struct Store {
    db: Arc<redb::Database>,
    path: Arc<PathBuf>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the database file at `path`, creating it (and its parent
    /// directory) when missing. While another process holds it, waits up to
    /// [`OPEN_WAIT`] (see [`Store::open_waiting`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_waiting(path, OPEN_WAIT)
    }

    /// Opens the database file at `path` like [`Store::open`], waiting at
    /// most `wait` for another holder to let go of it.
    ///
    /// redb holds an exclusive `flock(2)` on the file while a [`Store`] is
    /// open. A daemon killed with SIGKILL drops it only once the kernel has
    /// torn the process down (and any process that shares the open file
    /// has let go), which a restart started right away can beat; so an open
    /// that finds the file locked tries again, with a growing pause, until
    /// `wait` has passed, and then fails with [`StoreError::Locked`].
    pub fn open_waiting(path: &Path, wait: Duration) -> Result<Self, StoreError> {
        const FIRST_PAUSE: Duration = Duration::from_millis(10);
        const LONGEST_PAUSE: Duration = Duration::from_millis(250);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let deadline = Instant::now() + wait;
        let mut pause = FIRST_PAUSE;
        let db = loop {
            match redb::Database::create(path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(StoreError::Locked {
                            path: path.to_path_buf(),
                            waited: wait,
                        });
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(source) => {
                    return Err(StoreError::Open {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        };
        Ok(Self {
            db: Arc::new(db),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// Opens `<data_root>/berth.redb` (see [`DB_FILE_NAME`]).
    pub fn open_in(data_root: &Path) -> Result<Self, StoreError> {
        Self::open(&data_root.join(DB_FILE_NAME))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent read-only snapshot of every table.
    pub fn read(&self) -> Result<ReadTxn, StoreError> {
        let txn = self.db.begin_read().map_err(|source| StoreError::Begin {
            kind: "read",
            source,
        })?;
        Ok(ReadTxn { txn })
    }

    /// Runs `f` in one write transaction and commits when it returns `Ok`.
    ///
    /// When `f` returns `Err` (or panics) the transaction is aborted and
    /// nothing it wrote is visible. Write transactions are serialised: a
    /// second writer waits for the first to finish.
    pub fn write<R, E>(&self, f: impl FnOnce(&mut WriteTxn) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let txn = self.db.begin_write().map_err(|source| StoreError::Begin {
            kind: "write",
            source,
        })?;
        let mut txn = WriteTxn { txn };
        // On error `txn` is dropped uncommitted, which aborts it.
        let value = f(&mut txn)?;
        txn.txn
            .commit()
            .map_err(|source| StoreError::Commit { source })?;
        Ok(value)
    }

    /// Reads one record.
    pub fn get<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        self.read()?.get(table, key)
    }

    /// Every record of a table, in key order.
    pub fn list<V: DeserializeOwned>(
        &self,
        table: Table<V>,
    ) -> Result<Vec<(String, V)>, StoreError> {
        self.read()?.list(table)
    }

    /// The records whose key starts with `prefix`, in key order.
    pub fn scan_prefix<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        prefix: &str,
    ) -> Result<Vec<(String, V)>, StoreError> {
        self.read()?.scan_prefix(table, prefix)
    }

    /// Writes one record (insert or replace) in its own transaction.
    pub fn put<V: Serialize>(
        &self,
        table: Table<V>,
        key: &str,
        value: &V,
    ) -> Result<(), StoreError> {
        self.write(|txn| txn.put(table, key, value))
    }

    /// Deletes one record in its own transaction; returns whether it existed.
    pub fn delete<V>(&self, table: Table<V>, key: &str) -> Result<bool, StoreError> {
        self.write(|txn| txn.delete(table, key))
    }
}

/// A read-only snapshot (see [`Store::read`]).
pub struct ReadTxn {
    txn: redb::ReadTransaction,
}

impl ReadTxn {
    fn open<V>(
        &self,
        table: Table<V>,
    ) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>, StoreError> {
        match self.txn.open_table(table.definition()) {
            Ok(t) => Ok(Some(t)),
            // A table nobody wrote yet is an empty table, not an error.
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(source) => Err(StoreError::Table {
                table: table.name,
                source,
            }),
        }
    }

    /// Reads one record.
    pub fn get<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        let Some(t) = self.open(table)? else {
            return Ok(None);
        };
        get_in(&t, table, key)
    }

    /// Every record of a table, in key order.
    pub fn list<V: DeserializeOwned>(
        &self,
        table: Table<V>,
    ) -> Result<Vec<(String, V)>, StoreError> {
        self.scan_prefix(table, "")
    }

    /// The records whose key starts with `prefix`, in key order.
    pub fn scan_prefix<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        prefix: &str,
    ) -> Result<Vec<(String, V)>, StoreError> {
        let Some(t) = self.open(table)? else {
            return Ok(Vec::new());
        };
        scan_in(&t, table, prefix)
    }
}

/// An open write transaction (see [`Store::write`]).
pub struct WriteTxn {
    txn: redb::WriteTransaction,
}

impl WriteTxn {
    fn open<V>(
        &self,
        table: Table<V>,
    ) -> Result<redb::Table<'_, &'static str, &'static [u8]>, StoreError> {
        self.txn
            .open_table(table.definition())
            .map_err(|source| StoreError::Table {
                table: table.name,
                source,
            })
    }

    /// Reads one record, seeing this transaction's own writes.
    pub fn get<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        key: &str,
    ) -> Result<Option<V>, StoreError> {
        get_in(&self.open(table)?, table, key)
    }

    /// Every record of a table, in key order.
    pub fn list<V: DeserializeOwned>(
        &self,
        table: Table<V>,
    ) -> Result<Vec<(String, V)>, StoreError> {
        self.scan_prefix(table, "")
    }

    /// The records whose key starts with `prefix`, in key order.
    pub fn scan_prefix<V: DeserializeOwned>(
        &self,
        table: Table<V>,
        prefix: &str,
    ) -> Result<Vec<(String, V)>, StoreError> {
        scan_in(&self.open(table)?, table, prefix)
    }

    /// Writes one record, replacing any previous value.
    pub fn put<V: Serialize>(
        &mut self,
        table: Table<V>,
        key: &str,
        value: &V,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            table: table.name,
            key: key.to_owned(),
            source,
        })?;
        let mut t = self.open(table)?;
        t.insert(key, bytes.as_slice())
            .map_err(storage_error("write", table.name, key))?;
        Ok(())
    }

    /// Writes one record only if the key is absent; otherwise fails with
    /// [`StoreError::Exists`] (and the caller's transaction is aborted when it
    /// propagates the error).
    pub fn insert_new<V: Serialize + DeserializeOwned>(
        &mut self,
        table: Table<V>,
        key: &str,
        value: &V,
    ) -> Result<(), StoreError> {
        if self.contains(table, key)? {
            return Err(StoreError::Exists {
                table: table.name,
                key: key.to_owned(),
            });
        }
        self.put(table, key, value)
    }

    /// Whether a key is present.
    pub fn contains<V>(&self, table: Table<V>, key: &str) -> Result<bool, StoreError> {
        let t = self.open(table)?;
        let found = t.get(key).map_err(storage_error("read", table.name, key))?;
        Ok(found.is_some())
    }

    /// Deletes one record; returns whether it existed.
    pub fn delete<V>(&mut self, table: Table<V>, key: &str) -> Result<bool, StoreError> {
        let mut t = self.open(table)?;
        let old = t
            .remove(key)
            .map_err(storage_error("delete", table.name, key))?;
        Ok(old.is_some())
    }
}

/// Maps a storage-layer failure of `op` on `key` in `table`.
fn storage_error(
    op: &'static str,
    table: &'static str,
    key: &str,
) -> impl FnOnce(redb::StorageError) -> StoreError {
    let key = key.to_owned();
    move |source| StoreError::Storage {
        op,
        table,
        key,
        source,
    }
}

fn decode<V: DeserializeOwned>(
    table: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<V, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        table,
        key: key.to_owned(),
        type_name: std::any::type_name::<V>(),
        source,
    })
}

fn get_in<V: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    table: Table<V>,
    key: &str,
) -> Result<Option<V>, StoreError> {
    let found = t.get(key).map_err(storage_error("read", table.name, key))?;
    found
        .map(|guard| decode(table.name, key, guard.value()))
        .transpose()
}

fn scan_in<V: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    table: Table<V>,
    prefix: &str,
) -> Result<Vec<(String, V)>, StoreError> {
    let scan_err = || storage_error("scan", table.name, prefix);
    let mut out = Vec::new();
    // Keys are compared bytewise, so every key with the prefix sorts at or
    // after the prefix itself and they are contiguous.
    for item in t.range::<&str>(prefix..).map_err(scan_err())? {
        let (k, v) = item.map_err(scan_err())?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        out.push((key.to_owned(), decode(table.name, key, v.value())?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        n: u32,
        s: String,
    }

    const RECS: Table<Rec> = Table::new("test.recs");
    const NAMES: Table<String> = Table::new("test.names");

    fn rec(n: u32) -> Rec {
        Rec {
            n,
            s: format!("r{n}"),
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(&dir.path().join("nested/root")).unwrap();
        (dir, store)
    }

    #[test]
    fn an_open_waits_for_the_holder_to_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE_NAME);
        let first = Store::open(&path).unwrap();
        first.put(NAMES, "kept", &"yes".to_owned()).unwrap();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let second = std::thread::spawn({
            let path = path.clone();
            move || {
                let store = Store::open_waiting(&path, Duration::from_secs(60));
                let _ = opened_tx.send(());
                store
            }
        });
        // The second open is waiting, not failing: it only gets the file
        // once the first lets go.
        assert!(
            opened_rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second open returned while the first held the database"
        );
        drop(first);
        let second = second
            .join()
            .unwrap()
            .expect("the open waited for the lock");
        assert_eq!(second.get(NAMES, "kept").unwrap().as_deref(), Some("yes"));
    }

    #[test]
    fn an_open_gives_up_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE_NAME);
        let _held = Store::open(&path).unwrap();
        let err = Store::open_waiting(&path, Duration::from_millis(50))
            .expect_err("the database is held");
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("still open in another process"),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn put_get_delete_round_trip() {
        let (_d, store) = store();
        assert_eq!(store.get(RECS, "a").unwrap(), None);
        store.put(RECS, "a", &rec(1)).unwrap();
        assert_eq!(store.get(RECS, "a").unwrap(), Some(rec(1)));
        store.put(RECS, "a", &rec(2)).unwrap();
        assert_eq!(store.get(RECS, "a").unwrap(), Some(rec(2)));
        assert!(store.delete(RECS, "a").unwrap());
        assert!(!store.delete(RECS, "a").unwrap());
        assert_eq!(store.get(RECS, "a").unwrap(), None);
    }

    #[test]
    fn list_and_prefix_scan_are_ordered_and_bounded() {
        let (_d, store) = store();
        for key in ["img/b", "img/a", "imh", "im", "img/c", "z"] {
            store.put(NAMES, key, &key.to_uppercase()).unwrap();
        }
        let keys: Vec<_> = store
            .scan_prefix(NAMES, "img/")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["img/a", "img/b", "img/c"]);
        let all = store.list(NAMES).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all[0], ("im".to_string(), "IM".to_string()));
        assert!(
            store.list(RECS).unwrap().is_empty(),
            "unwritten table reads empty"
        );
    }

    #[test]
    fn multi_table_write_is_atomic() {
        let (_d, store) = store();
        store
            .write(|txn| {
                txn.put(RECS, "c1", &rec(1))?;
                txn.insert_new(NAMES, "web", &"c1".to_string())
            })
            .unwrap();
        // A second container wanting the same name: the record must not land.
        let err = store
            .write(|txn| {
                txn.put(RECS, "c2", &rec(2))?;
                txn.insert_new(NAMES, "web", &"c2".to_string())
            })
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Exists { table: "test.names", key } if key == "web"),
            "{err}"
        );
        assert_eq!(store.get(RECS, "c2").unwrap(), None);
        assert_eq!(store.get(NAMES, "web").unwrap(), Some("c1".into()));
    }

    #[test]
    fn caller_error_aborts_and_own_writes_are_visible_inside() {
        #[derive(Debug)]
        enum MyErr {
            Store,
            Nope,
        }
        impl From<StoreError> for MyErr {
            fn from(_: StoreError) -> Self {
                MyErr::Store
            }
        }
        let (_d, store) = store();
        let r: Result<(), MyErr> = store.write(|txn| {
            txn.put(RECS, "x", &rec(7))?;
            assert_eq!(txn.get(RECS, "x")?, Some(rec(7)));
            assert!(txn.contains(RECS, "x")?);
            Err(MyErr::Nope)
        });
        assert!(matches!(r, Err(MyErr::Nope)));
        assert_eq!(store.get(RECS, "x").unwrap(), None);
    }

    #[test]
    fn snapshot_does_not_see_later_writes() {
        let (_d, store) = store();
        store.put(RECS, "a", &rec(1)).unwrap();
        let snap = store.read().unwrap();
        store.put(RECS, "b", &rec(2)).unwrap();
        assert_eq!(snap.list(RECS).unwrap().len(), 1);
        assert_eq!(store.list(RECS).unwrap().len(), 2);
    }

    #[test]
    fn reopen_keeps_data_and_bad_records_are_named() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open_in(dir.path()).unwrap();
            store.put(NAMES, "k", &"v".to_string()).unwrap();
        }
        let store = Store::open_in(dir.path()).unwrap();
        assert_eq!(store.get(NAMES, "k").unwrap(), Some("v".into()));
        // Same table read as a different record type: a decode error naming it.
        const WRONG: Table<Rec> = Table::new("test.names");
        let err = store.get(WRONG, "k").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"k\"") && msg.contains("test.names"), "{msg}");
    }

    #[test]
    fn open_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("berth.redb")).unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
