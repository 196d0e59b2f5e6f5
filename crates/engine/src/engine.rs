//! The pod registry: accepts pods, starts one worker per pod, forwards deletions, and lets
//! callers wait for pods to finish. Mirrors the kubelet's `HandlePodAdditions` /
//! `HandlePodRemoves` dispatch into `podWorkers.UpdatePod`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use k8s_openapi::api::core::v1::Pod;
use podvisor_lifecycle::machine::{NodeInfo, PodMachine};
use podvisor_lifecycle::plan::{PodKey, PodPlan};
use tokio::sync::{broadcast, mpsc, watch};

use crate::clock::Clock;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::timeline::TimelineEntry;
use crate::worker::{Objects, PodWorker, WorkerMsg};

/// Where the engine keeps its files and what node it pretends to be.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Root of pod directories and logs.
    pub state_dir: PathBuf,
    /// `spec.nodeName` of every pod.
    pub node_name: String,
    /// `status.hostIP`.
    pub host_ip: String,
    /// Remove a deleted pod's object from the store once every process is gone (the API
    /// server's behaviour); `podvisor run` keeps them to print the final state.
    pub remove_deleted_pods: bool,
}

/// Why the engine refused a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A pod with this namespace/name is already running.
    #[error("pod {0} already exists")]
    AlreadyExists(PodKey),
    /// No such pod.
    #[error("pod {0} not found")]
    NotFound(PodKey),
    /// A connection into the pod failed.
    #[error("error forwarding port {1} to pod {0}: {2}")]
    Connect(PodKey, u16, String),
    /// The container has no running instance.
    #[error("container {1} of pod {0} is not running")]
    NotRunning(PodKey, String),
}

struct PodEntry {
    tx: mpsc::UnboundedSender<WorkerMsg>,
    done: watch::Receiver<Option<Pod>>,
}

/// The engine: pods, their workers, the store and the timeline feed.
pub struct Engine<R: Runtime> {
    runtime: Arc<R>,
    clock: Clock,
    store: Store,
    objects: Arc<RwLock<Objects>>,
    timeline: broadcast::Sender<TimelineEntry>,
    pods: Arc<Mutex<HashMap<PodKey, PodEntry>>>,
    config: EngineConfig,
}

impl<R: Runtime> Engine<R> {
    /// An engine over `runtime` with an in-memory store.
    pub fn new(runtime: R, config: EngineConfig) -> Self {
        let store = Store::new(&config.node_name);
        Self::with_store(runtime, config, store)
    }

    /// An engine over `runtime` publishing into `store` (e.g. a durable one).
    pub fn with_store(runtime: R, config: EngineConfig, store: Store) -> Self {
        Engine {
            runtime: Arc::new(runtime),
            clock: Clock::start(),
            store,
            objects: Arc::default(),
            timeline: broadcast::channel(16384).0,
            pods: Arc::default(),
            config,
        }
    }

