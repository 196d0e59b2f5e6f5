//! Pods and events as the API would return them, with a global monotonic resourceVersion and a
//! change feed. The single writer is the engine (its pod workers); readers clone snapshots.
//! Mirrors what the kubelet's status manager and event recorder publish to the API server
//! (`status_manager.go syncPod`, client-go `EventRecorder` aggregation).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use podvisor_lifecycle::action::EventRecord;
use podvisor_lifecycle::plan::PodKey;
use podvisor_lifecycle::time::WallClock;
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone)]
pub enum StoreChange {
    /// A pod was added, changed or removed.
    Pod(Box<PodChange>),
    /// Any other object (Namespace, ConfigMap, Secret, …) was added, changed or removed.
    Object(Box<ObjectChange>),
    /// An event was recorded or its count bumped.
    Event(Box<Event>),
}

impl StoreChange {
    /// The resourceVersion of a pod or object change (`None` for events).
    pub fn resource_version(&self) -> Option<u64> {
        match self {
            StoreChange::Pod(c) => Some(c.resource_version),
            StoreChange::Object(c) => Some(c.resource_version),
            StoreChange::Event(_) => None,
        }
    }
}

/// How many pod and object changes are kept for watches resuming from a resourceVersion.
pub const WATCH_HISTORY: usize = 8192;

/// A watch event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl WatchEventType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
        }
    }
}

/// A pod change as a watch delivers it.
#[derive(Debug, Clone)]
pub struct PodChange {
    /// The store's resourceVersion of the change.
    pub resource_version: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (the last state for `DELETED`).
    pub pod: Pod,
}

/// A change of an object kept as JSON (every kind but pods and events).
#[derive(Debug, Clone)]
pub struct ObjectChange {
    /// The store's resourceVersion of the change.
    pub resource_version: u64,
    /// Added, modified or deleted.
    pub type_: WatchEventType,
    /// The object's `kind`, e.g. `ConfigMap`.
    pub kind: String,
    /// The object after the change (the last state for `Deleted`).
    pub object: serde_json::Value,
}

/// A watch asked for a resourceVersion older than the kept history (410 Gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct TooOld {
    /// What was asked.
    pub requested: u64,
    /// The oldest resourceVersion still available.
    pub oldest: u64,
}

/// The namespaces every cluster has (and that may not be deleted).
pub const BUILTIN_NAMESPACES: [&str; 4] =
    ["default", "kube-node-lease", "kube-public", "kube-system"];

#[derive(Debug, Default)]
struct State {
    resource_version: u64,
    /// Objects other than pods and events as JSON, keyed by (kind, namespace, name).
    objects: BTreeMap<(String, String, String), serde_json::Value>,
    pods: BTreeMap<PodKey, Pod>,
    events: Vec<Event>,
    /// Pod and object changes, oldest first.
    history: std::collections::VecDeque<StoreChange>,
}

impl State {
    fn remember(&mut self, change: StoreChange) -> StoreChange {
        if self.history.len() >= WATCH_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        change
    }
}

/// The in-memory object store shared by the engine (writer) and its readers, optionally
/// written behind to disk ([`crate::persist`]).
#[derive(Debug, Clone)]
pub struct Store {
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<StoreChange>,
    node_name: String,
    persister: Option<crate::persist::Persister>,
}

