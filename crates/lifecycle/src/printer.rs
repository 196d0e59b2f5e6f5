//! The `kubectl get pods` columns (READY, STATUS, RESTARTS) as pure functions of a Pod object.
//! Mirrors `printPod` (pkg/printers/internalversion/printers.go); see kubelet-semantics.md §7.4.

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Pod};

/// The printed columns of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    /// `READY`, e.g. `1/2`.
    pub ready: String,
    /// `STATUS`, e.g. `Running`, `Init:0/2`, `CrashLoopBackOff`, `Terminating`.
    pub status: String,
    /// `RESTARTS` count (the age of the last restart is added by the caller).
    pub restarts: i32,
    /// `finishedAt` of the most recent restart, for `N (5m ago)`.
    pub last_restart: Option<jiff::Timestamp>,
}

fn terminated_reason(state: &ContainerState, init: bool) -> Option<String> {
    let t = state.terminated.as_ref()?;
    let prefix = if init { "Init:" } else { "" };
    Some(match (&t.reason, t.signal) {
        (Some(r), _) if !r.is_empty() => format!("{prefix}{r}"),
        (_, Some(sig)) if sig != 0 => format!("{prefix}Signal:{sig}"),
        _ => format!("{prefix}ExitCode:{}", t.exit_code),
    })
}

fn is_sidecar(pod: &Pod, name: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .and_then(|ics| ics.iter().find(|c| c.name == name))
        .is_some_and(|c| c.restart_policy.as_deref() == Some("Always"))
}

fn last_restart(s: &ContainerStatus) -> Option<jiff::Timestamp> {
    s.last_state
        .as_ref()
        .and_then(|l| l.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .map(|t| t.0)
}

/// Computes READY, STATUS and RESTARTS for a pod.
pub fn pod_row(pod: &Pod) -> PodRow {
    let status = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let mut reason = status
        .reason
        .clone()
        .filter(|r| !r.is_empty())
        .or(status.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    if status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }
    let init_count = spec.init_containers.as_ref().map_or(0, Vec::len);
    let mut total = spec.containers.len();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last: Option<jiff::Timestamp> = None;
    let mut bump = |t: Option<jiff::Timestamp>| {
        if let Some(t) = t {
            last = Some(last.map_or(t, |l| l.max(t)));
        }
    };

    let mut initializing = false;
    for (i, s) in status.init_container_statuses.iter().flatten().enumerate() {
        restarts += s.restart_count;
        bump(last_restart(s));
        let sidecar = is_sidecar(pod, &s.name);
        if sidecar {
            total += 1;
        }
        let state = s.state.clone().unwrap_or_default();
        if state.terminated.as_ref().is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if sidecar && state.running.is_some() && s.started == Some(true) {
            if s.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(r) = terminated_reason(&state, true) {
            reason = r;
        } else if let Some(w) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{init_count}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        // Init restarts only count while initializing.
        restarts = status
            .init_container_statuses
            .iter()
            .flatten()
            .filter(|s| is_sidecar(pod, &s.name))
            .map(|s| s.restart_count)
            .sum();
    }
    let initialized = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        let mut has_running = false;
        for s in status.container_statuses.iter().flatten().rev() {
            restarts += s.restart_count;
            bump(last_restart(s));
            let state = s.state.clone().unwrap_or_default();
            if let Some(w) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = w;
            } else if let Some(r) = terminated_reason(&state, false) {
                reason = r;
            } else if state.running.is_some() && s.ready {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if pod_ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let phase = status.phase.as_deref().unwrap_or("");
    if pod.metadata.deletion_timestamp.is_some() {
        if status.reason.as_deref() == Some("NodeLost") {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }
    PodRow {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts,
        last_restart: last,
    }
}
