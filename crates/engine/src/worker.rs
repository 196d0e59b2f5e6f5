//! One task per pod, like the kubelet's pod worker (`podWorkerLoop`, pod_workers.go): it owns the
//! pod's `PodMachine`, feeds it what the runtime, hooks and probes report, executes the actions it
//! returns, and publishes status, events and the timeline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use podvisor_lifecycle::action::{Action, EventRecord};
use podvisor_lifecycle::machine::PodMachine;
use podvisor_lifecycle::observation::{HookType, InstanceId, Observation, StartFailure};
use podvisor_lifecycle::phase::Phase;
use podvisor_lifecycle::plan::{ContainerRef, HandlerPlan, PodPlan, ProbeType};
use podvisor_lifecycle::signal::Signal;
use podvisor_lifecycle::termination_message::termination_message;
use podvisor_lifecycle::time::Timestamp;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::Clock;
use crate::container_config::{container_spec, NodeContext};
use crate::error::error_chain;
use crate::handlers::{run_hook, HandlerContext, RuntimeTarget};
use crate::objects::Objects;
use crate::probe_worker::{first_tick, spawn_probe_worker, ProbeWorkerHandle};
use crate::runtime::{ContainerId, Runtime, RuntimeError, SandboxId, SandboxSpec};
use crate::store::Store;
use crate::timeline::{Happening, TimelineEntry};
use crate::volumes::{PodVolumes, VolumeSetupError};

/// Messages into a pod worker.
#[derive(Debug)]
pub(crate) enum WorkerMsg {
    Observed(Observation),
    SandboxCreated {
        id: SandboxId,
        pod_ip: String,
    },
    ContainerRunning {
        instance: InstanceId,
        id: ContainerId,
        pid: u32,
        termination_file: Option<PathBuf>,
    },
    SandboxRemoved,
    /// A deletion request; answered with the pod as published with its deletion metadata.
    /// `remove_object`: the object goes now (a force delete through the API), the processes
    /// are still stopped; the worker publishes no more.
    Delete {
        grace_period_seconds: Option<i64>,
        remove_object: bool,
        reply: Option<oneshot::Sender<Pod>>,
    },
    /// New labels and annotations; answered with the pod as published.
    Metadata {
        labels: Option<std::collections::BTreeMap<String, String>>,
        annotations: Option<std::collections::BTreeMap<String, String>>,
        reply: oneshot::Sender<Pod>,
    },
    /// SIGKILL every running container now (see `Command::KillAll`).
    KillNow,
    /// The host pid of each running container's main process (for `kubectl top`).
    Processes {
        reply: oneshot::Sender<Vec<(String, u32)>>,
    },
    /// The pod's sandbox and IP, for connections into the pod (port-forward).
    Sandbox {
        reply: tokio::sync::oneshot::Sender<Option<(SandboxId, String)>>,
    },
    /// Which runtime container currently runs this container name.
    RunningContainer {
        name: String,
        reply: tokio::sync::oneshot::Sender<Option<ContainerId>>,
    },
}

/// What a pod worker uses to act and to publish, handed over by the engine.
pub(crate) struct WorkerIo<R: Runtime> {
    pub(crate) runtime: Arc<R>,
    pub(crate) clock: Clock,
    pub(crate) store: Store,
    pub(crate) objects: Arc<std::sync::RwLock<Objects>>,
    pub(crate) timeline: broadcast::Sender<TimelineEntry>,
    pub(crate) tx: mpsc::UnboundedSender<WorkerMsg>,
    pub(crate) pod_dir: PathBuf,
    pub(crate) log_dir: PathBuf,
    pub(crate) node_name: String,
    pub(crate) host_ip: String,
}

impl<R: Runtime> WorkerIo<R> {
    /// The current ConfigMaps and Secrets.
    fn objects(&self) -> Objects {
        self.objects.read().map(|o| o.clone()).unwrap_or_default()
    }
}

