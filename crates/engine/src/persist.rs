//! Durable store: pods, events and the resourceVersion counter in an embedded redb database,
//! written behind the in-memory store by one thread that batches whatever is pending into one
//! fsynced transaction (the apiserver's etcd, for one node).

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use k8s_openapi::api::core::v1::{Event, Pod};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const PODS: TableDefinition<&str, &[u8]> = TableDefinition::new("pods");
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Opening or creating the database file.
    #[error("open store {path}")]
    Open {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: Box<redb::Error>,
    },
    /// Reading it back.
    #[error("read store {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: Box<redb::Error>,
    },
}

/// One change to persist.
#[derive(Debug)]
pub(crate) enum Op {
    Pod(String, Option<Vec<u8>>),
    Event(String, Vec<u8>),
    Object(String, Option<Vec<u8>>),
    ResourceVersion(u64),
    Flush(mpsc::Sender<()>),
}

/// What a database held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Pods.
    pub pods: Vec<Pod>,
    /// Events.
    pub events: Vec<Event>,
    /// The resourceVersion counter.
    pub resource_version: u64,
    /// ConfigMaps and Secrets as JSON.
    pub objects: Vec<serde_json::Value>,
}

/// The write-behind handle.
#[derive(Debug, Clone)]
pub(crate) struct Persister {
    tx: mpsc::Sender<Op>,
}

impl Persister {
    pub(crate) fn send(&self, op: Op) {
        let _ = self.tx.send(op);
    }

    /// Waits until everything sent so far is on disk.
    pub(crate) fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Op::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

fn open_err(path: &Path) -> impl Fn(redb::Error) -> PersistError + '_ {
    move |e| PersistError::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn read_err(path: &Path) -> impl Fn(redb::Error) -> PersistError + '_ {
    move |e| PersistError::Read {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// Opens (or creates) the database, loads it, and starts the writer thread.
pub(crate) fn open(path: &Path) -> Result<(Persister, Loaded), PersistError> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let db = Database::create(path).map_err(|e| open_err(path)(e.into()))?;
    {
        let w = db.begin_write().map_err(|e| open_err(path)(e.into()))?;
        w.open_table(PODS).map_err(|e| open_err(path)(e.into()))?;
        w.open_table(EVENTS).map_err(|e| open_err(path)(e.into()))?;
        w.open_table(META).map_err(|e| open_err(path)(e.into()))?;
        w.open_table(OBJECTS)
            .map_err(|e| open_err(path)(e.into()))?;
        w.commit().map_err(|e| open_err(path)(e.into()))?;
    }
    let mut loaded = Loaded::default();
    {
        let r = db.begin_read().map_err(|e| read_err(path)(e.into()))?;
        let pods = r.open_table(PODS).map_err(|e| read_err(path)(e.into()))?;
        for item in pods.iter().map_err(|e| read_err(path)(e.into()))? {
            let (_, v) = item.map_err(|e| read_err(path)(e.into()))?;
            if let Ok(p) = serde_json::from_slice(v.value()) {
                loaded.pods.push(p);
            }
        }
        let events = r.open_table(EVENTS).map_err(|e| read_err(path)(e.into()))?;
        for item in events.iter().map_err(|e| read_err(path)(e.into()))? {
            let (_, v) = item.map_err(|e| read_err(path)(e.into()))?;
            if let Ok(e) = serde_json::from_slice(v.value()) {
                loaded.events.push(e);
            }
        }
        let objects = r
            .open_table(OBJECTS)
            .map_err(|e| read_err(path)(e.into()))?;
        for item in objects.iter().map_err(|e| read_err(path)(e.into()))? {
            let (_, v) = item.map_err(|e| read_err(path)(e.into()))?;
            if let Ok(o) = serde_json::from_slice(v.value()) {
                loaded.objects.push(o);
            }
        }
        let meta = r.open_table(META).map_err(|e| read_err(path)(e.into()))?;
        loaded.resource_version = meta
            .get("resourceVersion")
            .map_err(|e| read_err(path)(e.into()))?
            .map_or(0, |v| v.value());
    }
    loaded.events.sort_by(|a, b| {
        a.first_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.first_timestamp.as_ref().map(|t| t.0))
    });
    let (tx, rx) = mpsc::channel::<Op>();
    std::thread::Builder::new()
        .name("podvisor-store".into())
        .spawn(move || writer(db, rx))
        .map_err(|e| open_err(path)(redb::Error::Io(e)))?;
    Ok((Persister { tx }, loaded))
}

fn writer(db: Database, rx: mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while let Ok(more) = rx.try_recv() {
            ops.push(more);
        }
        let mut flushes = Vec::new();
        let result = (|| -> Result<(), redb::Error> {
            let w = db.begin_write()?;
            {
                let mut pods = w.open_table(PODS)?;
                let mut events = w.open_table(EVENTS)?;
                let mut meta = w.open_table(META)?;
                let mut objects = w.open_table(OBJECTS)?;
                for op in ops {
                    match op {
                        Op::Pod(k, Some(v)) => {
                            pods.insert(k.as_str(), v.as_slice())?;
                        }
                        Op::Pod(k, None) => {
                            pods.remove(k.as_str())?;
                        }
                        Op::Event(k, v) => {
                            events.insert(k.as_str(), v.as_slice())?;
                        }
                        Op::Object(k, Some(v)) => {
                            objects.insert(k.as_str(), v.as_slice())?;
                        }
                        Op::Object(k, None) => {
                            objects.remove(k.as_str())?;
                        }
                        Op::ResourceVersion(rv) => {
                            meta.insert("resourceVersion", rv)?;
                        }
                        Op::Flush(tx) => flushes.push(tx),
                    }
                }
            }
            w.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!("persisting the store failed: {e}");
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}
