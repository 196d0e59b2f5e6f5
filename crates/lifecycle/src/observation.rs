//! Inputs of the pure core: facts the engine observed (PLEG-like container events, hook and probe
//! outcomes, deletion requests). Mirrors what the kubelet's pod worker learns from PLEG relists,
//! `handlerRunner.Run` results, prober results and `UpdatePod(SyncPodKill)`.

use crate::plan::{ContainerRef, ProbeType};
use crate::time::Timestamp;

/// One container instance: a container of the plan plus the restart count it was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    /// The container in the plan.
    pub container: ContainerRef,
    /// `restartCount` of this instance (0 for the first).
    pub restart_count: i32,
}

/// postStart or preStop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookType {
    /// `lifecycle.postStart`.
    PostStart,
    /// `lifecycle.preStop`.
    PreStop,
}

/// Why a container could not be started (the kubelet's start-result reasons, §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFailure {
    /// Env, mounts or config could not be generated (`CreateContainerConfigError`).
    CreateContainerConfigError,
    /// The runtime could not create the container (`CreateContainerError`).
    CreateContainerError,
    /// The runtime could not start the entrypoint (`RunContainerError`; terminated `StartError`, 128).
    RunContainerError,
}

impl StartFailure {
    /// The waiting-reason spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StartFailure::CreateContainerConfigError => "CreateContainerConfigError",
            StartFailure::CreateContainerError => "CreateContainerError",
            StartFailure::RunContainerError => "RunContainerError",
        }
    }
}

/// A failed lifecycle handler: the error and the handler's output, formatted by the core
/// into the kubelet's messages (§4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerFailure {
    /// The error, e.g. `command 'sh -c exit 1' exited with 1: ` or a transport error.
    pub error: String,
    /// The handler's output (exec: stdout followed by stderr), empty for http/sleep.
    pub output: String,
}

/// The outcome of one probe attempt (after the kubelet's retries on errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Success.
    Success,
    /// Success with a warning (HTTP 3xx that was not followed): `ProbeWarning` event.
    Warning(String),
    /// Failure with the probe's output: `Unhealthy` event, counted against `failureThreshold`.
    Failure(String),
    /// The mechanism errored: `Unhealthy` "... errored and resulted in unknown state", not counted.
    Error(String),
}

/// A fact observed by the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The pod sandbox (namespaces) exists and has an IP.
    SandboxReady {
        /// `status.podIP`.
        pod_ip: String,
    },
    /// The pod sandbox could not be created.
    SandboxFailed {
        /// The error, for `FailedCreatePodSandBox`.
        message: String,
    },
    /// The pod's volumes could not be set up (the kubelet's "wait for volumes" step).
    MountFailed {
        /// The error, for `FailedMount`.
        message: String,
    },
    /// One volume's set-up failed (the volume manager's `MountVolume.SetUp`, e.g. a hostPath
    /// type check): a `FailedMount` event `MountVolume.SetUp failed for volume "<volume>" :
    /// <message>`; the pod stays ContainerCreating and the set-up is retried after the back-off.
    VolumeSetUpFailed {
        /// The volume's name.
        volume: String,
        /// The plugin's error, e.g. `hostPath type check failed: /p is not a directory, ...`.
        message: String,
    },
    /// The runtime created the container (the `Created` event); the entrypoint is not running yet.
    ContainerCreated {
        /// Which instance.
        instance: InstanceId,
    },
    /// The entrypoint is running (the `Started` event).
    ContainerStarted {
        /// Which instance.
        instance: InstanceId,
        /// When it started.
        at: Timestamp,
    },
    /// The container could not be created or started.
    ContainerStartFailed {
        /// Which instance.
        instance: InstanceId,
        /// Which step failed.
        reason: StartFailure,
        /// The error text (the event says `Error: <message>`).
        message: String,
    },
    /// The container's main process exited.
    ContainerExited {
        /// Which instance.
        instance: InstanceId,
        /// When it exited.
        at: Timestamp,
        /// Exit code as the runtime reports it (128 + signal when killed by a signal).
        exit_code: i32,
        /// The signal that killed it, if any.
        signal: Option<i32>,
        /// The termination message already read per `terminationMessagePolicy` (§8), if any.
        termination_message: Option<String>,
    },
    /// A postStart or preStop handler returned.
    HookFinished {
        /// Which instance.
        instance: InstanceId,
        /// Which hook.
        hook: HookType,
        /// `Ok` or the failure.
        result: Result<(), HandlerFailure>,
    },
    /// One probe attempt finished.
    ProbeResult {
        /// Which instance.
        instance: InstanceId,
        /// Which probe.
        probe_type: ProbeType,
        /// The outcome.
        outcome: ProbeOutcome,
    },
    /// The pod is being deleted (`kubectl delete`, `--stop-after`, SIGINT to `run`).
    DeleteRequested {
        /// `DeleteOptions.gracePeriodSeconds`; `None` = `spec.terminationGracePeriodSeconds`;
        /// `Some(0)` = force delete.
        grace_period_seconds: Option<i64>,
    },
}