pub(crate) struct PodWorker<R: Runtime> {
    pub(crate) machine: PodMachine,
    pub(crate) rx: mpsc::UnboundedReceiver<WorkerMsg>,
    pub(crate) io: WorkerIo<R>,
    pub(crate) sandbox: Option<SandboxId>,
    pub(crate) volumes: Option<PodVolumes>,
    pub(crate) containers: HashMap<InstanceId, (ContainerId, Timestamp)>,
    /// Host pids of the main processes of running instances.
    pub(crate) pids: HashMap<InstanceId, u32>,
    pub(crate) probes: HashMap<(InstanceId, ProbeType), ProbeWorkerHandle>,
    pub(crate) probe_epochs: HashMap<(ContainerRef, ProbeType), tokio::time::Instant>,
    pub(crate) hooks_started: HashMap<(InstanceId, HookType), Timestamp>,
    pub(crate) removed: bool,
    pub(crate) deletion_meta: Option<(Timestamp, i64)>,
    pub(crate) last_phase: Option<Phase>,
    pub(crate) last_ready: HashMap<String, bool>,
    /// The pod as last published (its metadata names the pod in events).
    pub(crate) published: Option<Pod>,
    /// Callers waiting for the next publish (deletion, metadata change).
    pub(crate) waiting: Vec<oneshot::Sender<Pod>>,
    /// The object was force-deleted: nothing is published any more.
    pub(crate) object_removed: bool,
    /// … and has been removed from the store.
    pub(crate) object_deleted: bool,
}

impl<R: Runtime> PodWorker<R> {
    pub(crate) fn new(
        machine: PodMachine,
        rx: mpsc::UnboundedReceiver<WorkerMsg>,
        io: WorkerIo<R>,
    ) -> Self {
        PodWorker {
            machine,
            rx,
            io,
            sandbox: None,
            volumes: None,
            containers: HashMap::new(),
            pids: HashMap::new(),
            probes: HashMap::new(),
            probe_epochs: HashMap::new(),
            hooks_started: HashMap::new(),
            removed: false,
            deletion_meta: None,
            last_phase: None,
            last_ready: HashMap::new(),
            published: None,
            waiting: Vec::new(),
            object_removed: false,
            object_deleted: false,
        }
    }

    fn plan(&self) -> &PodPlan {
        self.machine.plan()
    }

    fn emit(&self, at: Timestamp, container: Option<String>, what: Happening) {
        let _ = self.io.timeline.send(TimelineEntry {
            at,
            pod: self.plan().key.clone(),
            container,
            what,
        });
    }

    fn name(&self, r: ContainerRef) -> String {
        self.plan().container(r).name.clone()
    }

