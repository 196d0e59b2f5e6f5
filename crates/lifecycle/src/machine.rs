//! The pod machine: one pod's recorded facts, and what the kubelet would do next. Mirrors the
//! pod worker's SyncPod / SyncTerminatingPod (pkg/kubelet/kubelet.go), `computePodActions`
//! (kuberuntime_manager.go) and `startContainer` (kuberuntime_container.go); see
//! kubelet-semantics.md §1–§6. The machine dispatches facts and sync steps; the kill sequence
//! (`killContainer`, `killPodWithSyncResult`, sidecar termination order) is in `kill.rs`.
//!
//! `observe(now, fact)` records a fact, `decide(now)` returns actions, `next_wakeup()` says when
//! `decide` must run again even without a new fact, `status()` renders the API status. The
//! machine never reads a clock.
//!
//! # Caveats
//! * The kubelet notices exits through PLEG relists (about 1 s) and jitters its requeues; the
//!   machine acts on each fact at once. Orders are the kubelet's; latencies are smaller.
//! * While the pod worker is busy (a container being started, its postStart running, or a
//!   container killed inside SyncPod), nothing else happens for the pod, deletion included,
//!   exactly as in the kubelet.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::action::{Action, EventRecord, EventType};
use crate::backoff::{go_duration, BackoffVerdict, CrashLoopBackOff};
use crate::grace::{self, KillReason};
use crate::kill::{Kill, KillStage};
use crate::observation::{
    HandlerFailure, HookType, InstanceId, Observation, ProbeOutcome, StartFailure,
};
use crate::phase::Phase;
use crate::plan::{ContainerKind, ContainerRef, HandlerPlan, PodPlan, ProbeType};
use crate::probe::{ProbeCounter, ProbeResult};
use crate::restart::container_should_restart;
use crate::time::{Timestamp, WallClock};

/// The pod worker's back-off after a failed sync (config errors, sandbox failures).
pub const SYNC_BACKOFF: Duration = Duration::from_secs(10);

/// Where the pod sandbox is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SandboxState {
    /// Not asked for yet: the first SyncPod asks for it (`CreateSandbox`).
    NotCreated,
    /// `CreateSandbox` was emitted; waiting for `SandboxReady` / `SandboxFailed` / `MountFailed`.
    Creating,
    /// The sandbox exists with this IP: containers may start (`PodReadyToStartContainers`).
    Ready {
        /// `status.podIP`.
        pod_ip: String,
    },
    /// Creation or volume setup failed; SyncPod asks again at `retry_at` (the worker's back-off).
    Failed {
        /// When the next `CreateSandbox` may be emitted.
        retry_at: Timestamp,
    },
    /// The pod terminated and `RemoveSandbox` was emitted.
    Removing,
}

/// What blocks the pod worker: while busy, nothing else is decided for the pod (deletion
/// included), as while the kubelet's pod worker is inside one SyncPod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// `startContainer`: the instance was asked to start and has not started (or failed) yet.
    Starting(InstanceId),
    /// `startContainer` runs the instance's postStart hook synchronously.
    PostStart(InstanceId),
    /// A kill inside SyncPod (liveness/startup failure, postStart failure) until the instance exits.
    Killing(InstanceId),
}

/// What the runtime has said about one container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InstanceState {
    /// `StartContainer` emitted; nothing heard yet.
    Creating,
    /// `ContainerCreated`: the runtime created it; the entrypoint is not running yet.
    Created,
    /// `ContainerStarted`: the entrypoint runs.
    Running,
    /// The main process exited (or could not start: `StartError`, 128); shown as terminated.
    Exited {
        /// `finishedAt`.
        finished_at: Timestamp,
        /// `exitCode`.
        exit_code: i32,
        /// `signal`, when a signal killed it.
        signal: Option<i32>,
        /// `reason`: `Completed`, `Error`, `StartError`, `ContainerStatusUnknown`.
        reason: String,
        /// `message`: the termination message, if any.
        message: Option<String>,
    },
}

/// One container instance (one restart count of one container).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instance {
    /// Container and restart count.
    pub(crate) id: InstanceId,
    /// What the runtime said about it.
    pub(crate) state: InstanceState,
    /// `startedAt`.
    pub(crate) started_at: Option<Timestamp>,
    /// Its postStart hook runs (the status still shows it waiting).
    pub(crate) post_start_running: bool,
    /// Its postStart hook failed and `startContainer` is killing it: the worker is still inside
    /// the SyncPod that started it, so the status still shows it waiting until it exited.
    pub(crate) post_start_kill: bool,
    /// Probe result counters, per probe it has.
    pub(crate) counters: BTreeMap<ProbeType, ProbeCounter>,
    /// Probe workers started and not stopped.
    pub(crate) active_probes: BTreeSet<ProbeType>,
    /// `started`: no startup probe, or it succeeded.
    pub(crate) started: bool,
    /// `ready`.
    pub(crate) ready: bool,
    /// Its kill, once one began.
    pub(crate) kill: Option<Kill>,
    /// A liveness or startup failure waiting for the worker to kill the container.
    pub(crate) probe_kill: Option<KillReason>,
    /// Synthesised from a status the node had before it restarted; no process backs it.
    pub(crate) recovered: bool,
}

impl Instance {
    pub(crate) fn is_alive(&self) -> bool {
        !matches!(self.state, InstanceState::Exited { .. })
    }
    pub(crate) fn is_running(&self) -> bool {
        self.state == InstanceState::Running
    }
    pub(crate) fn exit(&self) -> Option<(Timestamp, i32)> {
        match self.state {
            InstanceState::Exited {
                finished_at,
                exit_code,
                ..
            } => Some((finished_at, exit_code)),
            _ => None,
        }
    }
}

/// Everything recorded about one container of the plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ContainerRecord {
    /// Every instance created, oldest first (the status shows the last two).
    pub(crate) instances: Vec<Instance>,
    pub(crate) backoff: CrashLoopBackOff,
    /// The reason cache: the last start failure (reason, message) until a start succeeds.
    pub(crate) start_error: Option<(String, String)>,
    /// Earliest next attempt after a failed sync (config errors) or a refused restart.
    pub(crate) not_before: Option<Timestamp>,
    /// The restart count of the exited instance a `BackOff` event was recorded for.
    pub(crate) backoff_reported: Option<i32>,
    /// Restart count of the next instance when no instance is recorded (after a recovery).
    pub(crate) restart_base: i32,
}

