//! The one way into the engine: a cloneable, non-generic [`EngineHandle`] that sends a
//! [`Command`] with a reply channel to the engine's loop (Firecracker's API → VMM channel;
//! the kubelet's equivalent is the config source → `syncLoop` channel). Every write — pods,
//! namespaces, ConfigMaps, Secrets and the workload objects to come — goes through it and
//! answers with the stored object or a typed [`EngineError`]; reads go straight to the store.
//!
//! A controller is a loop over [`crate::store::Store::subscribe`] that sends commands through a
//! clone of this handle.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use podvisor_lifecycle::plan::{PodKey, PodPlan};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::Clock;
use crate::error::EngineError;
use crate::store::Store;
use crate::timeline::TimelineEntry;

/// The directory holding a pod's container logs.
pub(crate) fn log_dir(
    state_dir: &std::path::Path,
    namespace: &str,
    name: &str,
    uid: &str,
) -> PathBuf {
    state_dir
        .join("logs")
        .join(format!("{namespace}_{name}_{uid}"))
}

/// A pod and the host pid of each of its running containers' main processes.
pub type PodProcesses = (PodKey, Vec<(String, u32)>);

/// A reply channel: the command's result.
pub type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// How a [`Command::PutObject`] treats an object that already exists (or does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Create: `AlreadyExists` if it exists.
    Create,
    /// Update: `NotFound` if it does not exist.
    Update,
}

/// What the engine is asked to do. Each carries its reply channel.
#[derive(Debug)]
pub enum Command {
    /// Accept a validated pod and start its worker; answers the stored object.
    CreatePod {
        /// The validated, defaulted pod.
        plan: Box<PodPlan>,
        /// Stored pod, or `AlreadyExists` / `NotFound` (namespace).
        reply: Reply<Pod>,
    },
    /// Take back a pod this node ran before a restart (see `PodMachine::recover`).
    RecoverPod {
        /// The pod, re-validated from its stored object.
        plan: Box<PodPlan>,
        /// Its last published status.
        previous: Box<PodStatus>,
        /// Stored pod.
        reply: Reply<Pod>,
    },
    /// Delete a pod gracefully (`None`: its spec's grace period; `Some(0)`: force). Answers the
    /// pod with its deletion metadata (computed once, by its worker), or its last state when
    /// the object was removed at once (nothing left to stop).
    DeletePod {
        /// Which pod.
        key: PodKey,
        /// `DeleteOptions.gracePeriodSeconds`.
        grace_period_seconds: Option<i64>,
        /// The pod as stored after the request.
        reply: Reply<Pod>,
    },
    /// Replace a pod's labels and annotations; answers the stored pod.
    UpdatePodMetadata {
        /// Which pod.
        key: PodKey,
        /// New `metadata.labels`.
        labels: Option<BTreeMap<String, String>>,
        /// New `metadata.annotations`.
        annotations: Option<BTreeMap<String, String>>,
        /// The pod as stored after the change.
        reply: Reply<Pod>,
    },
    /// Store an object kept as JSON (Namespace, ConfigMap, Secret, …); answers it as stored.
    PutObject {
        /// Its `kind`.
        kind: String,
        /// The resource name used in errors, e.g. `configmaps`.
        resource: String,
        /// Namespace ("" for cluster-scoped kinds).
        namespace: String,
        /// Name.
        name: String,
        /// The object, complete (uid, timestamps) as it should be stored.
        object: Box<Value>,
        /// Create or update.
        mode: WriteMode,
        /// The stored object.
        reply: Reply<Value>,
    },
    /// Remove an object kept as JSON; answers its last state.
    DeleteObject {
        /// Its `kind`.
        kind: String,
        /// The resource name used in errors.
        resource: String,
        /// Namespace ("" for cluster-scoped kinds).
        namespace: String,
        /// Name.
        name: String,
        /// The removed object.
        reply: Reply<Value>,
    },
    /// Delete a namespace with everything in it (pods gracefully); answers the Namespace.
    DeleteNamespace {
        /// Name.
        name: String,
        /// The Namespace object as it was.
        reply: Reply<Value>,
    },
    /// A command running `argv` in the current instance of a container (`kubectl exec`).
    ExecCommand {
        /// Which pod.
        key: PodKey,
        /// Which container.
        container: String,
        /// The command.
        argv: Vec<String>,
        /// The command, ready to spawn.
        reply: Reply<tokio::process::Command>,
    },
    /// The same with a pseudo-terminal (`kubectl exec -t`): the terminal exists, the command
    /// runs once the caller starts it.
    ExecTty {
        /// Which pod.
        key: PodKey,
        /// Which container.
        container: String,
        /// The command.
        argv: Vec<String>,
        /// The prepared command and its terminal.
        reply: Reply<crate::runtime::TtyExec>,
    },
    /// A writer to the stdin of the current instance of a container started with
    /// `stdin: true` (`kubectl attach -i`).
    AttachStdin {
        /// Which pod.
        key: PodKey,
        /// Which container.
        container: String,
        /// The writer.
        reply: Reply<tokio::net::unix::pipe::Sender>,
    },
    /// A TCP connection to a port on the pod's IP, from inside its network namespace
    /// (`kubectl port-forward`).
    ConnectToPod {
        /// Which pod.
        key: PodKey,
        /// The port.
        port: u16,
        /// The connection.
        reply: Reply<tokio::net::TcpStream>,
    },
    /// Delete every pod (`podvisor run` at its end, `serve` at shutdown).
    DeleteAll {
        /// As for [`Command::DeletePod`].
        grace_period_seconds: Option<i64>,
        /// Done.
        reply: Reply<()>,
    },
    /// SIGKILL every running container of every pod now, without waiting for preStop hooks or
    /// grace periods: what a node losing power does to its containers, not a Kubernetes
    /// deletion (a force delete does not shorten a kill in flight). `podvisor run`'s second
    /// interrupt.
    KillAll {
        /// Done.
        reply: Reply<()>,
    },
    /// The host pid of every running container's main process, by pod (for `kubectl top`).
    ContainerProcesses {
        /// (pod, [(container, pid)]), sorted by pod.
        reply: Reply<Vec<PodProcesses>>,
    },
    /// The keys of every pod that has a worker, sorted.
    PodKeys {
        /// The keys.
        reply: Reply<Vec<PodKey>>,
    },
    /// Wait until a pod has finished (terminal, every process gone); answers its final object.
    WaitPod {
        /// Which pod.
        key: PodKey,
        /// Final object.
        reply: Reply<Pod>,
    },
    /// Wait until every pod accepted so far has finished (terminal, every process gone);
    /// answers their final objects ordered by key.
    WaitAll {
        /// Final objects.
        reply: Reply<Vec<Pod>>,
    },
}