    /// Runs the pod until it is terminal and its sandbox is gone; returns the final object.
    pub(crate) async fn run(mut self) -> Pod {
        loop {
            let now = self.io.clock.now();
            let actions = self.machine.decide(now);
            for a in actions {
                self.execute(a, now);
            }
            self.publish(now);
            if self.machine.is_finished() && self.removed {
                break;
            }
            let wake = self.machine.next_wakeup();
            let sleep = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(self.io.clock.instant(t)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => break,
                },
                () = sleep => {}
            }
            while let Ok(m) = self.rx.try_recv() {
                self.handle(m);
            }
        }
        self.probes.clear();
        match self.published.take() {
            Some(p) if !self.object_removed => p,
            _ => self.render(),
        }
    }

    fn handle(&mut self, msg: WorkerMsg) {
        let now = self.io.clock.now();
        match msg {
            WorkerMsg::Observed(obs) => {
                self.note_observation(now, &obs);
                self.machine.observe(now, obs);
            }
            WorkerMsg::SandboxCreated { id, pod_ip } => {
                self.sandbox = Some(id);
                self.emit(
                    now,
                    None,
                    Happening::SandboxReady {
                        pod_ip: pod_ip.clone(),
                    },
                );
                self.machine
                    .observe(now, Observation::SandboxReady { pod_ip });
            }
            WorkerMsg::ContainerRunning {
                instance,
                id,
                pid,
                termination_file,
            } => {
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::Started {
                        restart_count: instance.restart_count,
                        pid,
                    },
                );
                self.containers.insert(instance, (id.clone(), now));
                self.pids.insert(instance, pid);
                self.spawn_wait(instance, id, termination_file);
            }
            WorkerMsg::SandboxRemoved => {
                self.removed = true;
                self.emit(now, None, Happening::Removed);
            }
            WorkerMsg::KillNow => self.kill_now(now),
            WorkerMsg::Processes { reply } => {
                let mut out: Vec<(String, u32)> = self
                    .pids
                    .iter()
                    .map(|(i, pid)| (self.name(i.container), *pid))
                    .collect();
                out.sort();
                let _ = reply.send(out);
            }
            WorkerMsg::Sandbox { reply } => {
                let ip = self.machine.pod_ip().map(str::to_string);
                let _ = reply.send(self.sandbox.clone().zip(ip));
            }
            WorkerMsg::RunningContainer { name, reply } => {
                let id = self
                    .containers
                    .iter()
                    .filter(|(i, _)| self.plan().container(i.container).name == name)
                    .max_by_key(|(i, _)| i.restart_count)
                    .map(|(_, (id, _))| id.clone());
                let _ = reply.send(id);
            }
            WorkerMsg::Metadata {
                labels,
                annotations,
                reply,
            } => {
                self.machine.set_labels_and_annotations(labels, annotations);
                self.waiting.push(reply);
            }
            WorkerMsg::Delete {
                grace_period_seconds,
                remove_object,
                reply,
            } => {
                self.waiting.extend(reply);
                self.object_removed |= remove_object;
                self.machine.observe(
                    now,
                    Observation::DeleteRequested {
                        grace_period_seconds,
                    },
                );
                if let Some((at, grace)) = self.machine.deletion() {
                    if self.deletion_meta.map(|(_, g)| g) != Some(grace)
                        && self.machine.terminal_phase().is_none()
                    {
                        self.deletion_meta = Some((at, grace));
                        self.emit(
                            now,
                            None,
                            Happening::Deleting {
                                grace_period_seconds: grace,
                            },
                        );
                    }
                }
            }
        }
    }

    /// SIGKILLs the current instance of every container the status shows running; the machine
    /// then observes their exits as after any SIGKILL.
    fn kill_now(&mut self, now: Timestamp) {
        let status = self.render().status.unwrap_or_default();
        let running: Vec<String> = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
            .filter(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()))
            .map(|s| s.name.clone())
            .collect();
        for name in running {
            let current = self
                .containers
                .iter()
                .filter(|(i, _)| self.plan().container(i.container).name == name)
                .max_by_key(|(i, _)| i.restart_count)
                .map(|(_, (id, _))| id.clone());
            let Some(id) = current else { continue };
            self.emit(
                now,
                Some(name.clone()),
                Happening::Signal {
                    signal: Signal::SIGKILL,
                    kill_after: None,
                },
            );
            if let Err(e) = self.io.runtime.signal(&id, Signal::SIGKILL) {
                self.emit(
                    now,
                    Some(name),
                    Happening::Problem {
                        message: error_chain(&e),
                    },
                );
            }
        }
    }

    fn note_observation(&mut self, now: Timestamp, obs: &Observation) {
        match obs {
            Observation::ContainerExited {
                instance,
                exit_code,
                signal,
                at,
                termination_message,
            } => {
                let ran_for = self
                    .containers
                    .get(instance)
                    .map(|(_, started)| *at - *started);
                self.pids.remove(instance);
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::Exited {
                        exit_code: *exit_code,
                        signal: *signal,
                        ran_for,
                        message: termination_message
                            .as_deref()
                            .filter(|m| !m.is_empty())
                            .map(str::to_string),
                    },
                );
            }
            Observation::HookFinished {
                instance,
                hook,
                result,
            } => {
                let took = self
                    .hooks_started
                    .remove(&(*instance, *hook))
                    .map_or(Duration::ZERO, |t| now - t);
                let error = result.as_ref().err().map(|f| f.error.clone());
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::HookFinished {
                        hook: *hook,
                        error,
                        took,
                    },
                );
            }
            Observation::ContainerStartFailed {
                instance,
                reason,
                message,
            } => {
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::StartFailed {
                        reason: reason.as_str().into(),
                        message: message.clone(),
                    },
                );
            }
            _ => {}
        }
    }

    fn send(&self, msg: WorkerMsg) {
        let _ = self.io.tx.send(msg);
    }

    fn execute(&mut self, action: Action, now: Timestamp) {
        match action {
            Action::CreateSandbox => self.create_sandbox(),
            Action::StartContainer { instance } => self.start_container(instance),
            Action::RunHook {
                instance,
                hook,
                handler,
            } => {
                self.hooks_started.insert((instance, hook), now);
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::HookStarted {
                        hook,
                        handler: describe_handler(&handler),
                    },
                );
                self.run_hook(instance, hook, handler);
            }
            Action::Signal {
                instance,
                signal,
                kill_deadline,
            } => {
                // The countdown comes from the action: each container has its own deadline.
                let kill_after = kill_deadline.map(|t| {
                    i64::try_from((t - now).as_secs_f64().round() as u64).unwrap_or(i64::MAX)
                });
                self.emit(
                    now,
                    Some(self.name(instance.container)),
                    Happening::Signal { signal, kill_after },
                );
                if let Some((id, _)) = self.containers.get(&instance) {
                    if let Err(e) = self.io.runtime.signal(id, signal) {
                        self.emit(
                            now,
                            Some(self.name(instance.container)),
                            Happening::Problem {
                                message: error_chain(&e),
                            },
                        );
                    }
                }
            }
            Action::StartProbe {
                instance,
                probe_type,
            } => self.start_probe(instance, probe_type),
            Action::StopProbe {
                instance,
                probe_type,
            } => {
                self.probes.remove(&(instance, probe_type));
            }
            Action::RecordEvent(record) => self.record_event(record),
            Action::RemoveSandbox => self.remove_sandbox(),
        }
    }

    fn record_event(&mut self, record: EventRecord) {
        let container = record
            .field_path
            .as_ref()
            .and_then(|p| p.split('{').nth(1))
            .map(|s| s.trim_end_matches('}').to_string());
        let wall = self.io.clock.wall();
        match &self.published {
            Some(pod) => {
                self.io.store.record_event(pod, &record, &wall);
            }
            None => {
                self.io.store.record_event(&self.render(), &record, &wall);
            }
        }
        self.emit(record.at, container, Happening::Event(record));
    }

    fn create_sandbox(&mut self) {
        let objects = self.io.objects();
        let plan = self.plan().clone();
        let pod_dir = self.io.pod_dir.clone();
        let runtime = self.io.runtime.clone();
        let tx = self.io.tx.clone();
        let existing = self.sandbox.clone();
        let node = (self.io.node_name.clone(), self.io.host_ip.clone());
        match PodVolumes::prepare(&plan, &pod_dir, &objects, &node.0, &node.1) {
            Ok(v) => self.volumes = Some(v),
            Err(VolumeSetupError::SetUp { volume, message }) => {
                let _ = tx.send(WorkerMsg::Observed(Observation::VolumeSetUpFailed {
                    volume,
                    message,
                }));
                return;
            }
            Err(e) => {
                let _ = tx.send(WorkerMsg::Observed(Observation::MountFailed {
                    message: error_chain(&e),
                }));
                return;
            }
        }
        tokio::spawn(async move {
            if let Some(id) = existing {
                let _ = runtime.remove_sandbox(&id).await;
            }
            let spec = SandboxSpec {
                pod: plan.key.clone(),
                uid: plan.uid.clone(),
                hostname: plan.hostname.clone(),
                pod_dir,
                share_process_namespace: plan.share_process_namespace,
            };
            match runtime.create_sandbox(&spec).await {
                Ok(info) => {
                    let _ = tx.send(WorkerMsg::SandboxCreated {
                        id: info.id,
                        pod_ip: info.pod_ip,
                    });
                }
                Err(e) => {
                    let _ = tx.send(WorkerMsg::Observed(Observation::SandboxFailed {
                        message: error_chain(&e),
                    }));
                }
            }
        });
    }

    fn start_container(&mut self, instance: InstanceId) {
        let fail = move |reason, message: String| {
            WorkerMsg::Observed(Observation::ContainerStartFailed {
                instance,
                reason,
                message,
            })
        };
        let (Some(sandbox), Some(volumes)) = (self.sandbox.clone(), self.volumes.as_ref()) else {
            self.send(fail(
                StartFailure::CreateContainerError,
                "pod sandbox is not ready".into(),
            ));
            return;
        };
        let objects = self.io.objects();
        let pod_ip = self.machine.pod_ip().unwrap_or_default().to_string();
        let node = NodeContext {
            node_name: &self.io.node_name,
            host_ip: &self.io.host_ip,
            pod_ip: &pod_ip,
        };
        let (spec, termination_file) = match container_spec(
            self.plan(),
            instance,
            &node,
            &objects,
            volumes,
            &self.io.log_dir,
        ) {
            Ok(x) => x,
            Err((reason, message)) => {
                self.send(fail(reason, message));
                return;
            }
        };
        let runtime = self.io.runtime.clone();
        let tx = self.io.tx.clone();
        let clock = self.io.clock;
        tokio::spawn(async move {
            if let Some(parent) = spec.log_path.parent() {
                if let Err(e) = std::fs::create_dir_all(parent) {
                    let _ = tx.send(fail(
                        StartFailure::CreateContainerError,
                        format!("create log directory {}: {e}", parent.display()),
                    ));
                    return;
                }
            }
            match runtime.start_container(&sandbox, &spec).await {
                Ok(started) => {
                    let at = clock.now();
                    let _ = tx.send(WorkerMsg::Observed(Observation::ContainerCreated {
                        instance,
                    }));
                    let _ = tx.send(WorkerMsg::ContainerRunning {
                        instance,
                        id: started.id,
                        pid: started.pid,
                        termination_file,
                    });
                    let _ = tx.send(WorkerMsg::Observed(Observation::ContainerStarted {
                        instance,
                        at,
                    }));
                }
                Err(e @ RuntimeError::StartContainer { .. }) => {
                    let _ = tx.send(WorkerMsg::Observed(Observation::ContainerCreated {
                        instance,
                    }));
                    let _ = tx.send(fail(StartFailure::RunContainerError, error_chain(&e)));
                }
                Err(e) => {
                    let _ = tx.send(fail(StartFailure::CreateContainerError, error_chain(&e)));
                }
            }
        });
    }

    fn spawn_wait(&self, instance: InstanceId, id: ContainerId, termination_file: Option<PathBuf>) {
        let runtime = self.io.runtime.clone();
        let tx = self.io.tx.clone();
        let clock = self.io.clock;
        let c = self.plan().container(instance.container).clone();
        let log_path = self
            .io
            .log_dir
            .join(&c.name)
            .join(format!("{}.log", instance.restart_count));
        tokio::spawn(async move {
            let status = runtime.wait(&id).await;
            let at = clock.now();
            let (exit_code, signal) = match status {
                Ok(s) => (s.exit_code, s.signal),
                // The runtime lost the container: the kubelet reports it as unknown, exit 137.
                Err(_) => (137, None),
            };
            let file = termination_file
                .as_ref()
                .and_then(|p| std::fs::read(p).ok());
            let message = termination_message(
                c.termination_message_policy,
                exit_code,
                file.as_deref(),
                || read_tail(&log_path),
            );
            let _ = tx.send(WorkerMsg::Observed(Observation::ContainerExited {
                instance,
                at,
                exit_code,
                signal,
                termination_message: message,
            }));
        });
    }

    fn target(&self, instance: InstanceId) -> Option<Arc<RuntimeTarget<R>>> {
        let (container, _) = self.containers.get(&instance)?.clone();
        let plan = self.plan();
        Some(Arc::new(RuntimeTarget {
            runtime: self.io.runtime.clone(),
            sandbox: self.sandbox.clone()?,
            container,
            pod_ip: self.machine.pod_ip().map(str::to_string),
            context: HandlerContext {
                container: plan.container(instance.container).name.clone(),
                pod: plan.key.name.clone(),
                namespace: plan.key.namespace.clone(),
                uid: plan.uid.clone(),
                ports: plan.container(instance.container).ports.clone(),
            },
        }))
    }

    fn run_hook(&mut self, instance: InstanceId, hook: HookType, handler: HandlerPlan) {
        let tx = self.io.tx.clone();
        let target = self.target(instance);
        tokio::spawn(async move {
            let result = match target {
                Some(t) => run_hook(t.as_ref(), &handler).await,
                None => Err(podvisor_lifecycle::observation::HandlerFailure {
                    error: "container not found".into(),
                    output: String::new(),
                }),
            };
            let _ = tx.send(WorkerMsg::Observed(Observation::HookFinished {
                instance,
                hook,
                result,
            }));
        });
    }

    fn start_probe(&mut self, instance: InstanceId, probe_type: ProbeType) {
        let Some(probe) = self
            .plan()
            .container(instance.container)
            .probe(probe_type)
            .cloned()
        else {
            return;
        };
        let Some(target) = self.target(instance) else {
            return;
        };
        let started_at = self
            .containers
            .get(&instance)
            .map_or(self.io.clock.started(), |(_, t)| self.io.clock.instant(*t));
        let now = self.io.clock.now();
        self.emit(
            now,
            Some(self.name(instance.container)),
            Happening::ProbeStarted { probe_type },
        );
        let now_instant = self.io.clock.instant(now);
        let epoch = *self
            .probe_epochs
            .entry((instance.container, probe_type))
            .or_insert(now_instant);
        let first_tick = first_tick(probe_type, epoch, now_instant, probe.period());
        let (ptx, mut prx) = mpsc::unbounded_channel();
        let handle = spawn_probe_worker(target, probe_type, probe, started_at, first_tick, ptx);
        let tx = self.io.tx.clone();
        tokio::spawn(async move {
            while let Some(report) = prx.recv().await {
                let obs = Observation::ProbeResult {
                    instance,
                    probe_type: report.probe_type,
                    outcome: report.outcome,
                };
                if tx.send(WorkerMsg::Observed(obs)).is_err() {
                    break;
                }
            }
        });
        self.probes.insert((instance, probe_type), handle);
    }

    fn remove_sandbox(&mut self) {
        self.probes.clear();
        let runtime = self.io.runtime.clone();
        let tx = self.io.tx.clone();
        let sandbox = self.sandbox.clone();
        tokio::spawn(async move {
            if let Some(id) = sandbox {
                let _ = runtime.remove_sandbox(&id).await;
            }
            let _ = tx.send(WorkerMsg::SandboxRemoved);
        });
    }

    /// The pod object with status and deletion metadata.
    fn render(&self) -> Pod {
        let mut pod = self.machine.pod();
        if let Some((at, grace)) = self.deletion_meta {
            let wall = self.io.clock.wall();
            pod.metadata.deletion_timestamp =
                Some(wall.k8s_time(at + Duration::from_secs(u64::try_from(grace).unwrap_or(0))));
            pod.metadata.deletion_grace_period_seconds = Some(grace);
        }
        pod
    }

    fn publish(&mut self, now: Timestamp) {
        let pod = self.render();
        let status = pod.status.clone().unwrap_or_default();
        let phase = self
            .machine
            .terminal_phase()
            .unwrap_or(match status.phase.as_deref() {
                Some("Running") => Phase::Running,
                Some("Succeeded") => Phase::Succeeded,
                Some("Failed") => Phase::Failed,
                _ => Phase::Pending,
            });
        if self.last_phase != Some(phase) {
            self.last_phase = Some(phase);
            self.emit(now, None, Happening::Phase { phase });
        }
        for s in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            let was = self
                .last_ready
                .insert(s.name.clone(), s.ready)
                .unwrap_or(false);
            if was != s.ready
                && s.state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some() || !s.ready)
            {
                self.emit(
                    now,
                    Some(s.name.clone()),
                    Happening::Ready { ready: s.ready },
                );
            }
        }
        if self.object_removed {
            // Force-deleted: the object leaves the API now (once; never a newer pod of the same
            // name); the processes are still being stopped.
            let key = self.plan().key.clone();
            if !self.object_deleted
                && self.io.store.pod(&key).and_then(|p| p.metadata.uid) == pod.metadata.uid
            {
                self.io.store.delete_pod(&key);
            }
            self.object_deleted = true;
            for w in self.waiting.drain(..) {
                let _ = w.send(pod.clone());
            }
            return;
        }
        // Rendered once per decision; an unchanged pod is not written again.
        let mut pod = pod;
        if let Some(p) = &self.published {
            pod.metadata
                .resource_version
                .clone_from(&p.metadata.resource_version);
            if *p == pod && self.waiting.is_empty() {
                return;
            }
        }
        let stored = self.io.store.put_pod(&self.plan().key.clone(), pod);
        for w in self.waiting.drain(..) {
            let _ = w.send(stored.clone());
        }
        self.published = Some(stored);
    }
}

