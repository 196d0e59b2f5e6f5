//! Outputs of the pure core: what the kubelet would do next (its "podActions" plus hook, signal,
//! probe and event side effects). The engine executes them and reports back as observations.

use crate::observation::{HookType, InstanceId};
use crate::plan::{HandlerPlan, ProbeType};
use crate::signal::Signal;
use crate::time::Timestamp;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// A Kubernetes Event about the pod, as the kubelet would record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// When.
    pub at: Timestamp,
    /// Normal or Warning.
    pub event_type: EventType,
    /// `reason`, e.g. `Killing`.
    pub reason: String,
    /// `message`, e.g. `Stopping container app`.
    pub message: String,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{app}`; `None` for pod-level events.
    pub field_path: Option<String>,
}

/// Something for the engine to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the pod sandbox (namespaces, pod IP). Answer: `SandboxReady` / `SandboxFailed`.
    CreateSandbox,
    /// Create and start a container instance (env resolved, mounts made, log and termination-message
    /// files fresh). Answer: `ContainerCreated` then `ContainerStarted`, or `ContainerStartFailed`;
    /// later `ContainerExited`.
    StartContainer {
        /// The instance to create (its restart count is part of the id).
        instance: InstanceId,
    },
    /// Run a lifecycle handler for an instance. Answer: `HookFinished`.
    RunHook {
        /// Which instance.
        instance: InstanceId,
        /// Which hook.
        hook: HookType,
        /// The handler.
        handler: HandlerPlan,
    },
    /// Send a signal to the instance's main process: the stop signal (`lifecycle.stopSignal`,
    /// default `SIGTERM`), or `SIGKILL` once the stop timeout ran out.
    Signal {
        /// Which instance.
        instance: InstanceId,
        /// The signal.
        signal: Signal,
        /// When `SIGKILL` follows unless the instance exits first (the stop signal plus the stop
        /// timeout, floored at 2 s); `None` when this signal is `SIGKILL` itself.
        kill_deadline: Option<Timestamp>,
    },
    /// Start the periodic worker for one probe of an instance. Answer: `ProbeResult` per attempt.
    StartProbe {
        /// Which instance.
        instance: InstanceId,
        /// Which probe.
        probe_type: ProbeType,
    },
    /// Stop that worker.
    StopProbe {
        /// Which instance.
        instance: InstanceId,
        /// Which probe.
        probe_type: ProbeType,
    },
    /// Record a Kubernetes Event.
    RecordEvent(EventRecord),
    /// Every container has stopped and the pod is terminal: tear the sandbox down.
    RemoveSandbox,
}