impl ContainerRecord {
    pub(crate) fn latest(&self) -> Option<&Instance> {
        self.instances.last()
    }
    pub(crate) fn previous(&self) -> Option<&Instance> {
        let n = self.instances.len();
        (n >= 2).then(|| &self.instances[n - 2])
    }
}

/// A requested deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deletion {
    /// When the first deletion request arrived.
    pub(crate) requested_at: Timestamp,
    /// The pod worker's effective grace (`calculateEffectiveGracePeriod`): only decreases, at
    /// least 1 s. Kills begun keep the grace they began with.
    pub(crate) grace: i64,
    /// `metadata.deletionGracePeriodSeconds` as the API server shows it: only decreases, 0 for
    /// a force delete.
    pub(crate) api_grace: i64,
}

/// Where the pod is in the pod worker's life: SyncPod, then SyncTerminatingPod, then
/// terminated (pod_workers.go). The sandbox and each container have their own state; this is
/// the pod-level one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PodStage {
    /// SyncPod: the sandbox is set up, containers are started and restarted per policy.
    Running,
    /// SyncPod found the pod done (every regular container exited and none will restart, or a
    /// regular init container failed for good) and stopped what still runs (`computePodActions`
    /// KillPod) with the spec's grace. Nothing restarts any more; no deletion was requested.
    Completing,
    /// A deletion was requested and the worker has not started killing yet (it is busy, or no
    /// `decide` ran since). Nothing restarts any more.
    DeletionRequested {
        /// The deletion.
        deletion: Deletion,
    },
    /// SyncTerminatingPod: `killPod` was issued with the deletion's grace; waiting for every
    /// container to stop.
    Terminating {
        /// The deletion (its grace may still decrease; kills already begun keep theirs).
        deletion: Deletion,
    },
    /// Every container stopped: the terminal phase is rendered (sticky) and the sandbox removed.
    Terminated {
        /// `Succeeded` or `Failed`.
        phase: Phase,
        /// The deletion that ended the pod, `None` when it completed by itself.
        deletion: Option<Deletion>,
    },
}

impl PodStage {
    /// The requested deletion, if any (also after termination).
    pub(crate) fn deletion(self) -> Option<Deletion> {
        match self {
            PodStage::Running | PodStage::Completing => None,
            PodStage::DeletionRequested { deletion } | PodStage::Terminating { deletion } => {
                Some(deletion)
            }
            PodStage::Terminated { deletion, .. } => deletion,
        }
    }

    /// The terminal phase once terminated.
    pub(crate) fn terminal(self) -> Option<Phase> {
        match self {
            PodStage::Terminated { phase, .. } => Some(phase),
            _ => None,
        }
    }
}

/// One pod's lifecycle state machine.
#[derive(Debug, Clone)]
pub struct PodMachine {
    pub(crate) plan: PodPlan,
    pub(crate) wall: WallClock,
    pub(crate) node_name: String,
    pub(crate) host_ip: String,
    pub(crate) created_at: Timestamp,
    pub(crate) sandbox: SandboxState,
    pub(crate) pod_ip: Option<String>,
    pub(crate) records: BTreeMap<ContainerRef, ContainerRecord>,
    pub(crate) busy: Option<Busy>,
    pub(crate) stage: PodStage,
    pub(crate) conditions: BTreeMap<&'static str, (bool, Timestamp)>,
    /// Actions decided and not yet returned by `decide`.
    pub(crate) pending: Vec<Action>,
    /// The first terminal phase the status showed (after an `observe` or `decide`): from then on
    /// the phase is this one, as `generateAPIPodStatus` forces a computed phase back to a
    /// terminal one the status manager or the API server already has, and the worker stops the
    /// pod (SyncPod returns "terminal").
    pub(crate) terminal_shown: Option<Phase>,
    /// When `decide` last ran: `next_wakeup` only names later times.
    pub(crate) last_decide: Timestamp,
}

/// Where the pod runs: node name and host IP, rendered into status and the downward API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `spec.nodeName`.
    pub node_name: String,
    /// `status.hostIP`.
    pub host_ip: String,
}

impl PodMachine {
    /// A machine for a pod the node has just accepted at `now`.
    pub fn new(plan: PodPlan, wall: WallClock, node: NodeInfo, now: Timestamp) -> Self {
        let records = plan
            .container_refs()
            .map(|r| (r, ContainerRecord::default()))
            .collect();
        let mut m = PodMachine {
            wall,
            node_name: node.node_name,
            host_ip: node.host_ip,
            created_at: now,
            sandbox: SandboxState::NotCreated,
            pod_ip: None,
            records,
            busy: None,
            stage: PodStage::Running,
            conditions: BTreeMap::new(),
            pending: Vec::new(),
            terminal_shown: None,
            last_decide: now,
            plan,
        };
        let msg = format!(
            "Successfully assigned {}/{} to {}",
            m.plan.key.namespace, m.plan.key.name, m.node_name
        );
        m.event(now, EventType::Normal, "Scheduled", msg, None);
        m.update_conditions(now);
        m
    }

