//! The live timeline: what happened to which pod and container, when, in the order the engine
//! saw it. `podvisor run` prints it; tests read it.

use std::time::Duration;

use podvisor_lifecycle::action::EventRecord;
use podvisor_lifecycle::observation::HookType;
use podvisor_lifecycle::phase::Phase;
use podvisor_lifecycle::plan::{PodKey, ProbeType};
use podvisor_lifecycle::signal::Signal;
use podvisor_lifecycle::time::Timestamp;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// When (engine time).
    pub at: Timestamp,
    /// Which pod.
    pub pod: PodKey,
    /// Which container, when the entry is about one.
    pub container: Option<String>,
    /// What happened.
    pub what: Happening,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Happening {
    /// The sandbox exists with this IP.
    SandboxReady {
        /// Pod IP.
        pod_ip: String,
    },
    /// A container instance was created and its entrypoint started.
    Started {
        /// Restart count of the instance.
        restart_count: i32,
        /// Host pid of its main process.
        pid: u32,
    },
    /// A container could not be started.
    StartFailed {
        /// Waiting reason.
        reason: String,
        /// Error.
        message: String,
    },
    /// A container's main process exited.
    Exited {
        /// Exit code.
        exit_code: i32,
        /// Killing signal.
        signal: Option<i32>,
        /// How long it ran.
        ran_for: Option<Duration>,
        /// The termination message recorded in its status (file or log tail), if any.
        message: Option<String>,
    },
    /// A hook began.
    HookStarted {
        /// Which hook.
        hook: HookType,
        /// Human description of the handler.
        handler: String,
    },
    /// A hook returned.
    HookFinished {
        /// Which hook.
        hook: HookType,
        /// Error text on failure.
        error: Option<String>,
        /// How long it took.
        took: Duration,
    },
    /// A signal was sent to a container's main process.
    Signal {
        /// The signal.
        signal: Signal,
        /// For a stop signal: seconds until SIGKILL.
        kill_after: Option<i64>,
    },
    /// A probe worker started.
    ProbeStarted {
        /// Which probe.
        probe_type: ProbeType,
    },
    /// A container's readiness flipped.
    Ready {
        /// New value.
        ready: bool,
    },
    /// The pod's phase changed.
    Phase {
        /// New phase.
        phase: Phase,
    },
    /// Deletion requested.
    Deleting {
        /// Effective grace period.
        grace_period_seconds: i64,
    },
    /// A Kubernetes Event was recorded.
    Event(EventRecord),
    /// The sandbox is gone: no process of the pod remains.
    Removed,
    /// An engine-side problem (the runtime failed to do something).
    Problem {
        /// What went wrong.
        message: String,
    },
}
