//! The engine's loop: the single writer of the store. It takes [`Command`]s from every
//! [`EngineHandle`], starts one worker per pod, forwards deletions and metadata changes to the
//! workers (which answer with the published object), writes the other objects, and lets callers
//! wait for pods to finish. Mirrors the kubelet's `syncLoopIteration` dispatch of config
//! updates into `HandlePodAdditions` / `HandlePodRemoves` → `podWorkers.UpdatePod`, with the
//! apiserver's registry writes for the kinds that have no worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use podvisor_lifecycle::machine::{NodeInfo, PodMachine};
use podvisor_lifecycle::plan::{PodKey, PodPlan};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::clock::Clock;
use crate::error::{error_chain, EngineError};
use crate::handle::{log_dir, Command, EngineHandle, Reply, WriteMode};
use crate::objects::Objects;
use crate::runtime::{ContainerId, Runtime, RuntimeError};
use crate::store::{Store, BUILTIN_NAMESPACES};
use crate::timeline::TimelineEntry;
use crate::worker::{PodWorker, WorkerIo, WorkerMsg};

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

struct PodEntry {
    uid: String,
    tx: mpsc::UnboundedSender<WorkerMsg>,
    done: watch::Receiver<Option<Pod>>,
}

/// Messages the loop sends itself.
enum Internal {
    /// A worker has returned: its pod is terminal and every process is gone.
    WorkerFinished {
        key: PodKey,
        uid: String,
        pod: Box<Pod>,
    },
}

/// The engine: pods and their workers, the store it writes, the timeline feed.
pub struct Engine<R: Runtime> {
    runtime: Arc<R>,
    clock: Clock,
    store: Store,
    objects: Arc<RwLock<Objects>>,
    timeline: broadcast::Sender<TimelineEntry>,
    pods: HashMap<PodKey, PodEntry>,
    /// Workers of force-deleted pods: their objects are gone (a new pod may take the name),
    /// their processes are still being stopped.
    detached: Vec<PodEntry>,
    /// Pods whose deletion was requested: their objects go when their workers return.
    deleting: std::collections::HashSet<PodKey>,
    config: EngineConfig,
    internal: mpsc::UnboundedSender<Internal>,
}

/// Starts the engine's loop over `runtime`, publishing into `store` (in-memory or durable),
/// and returns the handle to it. The loop ends when every handle is dropped.
pub fn start<R: Runtime>(runtime: R, config: EngineConfig, store: Store) -> EngineHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    let timeline = broadcast::channel(16384).0;
    let clock = Clock::start();
    let engine = Engine {
        runtime: Arc::new(runtime),
        clock,
        objects: Arc::new(RwLock::new(store.config_objects())),
        store: store.clone(),
        timeline: timeline.clone(),
        pods: HashMap::new(),
        detached: Vec::new(),
        deleting: Default::default(),
        config: config.clone(),
        internal: internal_tx,
    };
    tokio::spawn(engine.run(rx, internal_rx));
    EngineHandle {
        tx,
        store,
        clock,
        timeline,
        state_dir: config.state_dir,
        node_name: config.node_name,
        host_ip: config.host_ip,
    }
}

/// [`start`] with an in-memory store.
pub fn start_in_memory<R: Runtime>(runtime: R, config: EngineConfig) -> EngineHandle {
    let store = Store::new(&config.node_name);
    start(runtime, config, store)
}

fn answer<T>(reply: Reply<T>, result: Result<T, EngineError>) {
    // The caller may have gone away (a dropped request); nothing to do then.
    let _ = reply.send(result);
}