/// A short human description of a handler for the timeline.
pub fn describe_handler(h: &HandlerPlan) -> String {
    match h {
        HandlerPlan::Exec { command } => format!("exec {command:?}"),
        HandlerPlan::HttpGet(g) => format!(
            "httpGet {}:{}{}",
            g.host.as_deref().unwrap_or("<pod IP>"),
            g.port,
            g.path
        ),
        HandlerPlan::TcpSocket { port, .. } => format!("tcpSocket :{port}"),
        HandlerPlan::Grpc { port, service } => format!("grpc :{port} {service:?}"),
        HandlerPlan::Sleep { seconds } => format!("sleep {seconds}s"),
    }
}

/// The content of the last records of a container's CRI log, as `kubectl logs --tail` shows
/// it (empty when it cannot be read): the kubelet's `readLastStringFromContainerLogs` reads
/// `MaxContainerTerminationMessageLogLines` records through its CRI log reader; the lifecycle
/// keeps the last 2048 bytes of them.
fn read_tail(path: &std::path::Path) -> Vec<u8> {
    use podvisor_lifecycle::termination_message::MAX_TERMINATION_MESSAGE_LOG_LINES;
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let opts = crate::logs::ReadOptions {
        tail: Some(MAX_TERMINATION_MESSAGE_LOG_LINES as u64),
        ..Default::default()
    };
    crate::logs::read(&mut f, opts)
        .map(|pieces| crate::logs::concat(&pieces))
        .unwrap_or_default()
}