/// The engine as its clients see it: commands with replies, plus read access to the store,
/// the clock and the timeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub(crate) tx: mpsc::UnboundedSender<Command>,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) timeline: broadcast::Sender<TimelineEntry>,
    pub(crate) state_dir: PathBuf,
    pub(crate) node_name: String,
    pub(crate) host_ip: String,
}

impl EngineHandle {
    /// Sends a command built around a fresh reply channel and waits for the answer.
    pub async fn call<T>(
        &self,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(command(tx))
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// The object store (read it; write through commands).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The engine's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Subscribe to the live timeline.
    pub fn subscribe(&self) -> broadcast::Receiver<TimelineEntry> {
        self.timeline.subscribe()
    }

    /// This machine's Node object, as the kubelet keeps it.
    pub fn node(&self) -> k8s_openapi::api::core::v1::Node {
        crate::node::node_object(&crate::node::NodeFacts {
            name: self.node_name.clone(),
            host_ip: self.host_ip.clone(),
            started: self
                .clock
                .wall()
                .at(podvisor_lifecycle::time::Timestamp::from_duration(
                    std::time::Duration::ZERO,
                )),
            now: jiff::Timestamp::now(),
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The directory holding a pod's container logs (`<container>/<restartCount>.log`).
    pub fn log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        log_dir(&self.state_dir, namespace, name, uid)
    }

    /// See [`Command::CreatePod`].
    pub async fn create_pod(&self, plan: PodPlan) -> Result<Pod, EngineError> {
        self.call(|reply| Command::CreatePod {
            plan: Box::new(plan),
            reply,
        })
        .await
    }

    /// See [`Command::RecoverPod`].
    pub async fn recover_pod(
        &self,
        plan: PodPlan,
        previous: PodStatus,
    ) -> Result<Pod, EngineError> {
        self.call(|reply| Command::RecoverPod {
            plan: Box::new(plan),
            previous: Box::new(previous),
            reply,
        })
        .await
    }

    /// See [`Command::DeletePod`].
    pub async fn delete_pod(
        &self,
        key: &PodKey,
        grace_period_seconds: Option<i64>,
    ) -> Result<Pod, EngineError> {
        self.call(|reply| Command::DeletePod {
            key: key.clone(),
            grace_period_seconds,
            reply,
        })
        .await
    }

    /// See [`Command::UpdatePodMetadata`].
    pub async fn update_pod_metadata(
        &self,
        key: &PodKey,
        labels: Option<BTreeMap<String, String>>,
        annotations: Option<BTreeMap<String, String>>,
    ) -> Result<Pod, EngineError> {
        self.call(|reply| Command::UpdatePodMetadata {
            key: key.clone(),
            labels,
            annotations,
            reply,
        })
        .await
    }

    /// See [`Command::PutObject`].
    pub async fn put_object(
        &self,
        resource: &str,
        mode: WriteMode,
        object: Value,
    ) -> Result<Value, EngineError> {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.call(|reply| Command::PutObject {
            kind,
            resource: resource.to_string(),
            namespace,
            name,
            object: Box::new(object),
            mode,
            reply,
        })
        .await
    }

    /// See [`Command::DeleteObject`].
    pub async fn delete_object(
        &self,
        kind: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, EngineError> {
        self.call(|reply| Command::DeleteObject {
            kind: kind.to_string(),
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            reply,
        })
        .await
    }

    /// See [`Command::DeleteNamespace`].
    pub async fn delete_namespace(&self, name: &str) -> Result<Value, EngineError> {
        self.call(|reply| Command::DeleteNamespace {
            name: name.to_string(),
            reply,
        })
        .await
    }

    /// See [`Command::ExecCommand`].
    pub async fn exec_command(
        &self,
        key: &PodKey,
        container: &str,
        argv: &[String],
    ) -> Result<tokio::process::Command, EngineError> {
        self.call(|reply| Command::ExecCommand {
            key: key.clone(),
            container: container.to_string(),
            argv: argv.to_vec(),
            reply,
        })
        .await
    }

    /// See [`Command::ExecTty`].
    pub async fn exec_tty(
        &self,
        key: &PodKey,
        container: &str,
        argv: &[String],
    ) -> Result<crate::runtime::TtyExec, EngineError> {
        self.call(|reply| Command::ExecTty {
            key: key.clone(),
            container: container.to_string(),
            argv: argv.to_vec(),
            reply,
        })
        .await
    }

    /// See [`Command::AttachStdin`].
    pub async fn attach_stdin(
        &self,
        key: &PodKey,
        container: &str,
    ) -> Result<tokio::net::unix::pipe::Sender, EngineError> {
        self.call(|reply| Command::AttachStdin {
            key: key.clone(),
            container: container.to_string(),
            reply,
        })
        .await
    }

    /// See [`Command::ConnectToPod`].
    pub async fn connect_to_pod(
        &self,
        key: &PodKey,
        port: u16,
    ) -> Result<tokio::net::TcpStream, EngineError> {
        self.call(|reply| Command::ConnectToPod {
            key: key.clone(),
            port,
            reply,
        })
        .await
    }

    /// See [`Command::DeleteAll`].
    pub async fn delete_all(&self, grace_period_seconds: Option<i64>) -> Result<(), EngineError> {
        self.call(|reply| Command::DeleteAll {
            grace_period_seconds,
            reply,
        })
        .await
    }

    /// See [`Command::KillAll`].
    pub async fn kill_all(&self) -> Result<(), EngineError> {
        self.call(|reply| Command::KillAll { reply }).await
    }

    /// See [`Command::ContainerProcesses`].
    pub async fn container_processes(&self) -> Result<Vec<PodProcesses>, EngineError> {
        self.call(|reply| Command::ContainerProcesses { reply })
            .await
    }

    /// See [`Command::PodKeys`].
    pub async fn pod_keys(&self) -> Result<Vec<PodKey>, EngineError> {
        self.call(|reply| Command::PodKeys { reply }).await
    }

    /// See [`Command::WaitPod`].
    pub async fn wait(&self, key: &PodKey) -> Result<Pod, EngineError> {
        self.call(|reply| Command::WaitPod {
            key: key.clone(),
            reply,
        })
        .await
    }

    /// See [`Command::WaitAll`].
    pub async fn wait_all(&self) -> Result<Vec<Pod>, EngineError> {
        self.call(|reply| Command::WaitAll { reply }).await
    }
}