    /// A machine for a pod this node ran before it restarted, from the pod's last published
    /// status. Its sandbox and processes are gone: the kubelet then recreates the sandbox
    /// (`SandboxChanged`), runs init containers again from the first, reports containers that
    /// were running as lost (`ContainerStatusUnknown`, exit 137, restartCount + 1) and restarts
    /// them per policy; containers that had terminated keep their last state.
    pub fn recover(
        plan: PodPlan,
        wall: WallClock,
        node: NodeInfo,
        now: Timestamp,
        previous: &k8s_openapi::api::core::v1::PodStatus,
    ) -> Self {
        let mut m = Self::new(plan, wall, node, now);
        m.pending.clear();
        let statuses: Vec<&k8s_openapi::api::core::v1::ContainerStatus> = previous
            .init_container_statuses
            .iter()
            .flatten()
            .chain(previous.container_statuses.iter().flatten())
            .collect();
        let refs: Vec<ContainerRef> = m.plan.container_refs().collect();
        for r in refs {
            let name = m.plan.container(r).name.clone();
            let Some(s) = statuses.iter().find(|s| s.name == name) else {
                continue;
            };
            let state = s.state.clone().unwrap_or_default();
            let was_running = state.running.is_some();
            let rec = m.records.entry(r).or_default();
            rec.restart_base = s.restart_count + 1;
            if matches!(r, ContainerRef::Init(_)) {
                continue;
            }
            let started_at = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
                t.as_ref().map(|_| now)
            };
            let exited = if was_running {
                Some((
                    137,
                    "ContainerStatusUnknown".to_string(),
                    Some("The container could not be located when the pod was deleted.  The container used to be Running".to_string()),
                    s.restart_count,
                ))
            } else {
                state.terminated.as_ref().map(|t| {
                    (
                        t.exit_code,
                        t.reason.clone().unwrap_or_else(|| "Error".into()),
                        t.message.clone(),
                        s.restart_count,
                    )
                })
            };
            if let Some((exit_code, reason, message, restart_count)) = exited {
                rec.instances.push(Instance {
                    id: InstanceId {
                        container: r,
                        restart_count,
                    },
                    state: InstanceState::Exited {
                        finished_at: now,
                        exit_code,
                        signal: None,
                        reason,
                        message,
                    },
                    started_at: started_at(
                        &state.running.as_ref().and_then(|x| x.started_at.clone()),
                    ),
                    post_start_running: false,
                    post_start_kill: false,
                    counters: BTreeMap::new(),
                    active_probes: BTreeSet::new(),
                    started: false,
                    ready: false,
                    kill: None,
                    probe_kill: None,
                    recovered: true,
                });
            }
        }
        m.event(
            now,
            EventType::Normal,
            "SandboxChanged",
            "Pod sandbox changed, it will be killed and re-created.".into(),
            None,
        );
        m.update_conditions(now);
        m
    }

    /// The plan this machine runs.
    pub fn plan(&self) -> &PodPlan {
        &self.plan
    }

    /// Replaces the pod's labels and annotations (the only metadata an update may change).
    pub fn set_labels_and_annotations(
        &mut self,
        labels: Option<std::collections::BTreeMap<String, String>>,
        annotations: Option<std::collections::BTreeMap<String, String>>,
    ) {
        self.plan.labels = labels.clone().unwrap_or_default();
        self.plan.pod.metadata.labels = labels;
        self.plan.pod.metadata.annotations = annotations;
    }

    /// The pod IP once the sandbox exists.
    pub fn pod_ip(&self) -> Option<&str> {
        self.pod_ip.as_deref()
    }

    /// The terminal phase once the pod has finished (sticky).
    pub fn terminal_phase(&self) -> Option<Phase> {
        self.stage.terminal()
    }

    /// Whether a deletion was requested.
    pub fn is_deleting(&self) -> bool {
        self.stage.deletion().is_some()
    }

    /// When the deletion was first requested, and `metadata.deletionGracePeriodSeconds` as the
    /// API server shows it (`CheckGracefulDelete` / `BeforeDelete`): the requested grace, or the
    /// spec's when none was given; 0 for a force delete; a later request only lowers it. (The
    /// pod worker's grace, at least 1 s, is what the kills use.)
    pub fn deletion(&self) -> Option<(Timestamp, i64)> {
        self.stage.deletion().map(|d| (d.requested_at, d.api_grace))
    }

    /// The pod is terminal and every process is gone: the worker may stop.
    pub fn is_finished(&self) -> bool {
        self.stage.terminal().is_some() && self.sandbox == SandboxState::Removing
    }

    // ----------------------------------------------------------------- observe

    /// Records a fact observed at `now`.
    pub fn observe(&mut self, now: Timestamp, obs: Observation) {
        match obs {
            Observation::SandboxReady { pod_ip } => {
                if self.sandbox == SandboxState::Creating {
                    self.pod_ip = Some(pod_ip.clone());
                    self.sandbox = SandboxState::Ready { pod_ip };
                }
            }
            // Answers to `CreateSandbox`: only one still awaited changes the sandbox. A late one
            // (the pod was deleted and finished meanwhile, the sandbox is being removed) is
            // recorded as the event it is and revives nothing.
            Observation::SandboxFailed { message } => {
                self.sandbox_failed(now);
                let msg = format!("Failed to create pod sandbox: {message}");
                self.event(now, EventType::Warning, "FailedCreatePodSandBox", msg, None);
            }
            Observation::MountFailed { message } => {
                self.sandbox_failed(now);
                let msg = format!("Unable to attach or mount volumes: {message}");
                self.event(now, EventType::Warning, "FailedMount", msg, None);
            }
            Observation::VolumeSetUpFailed { volume, message } => {
                self.sandbox_failed(now);
                let msg = crate::volume::setup_failed_message(&volume, &message);
                self.event(now, EventType::Warning, "FailedMount", msg, None);
            }
            Observation::ContainerCreated { instance } => {
                if let Some(i) = self.instance_mut(instance) {
                    if i.state == InstanceState::Creating {
                        i.state = InstanceState::Created;
                    }
                    self.container_event(
                        now,
                        instance.container,
                        EventType::Normal,
                        "Created",
                        "Container created".into(),
                    );
                }
            }
            Observation::ContainerStarted { instance, at } => self.on_started(now, instance, at),
            Observation::ContainerStartFailed {
                instance,
                reason,
                message,
            } => self.on_start_failed(now, instance, reason, message),
            Observation::ContainerExited {
                instance,
                at,
                exit_code,
                signal,
                termination_message,
            } => self.on_exited(instance, at, exit_code, signal, termination_message),
            Observation::HookFinished {
                instance,
                hook,
                result,
            } => self.on_hook_finished(now, instance, hook, result),
            Observation::ProbeResult {
                instance,
                probe_type,
                outcome,
            } => self.on_probe_result(now, instance, probe_type, outcome),
            Observation::DeleteRequested {
                grace_period_seconds,
            } => {
                let previous = self.stage.deletion();
                // `CheckGracefulDelete`: a pod whose status already shows a terminal phase is
                // deleted at once (grace 0).
                let requested = if self.terminal_shown.is_some() {
                    Some(0)
                } else {
                    grace_period_seconds
                };
                let spec = self.plan.termination_grace_period_seconds;
                let deletion = Deletion {
                    requested_at: previous.map_or(now, |d| d.requested_at),
                    grace: grace::effective_deletion_grace(
                        previous.map(|d| d.grace),
                        requested,
                        spec,
                    ),
                    api_grace: grace::api_deletion_grace(
                        previous.map(|d| d.api_grace),
                        requested,
                        spec,
                    ),
                };
                match self.stage {
                    PodStage::Running
                    | PodStage::Completing
                    | PodStage::DeletionRequested { .. } => {
                        self.stage = PodStage::DeletionRequested { deletion };
                    }
                    PodStage::Terminating { .. } => {
                        self.stage = PodStage::Terminating { deletion };
                    }
                    PodStage::Terminated { .. } => {}
                }
            }
        }
        self.update_conditions(now);
    }

    /// `CreateSandbox` failed (sandbox or volumes): SyncPod tries again after the back-off.
    fn sandbox_failed(&mut self, now: Timestamp) {
        if self.sandbox == SandboxState::Creating {
            self.sandbox = SandboxState::Failed {
                retry_at: now + SYNC_BACKOFF,
            };
        }
    }

    fn on_started(&mut self, now: Timestamp, id: InstanceId, at: Timestamp) {
        let post_start = self.plan.container(id.container).post_start.clone();
        let Some(i) = self.instance_mut(id) else {
            return;
        };
        if !matches!(i.state, InstanceState::Creating | InstanceState::Created) {
            return;
        }
        i.state = InstanceState::Running;
        i.started_at = Some(at);
        if let Some(r) = self.records.get_mut(&id.container) {
            r.start_error = None;
        }
        self.container_event(
            now,
            id.container,
            EventType::Normal,
            "Started",
            "Container started".into(),
        );
        match post_start {
            Some(handler) => {
                if let Some(i) = self.instance_mut(id) {
                    i.post_start_running = true;
                }
                self.busy = Some(Busy::PostStart(id));
                self.pending.push(Action::RunHook {
                    instance: id,
                    hook: HookType::PostStart,
                    handler,
                });
            }
            None => {
                if self.busy == Some(Busy::Starting(id)) {
                    self.busy = None;
                }
                self.start_probes(id);
            }
        }
    }

    fn on_start_failed(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        reason: StartFailure,
        message: String,
    ) {
        if self.busy == Some(Busy::Starting(id)) {
            self.busy = None;
        }
        self.container_event(
            now,
            id.container,
            EventType::Warning,
            "Failed",
            format!("Error: {message}"),
        );
        let Some(rec) = self.records.get_mut(&id.container) else {
            return;
        };
        rec.start_error = Some((reason.as_str().to_string(), message.clone()));
        match reason {
            StartFailure::RunContainerError => {
                if let Some(i) = rec.instances.iter_mut().find(|i| i.id == id) {
                    i.state = InstanceState::Exited {
                        finished_at: now,
                        exit_code: 128,
                        signal: None,
                        reason: "StartError".into(),
                        message: Some(message),
                    };
                }
            }
            StartFailure::CreateContainerConfigError | StartFailure::CreateContainerError => {
                // Nothing was created: no instance, no restart count; the worker retries later.
                rec.instances.retain(|i| i.id != id);
                rec.not_before = Some(now + SYNC_BACKOFF);
            }
        }
    }

    fn on_exited(
        &mut self,
        id: InstanceId,
        at: Timestamp,
        exit_code: i32,
        signal: Option<i32>,
        termination_message: Option<String>,
    ) {
        let Some(i) = self.instance_mut(id) else {
            return;
        };
        if !i.is_alive() {
            return;
        }
        i.state = InstanceState::Exited {
            finished_at: at,
            exit_code,
            signal,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
            message: termination_message,
        };
        i.ready = false;
        if let Some(k) = &mut i.kill {
            k.stage = KillStage::Killed;
        }
        let active: Vec<ProbeType> = std::mem::take(&mut i.active_probes).into_iter().collect();
        for probe_type in active {
            self.pending.push(Action::StopProbe {
                instance: id,
                probe_type,
            });
        }
        if self.busy == Some(Busy::Killing(id)) {
            self.busy = None;
        }
    }

    fn on_hook_finished(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        hook: HookType,
        result: Result<(), HandlerFailure>,
    ) {
        match hook {
            HookType::PostStart => {
                if let Some(i) = self.instance_mut(id) {
                    i.post_start_running = false;
                }
                if self.busy == Some(Busy::PostStart(id)) {
                    self.busy = None;
                }
                match result {
                    Ok(()) => {
                        if self.instance(id).is_some_and(Instance::is_running) {
                            self.start_probes(id);
                        }
                    }
                    Err(failure) => {
                        self.container_event(
                            now,
                            id.container,
                            EventType::Warning,
                            "FailedPostStartHook",
                            "PostStartHook failed".into(),
                        );
                        let message =
                            self.handler_failure_message(id, HookType::PostStart, &failure);
                        if let Some(rec) = self.records.get_mut(&id.container) {
                            rec.start_error = Some(("PostStartHookError".into(), message));
                        }
                        if self.instance(id).is_some_and(Instance::is_alive) {
                            if let Some(i) = self.instance_mut(id) {
                                i.post_start_kill = true;
                            }
                            self.busy = Some(Busy::Killing(id));
                            self.kill_container(
                                now,
                                id,
                                KillReason::FailedPostStartHook,
                                Some("FailedPostStartHook".into()),
                                None,
                                Vec::new(),
                            );
                        }
                    }
                }
            }
            HookType::PreStop => {
                if result.is_err() {
                    self.container_event(
                        now,
                        id.container,
                        EventType::Warning,
                        "FailedPreStopHook",
                        "PreStopHook failed".into(),
                    );
                }
                self.pre_stop_returned(now, id);
            }
        }
    }

    fn on_probe_result(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        probe_type: ProbeType,
        outcome: ProbeOutcome,
    ) {
        let Some(probe) = self.plan.container(id.container).probe(probe_type).cloned() else {
            return;
        };
        let Some(i) = self.instance(id) else { return };
        if !i.is_running() || !i.active_probes.contains(&probe_type) {
            return;
        }
        let name = probe_type.as_str();
        match &outcome {
            ProbeOutcome::Failure(out) => self.container_event(
                now,
                id.container,
                EventType::Warning,
                "Unhealthy",
                format!("{name} probe failed: {out}"),
            ),
            ProbeOutcome::Error(err) => self.container_event(
                now,
                id.container,
                EventType::Warning,
                "Unhealthy",
                format!("{name} probe errored and resulted in unknown state: {err}"),
            ),
            ProbeOutcome::Warning(out) => self.container_event(
                now,
                id.container,
                EventType::Warning,
                "ProbeWarning",
                format!("{name} probe warning: {out}"),
            ),
            ProbeOutcome::Success => {}
        }
        let Some(i) = self.instance_mut(id) else {
            return;
        };
        let counter = i
            .counters
            .entry(probe_type)
            .or_insert_with(|| ProbeCounter::new(probe_type));
        let Some(flipped) = counter.record(&probe, &outcome) else {
            return;
        };
        match (probe_type, flipped) {
            (ProbeType::Readiness, r) => i.ready = r == ProbeResult::Success && i.started,
            (ProbeType::Startup, ProbeResult::Success) => {
                i.started = true;
                i.active_probes.remove(&ProbeType::Startup);
                self.pending.push(Action::StopProbe {
                    instance: id,
                    probe_type,
                });
                self.start_gated_probes(id);
                if self.plan.container(id.container).readiness_probe.is_none() {
                    if let Some(i) = self.instance_mut(id) {
                        i.ready = true;
                    }
                }
            }
            (ProbeType::Startup | ProbeType::Liveness, ProbeResult::Failure) => {
                // The worker goes on hold until a new instance appears.
                i.active_probes.remove(&probe_type);
                i.probe_kill = Some(if probe_type == ProbeType::Startup {
                    KillReason::StartupProbe
                } else {
                    KillReason::LivenessProbe
                });
                self.pending.push(Action::StopProbe {
                    instance: id,
                    probe_type,
                });
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------- decide

    /// What to do at `now`, from everything recorded so far.
    pub fn decide(&mut self, now: Timestamp) -> Vec<Action> {
        self.last_decide = self.last_decide.max(now);
        self.progress_kills(now);
        if self.stage.terminal().is_none() {
            self.sync(now);
            // Kills begun by this sync may have nothing to wait for.
            self.progress_kills(now);
            if self.busy.is_none()
                && self.stage.deletion().is_some()
                && !self.any_alive()
                && self.stage.terminal().is_none()
            {
                self.finish(now);
            }
        }
        self.update_conditions(now);
        std::mem::take(&mut self.pending)
    }

    /// The earliest time `decide` must run again without a new fact: the next kill deadline, the
    /// sandbox retry, or the end of a start back-off (sync back-off after a config error,
    /// CrashLoopBackOff), each only when a `decide` at that time would act on it, and only
    /// times after the last `decide` (a past wakeup would make the engine spin).
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let mut candidates = self.kill_deadlines();
        if let SandboxState::Failed { retry_at } = self.sandbox {
            // SyncPod reaches the sandbox only when idle and not terminating.
            if self.busy.is_none() && matches!(self.stage, PodStage::Running | PodStage::Completing)
            {
                candidates.push(retry_at);
            }
        }
        candidates.extend(
            self.start_candidates()
                .into_iter()
                .filter_map(|r| self.records[&r].not_before),
        );
        candidates
            .into_iter()
            .filter(|t| *t > self.last_decide)
            .min()
    }

    /// The containers whose start (or restart) the next SyncPod would attempt, in `sync`'s order:
    /// nothing while the worker is busy, the pod is done or being deleted, or the sandbox is not
    /// ready; before initialization the one init container `sync_init_containers` stops at; after
    /// it, exited sidecars and regular containers never started or due to restart.
    fn start_candidates(&self) -> Vec<ContainerRef> {
        if self.busy.is_some()
            || self.stage != PodStage::Running
            || !matches!(self.sandbox, SandboxState::Ready { .. })
            || self.probe_kill_candidate().is_some()
            || self.pod_is_done()
            || self.terminal_shown.is_some()
        {
            return Vec::new();
        }
        if !self.initialized() {
            for idx in 0..self.plan.init_containers.len() {
                let r = ContainerRef::Init(idx);
                let c = self.plan.container(r);
                match self.records[&r].latest() {
                    None => return vec![r],
                    Some(i) if i.is_alive() => {
                        if c.kind == ContainerKind::Sidecar && i.is_running() && i.started {
                            continue;
                        }
                        return Vec::new();
                    }
                    Some(i) => {
                        let code = i.exit().map_or(0, |(_, code)| code);
                        if c.kind == ContainerKind::Init && code == 0 {
                            continue;
                        }
                        if container_should_restart(c, self.plan.restart_policy, code) {
                            return vec![r];
                        }
                        return Vec::new();
                    }
                }
            }
            return Vec::new();
        }
        let sidecars = (0..self.plan.init_containers.len())
            .map(ContainerRef::Init)
            .filter(|r| {
                self.plan.container(*r).kind == ContainerKind::Sidecar && self.latest_exited(*r)
            });
        let regular = (0..self.plan.containers.len())
            .map(ContainerRef::Regular)
            .filter(
                |r| match self.records[r].latest().map(|i| (i.is_alive(), i.exit())) {
                    None => true,
                    Some((false, Some((_, code)))) => container_should_restart(
                        self.plan.container(*r),
                        self.plan.restart_policy,
                        code,
                    ),
                    _ => false,
                },
            );
        sidecars.chain(regular).collect()
    }

    fn sync(&mut self, now: Timestamp) {
        if self.busy.is_some() {
            return;
        }
        if self.stage.deletion().is_some() {
            if let PodStage::DeletionRequested { deletion } = self.stage {
                // SyncTerminatingPod: killPod with the deletion's grace as the override.
                self.stage = PodStage::Terminating { deletion };
                self.kill_pod(now, Some(deletion.grace));
            }
            if !self.any_alive() {
                self.finish(now);
            }
            return;
        }
        match &self.sandbox {
            SandboxState::NotCreated => {
                self.sandbox = SandboxState::Creating;
                self.pending.push(Action::CreateSandbox);
                return;
            }
            SandboxState::Failed { retry_at } if *retry_at <= now => {
                self.sandbox = SandboxState::Creating;
                self.pending.push(Action::CreateSandbox);
                return;
            }
            SandboxState::Ready { .. } => {}
            _ => return,
        }
        // Liveness / startup failures: kill inside SyncPod, one at a time, blocking the worker.
        if let Some((id, reason)) = self.probe_kill_candidate() {
            self.kill_for_probe(now, id, reason);
            return;
        }
        if self.stage == PodStage::Completing || self.pod_is_done() || self.terminal_shown.is_some()
        {
            if self.stage == PodStage::Running {
                self.stage = PodStage::Completing;
                self.kill_pod(now, None);
            }
            if !self.any_alive() {
                self.finish(now);
            }
            return;
        }
        if !self.initialized() {
            self.sync_init_containers(now);
            return;
        }
        // After initialization, exited sidecars are restarted whatever the pod's policy.
        for idx in 0..self.plan.init_containers.len() {
            let r = ContainerRef::Init(idx);
            if self.plan.container(r).kind == ContainerKind::Sidecar && self.latest_exited(r) {
                self.try_restart(now, r);
                if self.busy.is_some() {
                    return;
                }
            }
        }
        for idx in 0..self.plan.containers.len() {
            let r = ContainerRef::Regular(idx);
            let latest = self.records[&r].latest().map(|i| (i.is_alive(), i.exit()));
            match latest {
                None => self.start_if_allowed(now, r),
                Some((false, Some((_, code))))
                    if container_should_restart(
                        self.plan.container(r),
                        self.plan.restart_policy,
                        code,
                    ) =>
                {
                    self.try_restart(now, r);
                }
                _ => {}
            }
            if self.busy.is_some() {
                return;
            }
        }
    }

    fn sync_init_containers(&mut self, now: Timestamp) {
        for idx in 0..self.plan.init_containers.len() {
            let r = ContainerRef::Init(idx);
            let kind = self.plan.container(r).kind;
            let latest = self.records[&r].latest().cloned();
            match latest {
                None => {
                    self.start_if_allowed(now, r);
                    return;
                }
                Some(i) if i.is_alive() => {
                    if kind == ContainerKind::Sidecar && i.is_running() && i.started {
                        continue;
                    }
                    return;
                }
                Some(i) => {
                    let (_, code) = i.exit().unwrap_or((now, 0));
                    if kind == ContainerKind::Init && code == 0 {
                        continue;
                    }
                    if container_should_restart(
                        self.plan.container(r),
                        self.plan.restart_policy,
                        code,
                    ) {
                        self.try_restart(now, r);
                    }
                    return;
                }
            }
        }
    }

    /// Initialized: a regular container exists, or every init container is done (regular: exited
    /// 0; sidecar: running and started).
    fn initialized(&self) -> bool {
        let any_regular = (0..self.plan.containers.len()).any(|i| {
            self.records[&ContainerRef::Regular(i)]
                .instances
                .iter()
                .any(|inst| !inst.recovered)
        });
        any_regular
            || (0..self.plan.init_containers.len()).all(|i| {
                let r = ContainerRef::Init(i);
                let latest = self.records[&r].latest();
                match self.plan.container(r).kind {
                    ContainerKind::Sidecar => latest.is_some_and(|l| l.is_running() && l.started),
                    _ => latest.and_then(Instance::exit).is_some_and(|(_, c)| c == 0),
                }
            })
    }

    /// Every regular container has exited and none will restart, or an init container failed
    /// and will not be restarted (`computePodActions` KillPod without restart).
    fn pod_is_done(&self) -> bool {
        let init_failed = (0..self.plan.init_containers.len()).any(|i| {
            let r = ContainerRef::Init(i);
            let c = self.plan.container(r);
            c.kind == ContainerKind::Init
                && self.records[&r]
                    .latest()
                    .and_then(Instance::exit)
                    .is_some_and(|(_, code)| {
                        code != 0 && !container_should_restart(c, self.plan.restart_policy, code)
                    })
        });
        if init_failed {
            return true;
        }
        !self.plan.containers.is_empty()
            && (0..self.plan.containers.len()).all(|i| {
                let r = ContainerRef::Regular(i);
                match self.records[&r].latest().and_then(Instance::exit) {
                    Some((_, code)) => !container_should_restart(
                        self.plan.container(r),
                        self.plan.restart_policy,
                        code,
                    ),
                    None => false,
                }
            })
    }

    fn latest_exited(&self, r: ContainerRef) -> bool {
        self.records[&r].latest().is_some_and(|i| !i.is_alive())
    }

    fn any_alive(&self) -> bool {
        self.records
            .values()
            .any(|r| r.latest().is_some_and(Instance::is_alive))
    }

    fn probe_kill_candidate(&self) -> Option<(InstanceId, KillReason)> {
        self.records.values().find_map(|r| {
            let i = r.latest()?;
            match (i.is_running(), i.kill.is_none(), i.probe_kill) {
                (true, true, Some(reason)) => Some((i.id, reason)),
                _ => None,
            }
        })
    }

    fn kill_for_probe(&mut self, now: Timestamp, id: InstanceId, reason: KillReason) {
        let c = self.plan.container(id.container);
        let what = if reason == KillReason::StartupProbe {
            "startup"
        } else {
            "liveness"
        };
        let will_restart = container_should_restart(c, self.plan.restart_policy, 1)
            || c.kind == ContainerKind::Sidecar;
        let message = match (c.kind, will_restart) {
            (ContainerKind::Sidecar, _) => format!("Init container {} failed {what} probe", c.name),
            (_, true) => format!(
                "Container {} failed {what} probe, will be restarted",
                c.name
            ),
            (_, false) => format!("Container {} failed {what} probe", c.name),
        };
        self.busy = Some(Busy::Killing(id));
        self.kill_container(now, id, reason, Some(message), None, Vec::new());
    }

    fn start_if_allowed(&mut self, now: Timestamp, r: ContainerRef) {
        if self.records[&r].not_before.is_some_and(|nb| nb > now) {
            return;
        }
        self.start_container(now, r);
    }

    /// Restart an exited container if its CrashLoopBackOff allows it.
    fn try_restart(&mut self, now: Timestamp, r: ContainerRef) {
        let Some((finished_at, _)) = self.records[&r].latest().and_then(Instance::exit) else {
            return;
        };
        let restart_count = self.records[&r].latest().map_or(0, |i| i.id.restart_count);
        match self.records[&r].backoff.verdict(finished_at, now) {
            BackoffVerdict::Start => {
                if let Some(rec) = self.records.get_mut(&r) {
                    rec.backoff.record_start(finished_at, now);
                    rec.not_before = None;
                }
                self.start_container(now, r);
            }
            BackoffVerdict::Wait { until, backoff } => {
                let name = self.plan.container(r).name.clone();
                let pod = self.pod_ref();
                let already = self.records[&r].backoff_reported == Some(restart_count);
                if let Some(rec) = self.records.get_mut(&r) {
                    rec.not_before = Some(until);
                    rec.backoff_reported = Some(restart_count);
                    rec.start_error = Some((
                        "CrashLoopBackOff".into(),
                        format!(
                            "back-off {} restarting failed container={name} pod={pod}",
                            go_duration(backoff)
                        ),
                    ));
                }
                if !already {
                    self.container_event(
                        now,
                        r,
                        EventType::Warning,
                        "BackOff",
                        format!("Back-off restarting failed container {name} in pod {pod}"),
                    );
                }
            }
        }
    }

    fn start_container(&mut self, now: Timestamp, r: ContainerRef) {
        let rec = &self.records[&r];
        let restart_count = rec
            .latest()
            .map_or(rec.restart_base, |i| i.id.restart_count + 1);
        let id = InstanceId {
            container: r,
            restart_count,
        };
        let c = self.plan.container(r);
        let mut counters = BTreeMap::new();
        for t in [
            ProbeType::Startup,
            ProbeType::Liveness,
            ProbeType::Readiness,
        ] {
            if c.probe(t).is_some() {
                counters.insert(t, ProbeCounter::new(t));
            }
        }
        let msg = format!(
            "Container image \"{}\" already present on machine and can be accessed by the pod",
            c.image
        );
        let instance = Instance {
            id,
            state: InstanceState::Creating,
            started_at: None,
            post_start_running: false,
            post_start_kill: false,
            counters,
            active_probes: BTreeSet::new(),
            started: false,
            ready: false,
            kill: None,
            probe_kill: None,
            recovered: false,
        };
        if let Some(rec) = self.records.get_mut(&r) {
            rec.instances.push(instance);
            rec.not_before = None;
        }
        self.container_event(now, r, EventType::Normal, "Pulled", msg);
        self.busy = Some(Busy::Starting(id));
        self.pending.push(Action::StartContainer { instance: id });
    }

    /// Start the probe workers of a freshly started instance: the startup probe gates the others.
    fn start_probes(&mut self, id: InstanceId) {
        let c = self.plan.container(id.container);
        if c.startup_probe.is_some() {
            if let Some(i) = self.instance_mut(id) {
                i.active_probes.insert(ProbeType::Startup);
            }
            self.pending.push(Action::StartProbe {
                instance: id,
                probe_type: ProbeType::Startup,
            });
        } else {
            // A regular init container is ready only once it exited 0.
            let ready_without_probe = c.readiness_probe.is_none() && c.kind != ContainerKind::Init;
            if let Some(i) = self.instance_mut(id) {
                i.started = true;
                i.ready = ready_without_probe;
            }
            self.start_gated_probes(id);
        }
    }

    fn start_gated_probes(&mut self, id: InstanceId) {
        let c = self.plan.container(id.container);
        let types: Vec<ProbeType> = [ProbeType::Liveness, ProbeType::Readiness]
            .into_iter()
            .filter(|t| c.probe(*t).is_some())
            .collect();
        for probe_type in types {
            if let Some(i) = self.instance_mut(id) {
                i.active_probes.insert(probe_type);
            }
            self.pending.push(Action::StartProbe {
                instance: id,
                probe_type,
            });
        }
    }

    // ----------------------------------------------------------------- termination
    // The kill sequence itself is in `crate::kill`.

    pub(crate) fn stop_probe(&mut self, id: InstanceId, probe_type: ProbeType) {
        if let Some(i) = self.instance_mut(id) {
            if i.active_probes.remove(&probe_type) {
                self.pending.push(Action::StopProbe {
                    instance: id,
                    probe_type,
                });
            }
        }
    }

    /// Every container has stopped: render the terminal phase (sticky) and tear down.
    fn finish(&mut self, now: Timestamp) {
        let ids: Vec<InstanceId> = self
            .records
            .values()
            .filter_map(|r| r.latest())
            .map(|i| i.id)
            .collect();
        for id in ids {
            self.stop_probe(id, ProbeType::Readiness);
        }
        let phase = self.computed_phase(true);
        self.stage = PodStage::Terminated {
            phase: if phase.is_terminal() {
                phase
            } else {
                Phase::Failed
            },
            deletion: self.stage.deletion(),
        };
        self.sandbox = SandboxState::Removing;
        self.pending.push(Action::RemoveSandbox);
        self.update_conditions(now);
    }

    // ----------------------------------------------------------------- helpers

    pub(crate) fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.records
            .get(&id.container)?
            .instances
            .iter()
            .rev()
            .find(|i| i.id == id)
    }

    pub(crate) fn instance_mut(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.records
            .get_mut(&id.container)?
            .instances
            .iter_mut()
            .rev()
            .find(|i| i.id == id)
    }

    /// `<pod>_<namespace>(<uid>)`, as in the kubelet's messages.
    pub(crate) fn pod_ref(&self) -> String {
        format!(
            "{}_{}({})",
            self.plan.key.name, self.plan.key.namespace, self.plan.uid
        )
    }

    fn handler_failure_message(
        &self,
        id: InstanceId,
        hook: HookType,
        f: &HandlerFailure,
    ) -> String {
        let c = self.plan.container(id.container);
        let handler = match hook {
            HookType::PostStart => c.post_start.as_ref(),
            HookType::PreStop => c.pre_stop.as_ref(),
        };
        let pod = self.pod_ref();
        let name = &c.name;
        match handler {
            Some(HandlerPlan::Exec { command }) => format!(
                "Exec lifecycle hook ([{}]) for Container \"{name}\" in Pod \"{pod}\" failed - error: {}, message: {:?}",
                command.join(" "),
                f.error,
                f.output
            ),
            Some(HandlerPlan::HttpGet(h)) => format!(
                "HTTP lifecycle hook ({}) for Container \"{name}\" in Pod \"{pod}\" failed - error: {}",
                h.path, f.error
            ),
            Some(HandlerPlan::Sleep { seconds }) => format!(
                "Sleep lifecycle hook ({seconds}) for Container \"{name}\" in Pod \"{pod}\" failed - error: {}",
                f.error
            ),
            _ => format!("Cannot run handler: {}", f.error),
        }
    }

    fn event(
        &mut self,
        at: Timestamp,
        event_type: EventType,
        reason: &str,
        message: String,
        field_path: Option<String>,
    ) {
        self.pending.push(Action::RecordEvent(EventRecord {
            at,
            event_type,
            reason: reason.to_string(),
            message,
            field_path,
        }));
    }

    pub(crate) fn container_event(
        &mut self,
        at: Timestamp,
        r: ContainerRef,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let path = r.field_path(&self.plan.container(r).name);
        self.event(at, event_type, reason, message, Some(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_plans::{container, pod};
    use crate::plan::RestartPolicy;

    fn machine(plan: PodPlan) -> PodMachine {
        let wall = WallClock {
            epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
        };
        let node = NodeInfo {
            node_name: "node".into(),
            host_ip: "127.0.0.1".into(),
        };
        PodMachine::new(plan, wall, node, Timestamp::ZERO)
    }

    #[test]
    fn a_late_sandbox_or_mount_failure_does_not_revive_a_finished_pod() {
        for late in [
            Observation::SandboxFailed {
                message: "boom".into(),
            },
            Observation::MountFailed {
                message: "no".into(),
            },
        ] {
            let mut m = machine(pod(
                vec![],
                vec![container("app", ContainerKind::Regular)],
                RestartPolicy::Always,
            ));
            assert!(m.decide(Timestamp::ZERO).contains(&Action::CreateSandbox));
            // Deleted before the sandbox answered: nothing runs, the pod finishes at once.
            m.observe(
                Timestamp::from_secs(1),
                Observation::DeleteRequested {
                    grace_period_seconds: None,
                },
            );
            assert!(m
                .decide(Timestamp::from_secs(1))
                .contains(&Action::RemoveSandbox));
            assert!(m.is_finished());
            m.observe(Timestamp::from_secs(2), late);
            let after = m.decide(Timestamp::from_secs(2));
            assert!(after.iter().all(|a| matches!(a, Action::RecordEvent(_))));
            assert!(m.is_finished());
            assert_eq!(m.next_wakeup(), None);
            assert!(m.decide(Timestamp::from_secs(60)).is_empty());
        }
    }

    #[test]
    fn deleting_a_pod_whose_status_shows_a_terminal_phase_is_a_zero_grace_deletion() {
        // CheckGracefulDelete: a Succeeded/Failed pod is deleted at once, whatever was asked;
        // here the deletion arrives before the worker's next sync stopped the pod.
        let mut m = machine(pod(
            vec![],
            vec![container("app", ContainerKind::Regular)],
            RestartPolicy::Never,
        ));
        let t = Timestamp::from_secs(1);
        let app = InstanceId {
            container: ContainerRef::Regular(0),
            restart_count: 0,
        };
        m.decide(t);
        m.observe(
            t,
            Observation::SandboxReady {
                pod_ip: "127.244.0.2".into(),
            },
        );
        m.decide(t);
        m.observe(
            t,
            Observation::ContainerStarted {
                instance: app,
                at: t,
            },
        );
        m.decide(t);
        m.observe(
            t,
            Observation::ContainerExited {
                instance: app,
                at: t,
                exit_code: 1,
                signal: None,
                termination_message: None,
            },
        );
        assert_eq!(m.status().phase.as_deref(), Some("Failed"));
        let later = Timestamp::from_secs(2);
        m.observe(
            later,
            Observation::DeleteRequested {
                grace_period_seconds: Some(30),
            },
        );
        assert_eq!(m.deletion(), Some((later, 0)));
        m.decide(later);
        assert!(m.is_finished());
        assert_eq!(m.status().phase.as_deref(), Some("Failed"));
    }

    #[test]
    fn a_failed_volume_set_up_is_a_failed_mount_event_and_is_retried() {
        let mut m = machine(pod(
            vec![],
            vec![container("app", ContainerKind::Regular)],
            RestartPolicy::Always,
        ));
        assert!(m.decide(Timestamp::ZERO).contains(&Action::CreateSandbox));
        m.observe(
            Timestamp::ZERO,
            Observation::VolumeSetUpFailed {
                volume: "data".into(),
                message: "hostPath type check failed: /d is not a directory, it's a File".into(),
            },
        );
        let actions = m.decide(Timestamp::ZERO);
        let events: Vec<&EventRecord> = actions
            .iter()
            .filter_map(|a| match a {
                Action::RecordEvent(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1, "{actions:?}");
        assert_eq!(events[0].reason, "FailedMount");
        assert_eq!(events[0].event_type, EventType::Warning);
        assert_eq!(
            events[0].message,
            "MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: /d is not a directory, it's a File"
        );
        assert!(!actions.contains(&Action::CreateSandbox));
        let status = m.status();
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        let waiting = status
            .container_statuses
            .as_ref()
            .and_then(|c| c[0].state.as_ref())
            .and_then(|s| s.waiting.as_ref());
        assert_eq!(
            waiting.and_then(|w| w.reason.as_deref()),
            Some("ContainerCreating")
        );
        // The kubelet keeps retrying the mount; so does the machine, after the back-off.
        assert_eq!(m.next_wakeup(), Some(Timestamp::ZERO + SYNC_BACKOFF));
        assert!(m
            .decide(Timestamp::ZERO + SYNC_BACKOFF)
            .contains(&Action::CreateSandbox));
    }

    #[test]
    fn a_sandbox_failure_while_creating_is_retried_after_the_back_off() {
        let mut m = machine(pod(
            vec![],
            vec![container("app", ContainerKind::Regular)],
            RestartPolicy::Always,
        ));
        m.decide(Timestamp::ZERO);
        m.observe(
            Timestamp::ZERO,
            Observation::SandboxFailed {
                message: "boom".into(),
            },
        );
        assert!(!m.decide(Timestamp::ZERO).contains(&Action::CreateSandbox));
        assert_eq!(m.next_wakeup(), Some(Timestamp::ZERO + SYNC_BACKOFF));
        assert!(m
            .decide(Timestamp::ZERO + SYNC_BACKOFF)
            .contains(&Action::CreateSandbox));
    }
}