impl<R: Runtime> Engine<R> {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) {
        loop {
            tokio::select! {
                // Finished workers first, so a command never sees a worker that has returned.
                biased;
                Some(msg) = internal.recv() => self.internal(msg),
                cmd = commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
            }
        }
    }

    fn internal(&mut self, msg: Internal) {
        match msg {
            Internal::WorkerFinished { key, uid, pod } => {
                if self.pods.get(&key).is_none_or(|e| e.uid != uid) {
                    self.detached.retain(|e| e.uid != uid);
                    return;
                }
                let deleted =
                    self.deleting.remove(&key) || pod.metadata.deletion_timestamp.is_some();
                if self.config.remove_deleted_pods && deleted {
                    self.store.delete_pod(&key);
                    self.pods.remove(&key);
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::CreatePod { plan, reply } => {
                let r = self.accept(*plan, None);
                answer(reply, r);
            }
            Command::RecoverPod {
                plan,
                previous,
                reply,
            } => {
                let r = self.accept(*plan, Some(&previous));
                answer(reply, r);
            }
            Command::DeletePod {
                key,
                grace_period_seconds,
                reply,
            } => self.delete_pod(key, grace_period_seconds, reply),
            Command::UpdatePodMetadata {
                key,
                labels,
                annotations,
                reply,
            } => self.update_pod_metadata(key, labels, annotations, reply),
            Command::PutObject {
                kind,
                resource,
                namespace,
                name,
                object,
                mode,
                reply,
            } => {
                let r = self.put_object(&kind, &resource, &namespace, &name, *object, mode);
                answer(reply, r);
            }
            Command::DeleteObject {
                kind,
                resource,
                namespace,
                name,
                reply,
            } => {
                let r = self.delete_object(&kind, &resource, &namespace, &name);
                answer(reply, r);
            }
            Command::DeleteNamespace { name, reply } => {
                let r = self.delete_namespace(&name);
                answer(reply, r);
            }
            Command::ExecCommand {
                key,
                container,
                argv,
                reply,
            } => self.exec_command(key, container, argv, reply),
            Command::ExecTty {
                key,
                container,
                argv,
                reply,
            } => self.exec_tty(key, container, argv, reply),
            Command::AttachStdin {
                key,
                container,
                reply,
            } => self.attach_stdin(key, container, reply),
            Command::ConnectToPod { key, port, reply } => self.connect_to_pod(key, port, reply),
            Command::DeleteAll {
                grace_period_seconds,
                reply,
            } => {
                for (key, entry) in &self.pods {
                    if entry.done.borrow().is_none() {
                        self.deleting.insert(key.clone());
                    }
                    let _ = entry.tx.send(WorkerMsg::Delete {
                        grace_period_seconds,
                        remove_object: false,
                        reply: None,
                    });
                }
                for entry in &self.detached {
                    let _ = entry.tx.send(WorkerMsg::Delete {
                        grace_period_seconds,
                        remove_object: true,
                        reply: None,
                    });
                }
                answer(reply, Ok(()));
            }
            Command::KillAll { reply } => {
                for entry in self.pods.values().chain(&self.detached) {
                    let _ = entry.tx.send(WorkerMsg::KillNow);
                }
                answer(reply, Ok(()));
            }
            Command::ContainerProcesses { reply } => self.container_processes(reply),
            Command::PodKeys { reply } => {
                let mut keys: Vec<PodKey> = self.pods.keys().cloned().collect();
                keys.sort();
                answer(reply, Ok(keys));
            }
            Command::WaitPod { key, reply } => self.wait_pod(key, reply),
            Command::WaitAll { reply } => self.wait_all(reply),
        }
    }

    fn container_processes(&self, reply: Reply<Vec<crate::handle::PodProcesses>>) {
        let mut asks = Vec::new();
        for (key, entry) in &self.pods {
            let (tx, rx) = oneshot::channel();
            if entry.tx.send(WorkerMsg::Processes { reply: tx }).is_ok() {
                asks.push((key.clone(), rx));
            }
        }
        asks.sort_by(|a, b| a.0.cmp(&b.0));
        tokio::spawn(async move {
            let mut out = Vec::new();
            for (key, rx) in asks {
                // A worker that has returned answers nothing: it runs no process.
                if let Ok(pids) = rx.await {
                    out.push((key, pids));
                }
            }
            answer(reply, Ok(out));
        });
    }

    fn wait_pod(&self, key: PodKey, reply: Reply<Pod>) {
        let Some(mut done) = self.pods.get(&key).map(|e| e.done.clone()) else {
            return answer(reply, Err(EngineError::pod_not_found(&key)));
        };
        tokio::spawn(async move {
            let r = match done.wait_for(Option::is_some).await {
                Ok(p) => p.clone().ok_or(EngineError::Stopped),
                Err(_) => Err(EngineError::Stopped),
            };
            answer(reply, r);
        });
    }

    fn wait_all(&self, reply: Reply<Vec<Pod>>) {
        let mut waits: Vec<(PodKey, watch::Receiver<Option<Pod>>)> = self
            .pods
            .iter()
            .map(|(k, e)| (k.clone(), e.done.clone()))
            .collect();
        waits.sort_by(|a, b| a.0.cmp(&b.0));
        // Detached workers are waited for too (their processes), not reported.
        let detached: Vec<_> = self.detached.iter().map(|e| e.done.clone()).collect();
        tokio::spawn(async move {
            for mut done in detached {
                let _ = done.wait_for(Option::is_some).await;
            }
            let mut out = Vec::new();
            for (_, mut done) in waits {
                if let Ok(p) = done.wait_for(Option::is_some).await {
                    if let Some(p) = p.clone() {
                        out.push(p);
                    }
                }
            }
            answer(reply, Ok(out));
        });
    }

    fn accept(
        &mut self,
        mut plan: PodPlan,
        previous: Option<&PodStatus>,
    ) -> Result<Pod, EngineError> {
        // A recovered pod's object is in the store already; a new one's must not be.
        if self.pods.contains_key(&plan.key)
            || (previous.is_none() && self.store.pod(&plan.key).is_some())
        {
            return Err(EngineError::pod_exists(&plan.key));
        }
        let now = self.clock.now();
        if plan.pod.metadata.creation_timestamp.is_none() {
            plan.pod.metadata.creation_timestamp = Some(self.clock.wall().k8s_time(now));
        }
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
        let io = WorkerIo {
            runtime: self.runtime.clone(),
            clock: self.clock,
            store: self.store.clone(),
            objects: self.objects.clone(),
            timeline: self.timeline.clone(),
            tx: tx.clone(),
            pod_dir: self.config.state_dir.join("pods").join(&plan.uid),
            log_dir: log_dir(
                &self.config.state_dir,
                &plan.key.namespace,
                &plan.key.name,
                &plan.uid,
            ),
            node_name: self.config.node_name.clone(),
            host_ip: self.config.host_ip.clone(),
        };
        let worker = PodWorker::new(machine, rx, io);
        // The object exists from the moment the pod is accepted, as after an API create.
        let stored = self.store.put_pod(&plan.key, machine_pod);
        let internal = self.internal.clone();
        let key = plan.key.clone();
        let uid = plan.uid.clone();
        tokio::spawn(async move {
            let pod = worker.run().await;
            let _ = done_tx.send(Some(pod.clone()));
            let _ = internal.send(Internal::WorkerFinished {
                key,
                uid,
                pod: Box::new(pod),
            });
        });
        let entry = PodEntry {
            uid: plan.uid.clone(),
            tx,
            done: done_rx,
        };
        self.pods.insert(plan.key, entry);
        Ok(stored)
    }

    /// The worker of a pod that is still running (its task has not returned).
    fn live_worker(&self, key: &PodKey) -> Option<mpsc::UnboundedSender<WorkerMsg>> {
        self.pods
            .get(key)
            .filter(|e| e.done.borrow().is_none() && !e.tx.is_closed())
            .map(|e| e.tx.clone())
    }

    fn delete_pod(&mut self, key: PodKey, grace_period_seconds: Option<i64>, reply: Reply<Pod>) {
        if let Some(worker) = self.live_worker(&key) {
            let (tx, rx) = oneshot::channel();
            // A force delete removes the object at once, as the apiserver does; the worker
            // still stops the processes (1 s preStop, 2 s to SIGKILL).
            let remove_object = grace_period_seconds == Some(0) && self.config.remove_deleted_pods;
            self.deleting.insert(key.clone());
            if worker
                .send(WorkerMsg::Delete {
                    grace_period_seconds,
                    remove_object,
                    reply: Some(tx),
                })
                .is_ok()
            {
                if remove_object {
                    self.deleting.remove(&key);
                    if let Some(entry) = self.pods.remove(&key) {
                        self.detached.push(entry);
                    }
                }
                tokio::spawn(async move {
                    let r = rx.await.map_err(|_| EngineError::Stopped);
                    answer(reply, r);
                });
                return;
            }
        }
        // Nothing left to stop (a finished pod, or a record from before a restart): the object
        // goes at once.
        self.pods.remove(&key);
        let r = self
            .store
            .delete_pod(&key)
            .ok_or_else(|| EngineError::pod_not_found(&key));
        answer(reply, r);
    }

    fn update_pod_metadata(
        &mut self,
        key: PodKey,
        labels: Option<std::collections::BTreeMap<String, String>>,
        annotations: Option<std::collections::BTreeMap<String, String>>,
        reply: Reply<Pod>,
    ) {
        if let Some(worker) = self.live_worker(&key) {
            let (tx, rx) = oneshot::channel();
            if worker
                .send(WorkerMsg::Metadata {
                    labels: labels.clone(),
                    annotations: annotations.clone(),
                    reply: tx,
                })
                .is_ok()
            {
                tokio::spawn(async move {
                    let r = rx.await.map_err(|_| EngineError::Stopped);
                    answer(reply, r);
                });
                return;
            }
        }
        // A pod whose worker has returned is only a record: change the record.
        let r = match self.store.pod(&key) {
            Some(mut pod) => {
                pod.metadata.labels = labels;
                pod.metadata.annotations = annotations;
                Ok(self.store.put_pod(&key, pod))
            }
            None => Err(EngineError::pod_not_found(&key)),
        };
        answer(reply, r);
    }

    fn put_object(
        &mut self,
        kind: &str,
        resource: &str,
        namespace: &str,
        name: &str,
        object: Value,
        mode: WriteMode,
    ) -> Result<Value, EngineError> {
        let exists = self.store.object(kind, namespace, name).is_some()
            || (kind == "Namespace"
                && BUILTIN_NAMESPACES.contains(&name)
                && mode == WriteMode::Create);
        match mode {
            WriteMode::Create if exists => {
                return Err(EngineError::AlreadyExists {
                    resource: resource.into(),
                    namespace: namespace.into(),
                    name: name.into(),
                })
            }
            WriteMode::Update if !exists => {
                return Err(EngineError::NotFound {
                    resource: resource.into(),
                    namespace: namespace.into(),
                    name: name.into(),
                })
            }
            _ => {}
        }
        if !namespace.is_empty() && !self.store.namespace_exists(namespace) {
            return Err(EngineError::NotFound {
                resource: "namespaces".into(),
                namespace: String::new(),
                name: namespace.into(),
            });
        }
        let stored = self.store.put_object(kind, namespace, name, object);
        self.objects_changed(kind);
        Ok(stored)
    }

    fn delete_object(
        &mut self,
        kind: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, EngineError> {
        let removed = self
            .store
            .delete_object(kind, namespace, name)
            .ok_or_else(|| EngineError::NotFound {
                resource: resource.into(),
                namespace: namespace.into(),
                name: name.into(),
            })?;
        self.objects_changed(kind);
        Ok(removed)
    }

    /// Pods read ConfigMaps and Secrets when a container starts: keep their snapshot current.
    fn objects_changed(&self, kind: &str) {
        if matches!(kind, "ConfigMap" | "Secret") {
            if let Ok(mut o) = self.objects.write() {
                *o = self.store.config_objects();
            }
        }
    }

    fn delete_namespace(&mut self, name: &str) -> Result<Value, EngineError> {
        if BUILTIN_NAMESPACES.contains(&name) {
            return Err(EngineError::Forbidden {
                resource: "namespaces".into(),
                name: name.into(),
                why: "this namespace may not be deleted".into(),
            });
        }
        let ns = self
            .store
            .object("Namespace", "", name)
            .ok_or_else(|| EngineError::NotFound {
                resource: "namespaces".into(),
                namespace: String::new(),
                name: name.into(),
            })?;
        let keys: Vec<PodKey> = self
            .pods
            .keys()
            .filter(|k| k.namespace == name)
            .cloned()
            .collect();
        for key in keys {
            let (tx, _rx) = oneshot::channel();
            self.delete_pod(key, None, tx);
        }
        for kind in ["ConfigMap", "Secret"] {
            for obj in self.store.objects(kind, Some(name)) {
                if let Some(n) = obj["metadata"]["name"].as_str() {
                    self.store.delete_object(kind, name, n);
                }
            }
            self.objects_changed(kind);
        }
        self.store.delete_object("Namespace", "", name);
        Ok(ns)
    }

    /// Runs `f` on the container's current running instance (asked of its worker) in a task
    /// of its own and answers with its result; `NotRunning` when there is none.
    fn on_running_container<T, F, Fut>(
        &mut self,
        key: PodKey,
        container: String,
        reply: Reply<T>,
        f: F,
    ) where
        T: Send + 'static,
        F: FnOnce(Arc<R>, ContainerId) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, RuntimeError>> + Send,
    {
        let (tx, rx) = oneshot::channel();
        let Some(entry) = self.pods.get(&key) else {
            return answer(reply, Err(EngineError::pod_not_found(&key)));
        };
        let _ = entry.tx.send(WorkerMsg::RunningContainer {
            name: container.clone(),
            reply: tx,
        });
        let runtime = self.runtime.clone();
        tokio::spawn(async move {
            let not_running = |container: String| EngineError::NotRunning {
                pod: key.clone(),
                container,
            };
            let r = match rx.await.ok().flatten() {
                Some(id) => f(runtime, id)
                    .await
                    .map_err(|e| not_running(format!("{container}: {}", error_chain(&e)))),
                None => Err(not_running(container)),
            };
            answer(reply, r);
        });
    }

    fn exec_command(
        &mut self,
        key: PodKey,
        container: String,
        argv: Vec<String>,
        reply: Reply<tokio::process::Command>,
    ) {
        self.on_running_container(key, container, reply, move |rt, id| async move {
            rt.exec_command(&id, &argv)
        });
    }

    fn exec_tty(
        &mut self,
        key: PodKey,
        container: String,
        argv: Vec<String>,
        reply: Reply<crate::runtime::TtyExec>,
    ) {
        self.on_running_container(key, container, reply, move |rt, id| async move {
            rt.exec_tty(&id, &argv).await
        });
    }

    fn attach_stdin(
        &mut self,
        key: PodKey,
        container: String,
        reply: Reply<tokio::net::unix::pipe::Sender>,
    ) {
        self.on_running_container(key, container, reply, move |rt, id| async move {
            rt.attach_stdin(&id)
        });
    }

    fn connect_to_pod(&mut self, key: PodKey, port: u16, reply: Reply<tokio::net::TcpStream>) {
        let (tx, rx) = oneshot::channel();
        let Some(entry) = self.pods.get(&key) else {
            return answer(reply, Err(EngineError::pod_not_found(&key)));
        };
        let _ = entry.tx.send(WorkerMsg::Sandbox { reply: tx });
        let runtime = self.runtime.clone();
        tokio::spawn(async move {
            let not_running = || EngineError::NotRunning {
                pod: key.clone(),
                container: "pod sandbox".into(),
            };
            let target =
                rx.await.ok().flatten().and_then(|(sandbox, ip)| {
                    Some((sandbox, ip.parse::<std::net::IpAddr>().ok()?))
                });
            let r = match target {
                Some((sandbox, ip)) => runtime
                    .connect_tcp(
                        &sandbox,
                        std::net::SocketAddr::new(ip, port),
                        std::time::Duration::from_secs(5),
                    )
                    .await
                    .map_err(|e| EngineError::Connect {
                        pod: key.clone(),
                        port,
                        message: error_chain(&e),
                    }),
                None => Err(not_running()),
            };
            answer(reply, r);
        });
    }
}