fn pod_key_string(key: &PodKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

impl Store {
    /// An empty store for a node.
    pub fn new(node_name: &str) -> Self {
        Store {
            state: Arc::default(),
            changes: broadcast::channel(4096).0,
            node_name: node_name.to_string(),
            persister: None,
        }
    }

    /// A store backed by the database at `path`, loaded with what it held. Returns the pods
    /// found, for the engine to recover.
    pub fn open(
        node_name: &str,
        path: &std::path::Path,
    ) -> Result<(Self, Vec<Pod>), crate::persist::PersistError> {
        let (persister, loaded) = crate::persist::open(path)?;
        let mut store = Store::new(node_name);
        store.persister = Some(persister);
        {
            let mut st = store.lock();
            st.resource_version = loaded.resource_version;
            for p in &loaded.pods {
                let key = PodKey {
                    namespace: p
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                    name: p.metadata.name.clone().unwrap_or_default(),
                };
                st.pods.insert(key, p.clone());
            }
            st.events = loaded.events;
            for o in loaded.objects {
                let kind = o["kind"].as_str().unwrap_or_default().to_string();
                let ns = o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(if kind == "Namespace" { "" } else { "default" })
                    .to_string();
                let name = o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                st.objects.insert((kind, ns, name), o);
            }
        }
        Ok((store, loaded.pods))
    }

    /// Stores an object (Namespace, ConfigMap, Secret, …) with a new resourceVersion and
    /// records the change; returns the stored object. Unchanged writes are not changes.
    pub(crate) fn put_object(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        mut obj: serde_json::Value,
    ) -> serde_json::Value {
        let mut st = self.lock();
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        let type_ = match st.objects.get(&key) {
            Some(old) => {
                let mut a = old.clone();
                a["metadata"]["resourceVersion"] = serde_json::Value::Null;
                let mut b = obj.clone();
                b["metadata"]["resourceVersion"] = serde_json::Value::Null;
                if a == b {
                    return old.clone();
                }
                WatchEventType::Modified
            }
            None => WatchEventType::Added,
        };
        st.resource_version += 1;
        obj["metadata"]["resourceVersion"] =
            serde_json::Value::String(st.resource_version.to_string());
        st.objects.insert(key, obj.clone());
        self.object_changed(&mut st, type_, kind, &obj);
        if let Some(p) = &self.persister {
            p.send(crate::persist::Op::Object(
                format!("{kind}/{namespace}/{name}"),
                serde_json::to_vec(&obj).ok(),
            ));
            p.send(crate::persist::Op::ResourceVersion(st.resource_version));
        }
        obj
    }

    fn object_changed(
        &self,
        st: &mut State,
        type_: WatchEventType,
        kind: &str,
        obj: &serde_json::Value,
    ) {
        let change = st.remember(StoreChange::Object(Box::new(ObjectChange {
            resource_version: st.resource_version,
            type_,
            kind: kind.to_string(),
            object: obj.clone(),
        })));
        let _ = self.changes.send(change);
    }

    /// Removes an object; returns its last state.
    pub(crate) fn delete_object(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let mut st = self.lock();
        let mut obj =
            st.objects
                .remove(&(kind.to_string(), namespace.to_string(), name.to_string()))?;
        st.resource_version += 1;
        obj["metadata"]["resourceVersion"] =
            serde_json::Value::String(st.resource_version.to_string());
        self.object_changed(&mut st, WatchEventType::Deleted, kind, &obj);
        if let Some(p) = &self.persister {
            p.send(crate::persist::Op::Object(
                format!("{kind}/{namespace}/{name}"),
                None,
            ));
            p.send(crate::persist::Op::ResourceVersion(st.resource_version));
        }
        Some(obj)
    }

    /// The namespaces: the four every cluster has, the ones created through the API, and any
    /// a pod lives in (static pods, pods recovered from an older store); sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let st = self.lock();
        let mut ns: std::collections::BTreeSet<String> =
            BUILTIN_NAMESPACES.iter().map(|s| s.to_string()).collect();
        ns.extend(
            st.objects
                .keys()
                .filter(|(k, _, _)| k == "Namespace")
                .map(|(_, _, n)| n.clone()),
        );
        ns.extend(st.pods.keys().map(|k| k.namespace.clone()));
        ns.into_iter().collect()
    }

    /// Whether a namespace exists (see [`Store::namespaces`]).
    pub fn namespace_exists(&self, name: &str) -> bool {
        BUILTIN_NAMESPACES.contains(&name) || {
            let st = self.lock();
            st.objects
                .contains_key(&("Namespace".to_string(), String::new(), name.to_string()))
                || st.pods.keys().any(|k| k.namespace == name)
        }
    }

    /// A namespaced object.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        self.lock()
            .objects
            .get(&(kind.to_string(), namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a kind (optionally in one namespace).
    pub fn objects(&self, kind: &str, namespace: Option<&str>) -> Vec<serde_json::Value> {
        self.lock()
            .objects
            .iter()
            .filter(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The ConfigMaps and Secrets, typed, for pods' environment and volumes.
    pub fn config_objects(&self) -> crate::objects::Objects {
        crate::objects::Objects {
            config_maps: self
                .objects("ConfigMap", None)
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect(),
            secrets: self
                .objects("Secret", None)
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect(),
        }
    }

    /// Waits until every write so far is on disk (no-op without persistence).
    pub fn flush(&self) {
        if let Some(p) = &self.persister {
            p.flush();
        }
    }

    fn persist_pod(&self, key: &PodKey, pod: Option<&Pod>, rv: u64) {
        if let Some(p) = &self.persister {
            p.send(crate::persist::Op::Pod(
                pod_key_string(key),
                pod.and_then(|p| serde_json::to_vec(p).ok()),
            ));
            p.send(crate::persist::Op::ResourceVersion(rv));
        }
    }

    fn persist_event(&self, e: &Event, rv: u64) {
        if let Some(p) = &self.persister {
            let name = format!(
                "{}/{}",
                e.metadata.namespace.clone().unwrap_or_default(),
                e.metadata.name.clone().unwrap_or_default()
            );
            if let Ok(v) = serde_json::to_vec(e) {
                p.send(crate::persist::Op::Event(name, v));
            }
            p.send(crate::persist::Op::ResourceVersion(rv));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the data is still consistent per write.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribe to changes.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.changes.subscribe()
    }

    /// Writes a pod (stamping a new resourceVersion); returns the stored object. A write that
    /// changes nothing but the resourceVersion is not a change.
    pub(crate) fn put_pod(&self, key: &PodKey, mut pod: Pod) -> Pod {
        let mut st = self.lock();
        let kind = match st.pods.get(key) {
            Some(old) => {
                pod.metadata
                    .resource_version
                    .clone_from(&old.metadata.resource_version);
                if *old == pod {
                    return pod;
                }
                "MODIFIED"
            }
            None => "ADDED",
        };
        st.resource_version += 1;
        pod.metadata.resource_version = Some(st.resource_version.to_string());
        st.pods.insert(key.clone(), pod.clone());
        self.pod_changed(&mut st, kind, &pod);
        self.persist_pod(key, Some(&pod), st.resource_version);
        pod
    }

    fn pod_changed(&self, st: &mut State, kind: &'static str, pod: &Pod) {
        let change = st.remember(StoreChange::Pod(Box::new(PodChange {
            resource_version: st.resource_version,
            kind,
            pod: pod.clone(),
        })));
        let _ = self.changes.send(change);
    }

    /// Removes a pod object; returns its last state.
    pub(crate) fn delete_pod(&self, key: &PodKey) -> Option<Pod> {
        let mut st = self.lock();
        let mut pod = st.pods.remove(key)?;
        st.resource_version += 1;
        pod.metadata.resource_version = Some(st.resource_version.to_string());
        self.pod_changed(&mut st, "DELETED", &pod);
        self.persist_pod(key, None, st.resource_version);
        Some(pod)
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Every pod and the resourceVersion they were read at, atomically.
    pub fn list_pods(&self) -> (Vec<Pod>, u64) {
        let st = self.lock();
        (st.pods.values().cloned().collect(), st.resource_version)
    }

    /// Pod and object changes after `rv`, and a receiver for later ones (events included),
    /// taken atomically so that no change is lost or repeated between the two.
    pub fn watch_since(
        &self,
        rv: u64,
    ) -> Result<(Vec<StoreChange>, broadcast::Receiver<StoreChange>), TooOld> {
        let st = self.lock();
        let oldest = st
            .history
            .front()
            .and_then(StoreChange::resource_version)
            .map_or(st.resource_version, |v| v.saturating_sub(1));
        if rv < oldest {
            return Err(TooOld {
                requested: rv,
                oldest,
            });
        }
        let changes = st
            .history
            .iter()
            .filter(|c| c.resource_version().is_some_and(|v| v > rv))
            .cloned()
            .collect();
        Ok((changes, self.changes.subscribe()))
    }

    /// Pod changes after `rv` (see [`Store::watch_since`]).
    pub fn watch_pods_since(
        &self,
        rv: u64,
    ) -> Result<(Vec<PodChange>, broadcast::Receiver<StoreChange>), TooOld> {
        let (changes, rx) = self.watch_since(rv)?;
        let pods = changes
            .into_iter()
            .filter_map(|c| match c {
                StoreChange::Pod(p) => Some(*p),
                _ => None,
            })
            .collect();
        Ok((pods, rx))
    }

    /// Every object of a kind (optionally in one namespace) and the resourceVersion they were
    /// read at, atomically.
    pub fn list_objects(
        &self,
        kind: &str,
        namespace: Option<&str>,
    ) -> (Vec<serde_json::Value>, u64) {
        let st = self.lock();
        let items = st
            .objects
            .iter()
            .filter(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (items, st.resource_version)
    }

    /// A pod by key.
    pub fn pod(&self, key: &PodKey) -> Option<Pod> {
        self.lock().pods.get(key).cloned()
    }

    /// Every pod, ordered by namespace and name.
    pub fn pods(&self) -> Vec<Pod> {
        self.lock().pods.values().cloned().collect()
    }

    /// Every event and the resourceVersion they were read at, atomically.
    pub fn list_events(&self) -> (Vec<Event>, u64) {
        let st = self.lock();
        (st.events.clone(), st.resource_version)
    }

    /// Every event, in the order first recorded.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// Records a kubelet event about a pod, aggregating repeats as client-go's recorder does
    /// (same object, field path, type, reason and message: count + 1, lastTimestamp moved).
    pub(crate) fn record_event(&self, pod: &Pod, record: &EventRecord, wall: &WallClock) -> Event {
        let mut st = self.lock();
        st.resource_version += 1;
        let rv = st.resource_version.to_string();
        let at = wall.k8s_time(record.at);
        let same = |e: &Event| {
            e.involved_object.uid == pod.metadata.uid
                && e.involved_object.field_path == record.field_path
                && e.reason.as_deref() == Some(record.reason.as_str())
                && e.message.as_deref() == Some(record.message.as_str())
                && e.type_.as_deref() == Some(record.event_type.as_str())
        };
        if let Some(e) = st.events.iter_mut().find(|e| same(e)) {
            e.count = Some(e.count.unwrap_or(1) + 1);
            e.last_timestamp = Some(at);
            e.metadata.resource_version = Some(rv);
            let e = e.clone();
            let _ = self.changes.send(StoreChange::Event(Box::new(e.clone())));
            self.persist_event(&e, st.resource_version);
            return e;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let wall_at = wall.at(record.at);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", wall_at.as_nanosecond())),
                namespace: pod.metadata.namespace.clone(),
                resource_version: Some(rv),
                creation_timestamp: Some(at.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(name),
                namespace: pod.metadata.namespace.clone(),
                uid: pod.metadata.uid.clone(),
                field_path: record.field_path.clone(),
                resource_version: pod.metadata.resource_version.clone(),
            },
            reason: Some(record.reason.clone()),
            message: Some(record.message.clone()),
            type_: Some(record.event_type.as_str().to_string()),
            source: Some(EventSource {
                component: Some(
                    if record.reason == "Scheduled" {
                        "default-scheduler"
                    } else {
                        "kubelet"
                    }
                    .into(),
                ),
                host: (record.reason != "Scheduled").then(|| self.node_name.clone()),
            }),
            first_timestamp: Some(at.clone()),
            last_timestamp: Some(at),
            count: Some(1),
            event_time: None::<MicroTime>,
            reporting_component: Some(
                if record.reason == "Scheduled" {
                    "default-scheduler"
                } else {
                    "kubelet"
                }
                .into(),
            ),
            reporting_instance: Some(self.node_name.clone()),
            ..Default::default()
        };
        st.events.push(event.clone());
        let _ = self
            .changes
            .send(StoreChange::Event(Box::new(event.clone())));
        self.persist_event(&event, st.resource_version);
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, label: u64) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.labels = Some([("n".to_string(), label.to_string())].into());
        p
    }

    fn key(name: &str) -> PodKey {
        PodKey {
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn resource_versions_are_global_and_monotonic_and_unchanged_writes_are_not_changes() {
        let s = Store::new("node");
        let a = s.put_pod(&key("a"), pod("a", 0));
        let b = s.put_pod(&key("b"), pod("b", 0));
        let again = s.put_pod(&key("a"), pod("a", 0));
        assert_eq!(a.metadata.resource_version.as_deref(), Some("1"));
        assert_eq!(b.metadata.resource_version.as_deref(), Some("2"));
        assert_eq!(again.metadata.resource_version.as_deref(), Some("1"));
        s.delete_pod(&key("a"));
        assert_eq!(s.resource_version(), 3);
    }

    #[test]
    fn a_watch_gets_added_modified_deleted_after_its_resource_version() {
        let s = Store::new("node");
        s.put_pod(&key("a"), pod("a", 0));
        let rv = s.resource_version();
        s.put_pod(&key("a"), pod("a", 1));
        s.delete_pod(&key("a"));
        s.put_pod(&key("b"), pod("b", 0));
        let (changes, _rx) = s.watch_pods_since(rv).unwrap();
        let kinds: Vec<&str> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec!["MODIFIED", "DELETED", "ADDED"]);
    }

    #[test]
    fn a_watch_from_before_the_kept_history_is_gone() {
        let s = Store::new("node");
        for i in 0..(WATCH_HISTORY as u64 + 10) {
            s.put_pod(&key("a"), pod("a", i));
        }
        let err = s.watch_pods_since(1).unwrap_err();
        assert_eq!(err.requested, 1);
        assert!(s.watch_pods_since(s.resource_version() - 5).is_ok());
    }
}