    fn pods(&self) -> MutexGuard<'_, HashMap<PodKey, PodEntry>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The object store (pods with status, events).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<R> {
        &self.runtime
    }

    /// Subscribe to the timeline.
    pub fn subscribe(&self) -> broadcast::Receiver<TimelineEntry> {
        self.timeline.subscribe()
    }

    /// Replaces the ConfigMaps and Secrets pods may reference.
    pub fn set_objects(&self, objects: Objects) {
        if let Ok(mut o) = self.objects.write() {
            *o = objects;
        }
    }

    /// Accepts a pod and starts its worker.
    pub fn apply(&self, plan: PodPlan) -> Result<(), EngineError> {
        self.accept(plan, None)
    }

    /// Takes back a pod this node ran before it restarted, from its last published object:
    /// the sandbox and processes are gone, so lost containers are reported as the kubelet
    /// reports them and restarted per policy (see `PodMachine::recover`).
    pub fn recover(
        &self,
        plan: PodPlan,
        previous: &k8s_openapi::api::core::v1::PodStatus,
    ) -> Result<(), EngineError> {
        self.accept(plan, Some(previous))
    }

    fn accept(
        &self,
        mut plan: PodPlan,
        previous: Option<&k8s_openapi::api::core::v1::PodStatus>,
    ) -> Result<(), EngineError> {
        let mut pods = self.pods();
        if pods.contains_key(&plan.key) {
            return Err(EngineError::AlreadyExists(plan.key.clone()));
        }
        let now = self.clock.now();
        if plan.pod.metadata.creation_timestamp.is_none() {
            plan.pod.metadata.creation_timestamp = Some(self.clock.wall().k8s_time(now));
        }
        let pod_id = format!("{}_{}_{}", plan.key.namespace, plan.key.name, plan.uid);
        let node = NodeInfo {
            node_name: self.config.node_name.clone(),
            host_ip: self.config.host_ip.clone(),
        };
        let machine = match previous {
            Some(status) => PodMachine::recover(plan.clone(), self.clock.wall(), node, now, status),
            None => PodMachine::new(plan.clone(), self.clock.wall(), node, now),
        };
        let machine_pod = machine.pod();
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = watch::channel(None);
        let worker = PodWorker {
            machine,
            runtime: self.runtime.clone(),
            clock: self.clock,
            store: self.store.clone(),
            objects: self.objects.clone(),
            timeline: self.timeline.clone(),
            tx: tx.clone(),
            rx,
            pod_dir: self.config.state_dir.join("pods").join(&plan.uid),
            log_dir: self.config.state_dir.join("logs").join(&pod_id),
            node_name: self.config.node_name.clone(),
            host_ip: self.config.host_ip.clone(),
            sandbox: None,
            volumes: None,
            containers: HashMap::new(),
            probes: HashMap::new(),
            probe_epochs: HashMap::new(),
            hooks_started: HashMap::new(),
            removed: false,
            deletion_meta: None,
            last_phase: None,
            last_ready: HashMap::new(),
        };
        // The object exists from the moment the pod is accepted, as after an API create.
        self.store.put_pod(&plan.key, machine_pod);
        let store = self.store.clone();
        let registry = self.pods.clone();
        let remove = self.config.remove_deleted_pods;
        let key = plan.key.clone();
        tokio::spawn(async move {
            let pod = worker.run().await;
            if remove && pod.metadata.deletion_timestamp.is_some() {
                store.delete_pod(&key);
                registry
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            }
            let _ = done_tx.send(Some(pod));
        });
        pods.insert(plan.key, PodEntry { tx, done: done_rx });
        Ok(())
    }

    /// Deletes a pod gracefully (`None` = its spec's grace period; `Some(0)` = force).
    pub fn delete(
        &self,
        key: &PodKey,
        grace_period_seconds: Option<i64>,
    ) -> Result<(), EngineError> {
        let pods = self.pods();
        let entry = pods
            .get(key)
            .ok_or_else(|| EngineError::NotFound(key.clone()))?;
        let _ = entry.tx.send(WorkerMsg::Delete {
            grace_period_seconds,
        });
        Ok(())
    }

    /// Replaces a pod's labels and annotations.
    pub fn update_metadata(
        &self,
        key: &PodKey,
        labels: Option<std::collections::BTreeMap<String, String>>,
        annotations: Option<std::collections::BTreeMap<String, String>>,
    ) -> Result<(), EngineError> {
        let pods = self.pods();
        let entry = pods
            .get(key)
            .ok_or_else(|| EngineError::NotFound(key.clone()))?;
        let _ = entry.tx.send(WorkerMsg::Metadata {
            labels,
            annotations,
        });
        Ok(())
    }

    /// A command running `argv` in the current instance of a pod's container (`kubectl exec`).
    pub async fn exec_command(
        &self,
        key: &PodKey,
        container: &str,
        argv: &[String],
    ) -> Result<tokio::process::Command, EngineError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let pods = self.pods();
            let entry = pods
                .get(key)
                .ok_or_else(|| EngineError::NotFound(key.clone()))?;
            let _ = entry.tx.send(WorkerMsg::RunningContainer {
                name: container.to_string(),
                reply: tx,
            });
        }
        let id = rx
            .await
            .ok()
            .flatten()
            .ok_or_else(|| EngineError::NotRunning(key.clone(), container.to_string()))?;
        self.runtime
            .exec_command(&id, argv)
            .map_err(|e| EngineError::NotRunning(key.clone(), format!("{container}: {e}")))
    }

    /// A TCP connection to `port` on the pod's IP, from inside its network namespace
    /// (`kubectl port-forward`).
    pub async fn connect_to_pod(
        &self,
        key: &PodKey,
        port: u16,
    ) -> Result<tokio::net::TcpStream, EngineError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let pods = self.pods();
            let entry = pods
                .get(key)
                .ok_or_else(|| EngineError::NotFound(key.clone()))?;
            let _ = entry.tx.send(WorkerMsg::Sandbox { reply: tx });
        }
        let not_running = || EngineError::NotRunning(key.clone(), "pod sandbox".into());
        let (sandbox, ip) = rx.await.ok().flatten().ok_or_else(not_running)?;
        let ip: std::net::IpAddr = ip.parse().map_err(|_| not_running())?;
        self.runtime
            .connect_tcp(
                &sandbox,
                std::net::SocketAddr::new(ip, port),
                std::time::Duration::from_secs(5),
            )
            .await
            .map_err(|e| EngineError::Connect(key.clone(), port, crate::worker::error_chain(&e)))
    }

    /// The ConfigMaps and Secrets pods may reference.
    pub fn objects(&self) -> Objects {
        self.objects.read().map(|o| o.clone()).unwrap_or_default()
    }

    /// The directory holding a pod's container logs (`<container>/<restartCount>.log`).
    pub fn log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.config
            .state_dir
            .join("logs")
            .join(format!("{namespace}_{name}_{uid}"))
    }

    /// Deletes every pod.
    pub fn delete_all(&self, grace_period_seconds: Option<i64>) {
        for entry in self.pods().values() {
            let _ = entry.tx.send(WorkerMsg::Delete {
                grace_period_seconds,
            });
        }
    }

    /// Keys of every pod the engine has accepted.
    pub fn keys(&self) -> Vec<PodKey> {
        let mut keys: Vec<PodKey> = self.pods().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Waits until the pod has finished (terminal, every process gone); returns its final object.
    pub async fn wait(&self, key: &PodKey) -> Option<Pod> {
        let mut done = self.pods().get(key)?.done.clone();
        let r = done.wait_for(Option::is_some).await.ok()?.clone();
        r
    }

    /// Waits until every pod has finished; returns the final objects ordered by key.
    pub async fn wait_all(&self) -> Vec<Pod> {
        let mut out = Vec::new();
        for key in self.keys() {
            if let Some(p) = self.wait(&key).await {
                out.push(p);
            }
        }
        out
    }
}
