//! Pod phase as a pure function of the container statuses. Mirrors `getPhase`
//! (pkg/kubelet/kubelet_pods.go, ContainerRestartRules on); see kubelet-semantics.md §7.1.

use k8s_openapi::api::core::v1::ContainerStatus;

use crate::plan::{ContainerKind, PodPlan};
use crate::restart::container_should_restart;

/// `status.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Accepted; not all containers running yet.
    Pending,
    /// At least one container running (or restarting).
    Running,
    /// Every regular container exited 0 and none will restart.
    Succeeded,
    /// A container failed and will not restart, or the pod was terminated otherwise.
    Failed,
}

impl Phase {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    /// Succeeded or Failed.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

fn last_terminated_exit(s: &ContainerStatus) -> Option<i32> {
    s.last_state
        .as_ref()
        .and_then(|l| l.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// `getPhase`: `init` and `regular` are the statuses in spec order (missing ones are `None`);
/// `pod_is_terminal` is true when rendering the final status after termination.
pub fn compute_phase(
    plan: &PodPlan,
    init: &[Option<&ContainerStatus>],
    regular: &[Option<&ContainerStatus>],
    pod_is_terminal: bool,
) -> Phase {
    let mut pending_init = 0;
    let mut failed_init_not_restartable = 0;
    let mut pending_sidecar = 0;
    let (mut running, mut waiting, mut stopped, mut succeeded, mut unknown) = (0, 0, 0, 0, 0);
    let mut stopped_restartable = 0;

    for (c, s) in plan.init_containers.iter().zip(init) {
        let Some(s) = s else {
            if c.kind == ContainerKind::Sidecar {
                unknown += 1;
            } else {
                pending_init += 1;
            }
            continue;
        };
        let state = s.state.clone().unwrap_or_default();
        if c.kind == ContainerKind::Sidecar {
            if state.running.is_some() {
                if s.started == Some(true) {
                    running += 1;
                } else {
                    pending_sidecar += 1;
                }
            } else if state.waiting.is_some() && last_terminated_exit(s).is_none() {
                pending_sidecar += 1;
                waiting += 1;
            }
            continue;
        }
        let failed_exit = match (&state.terminated, &state.waiting) {
            (Some(t), _) if t.exit_code != 0 => Some(t.exit_code),
            (Some(_), _) => None,
            (None, Some(_)) => match last_terminated_exit(s) {
                Some(code) if code != 0 => Some(code),
                Some(_) => None,
                None => {
                    pending_init += 1;
                    None
                }
            },
            (None, None) => {
                pending_init += 1;
                None
            }
        };
        if let Some(code) = failed_exit {
            if !container_should_restart(c, plan.restart_policy, code) {
                failed_init_not_restartable += 1;
            }
        }
    }

    for (c, s) in plan.containers.iter().zip(regular) {
        let Some(s) = s else {
            unknown += 1;
            continue;
        };
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
            if container_should_restart(c, plan.restart_policy, t.exit_code) {
                stopped_restartable += 1;
            }
        } else if state.waiting.is_some() {
            match last_terminated_exit(s) {
                Some(code) => {
                    stopped += 1;
                    if code == 0 {
                        succeeded += 1;
                    }
                    if container_should_restart(c, plan.restart_policy, code) {
                        stopped_restartable += 1;
                    }
                }
                None => waiting += 1,
            }
        } else {
            unknown += 1;
        }
    }

    let any_regular_started = regular
        .iter()
        .flatten()
        .any(|s| s.state.as_ref().is_some_and(|st| st.waiting.is_none()) || s.restart_count > 0);

    if failed_init_not_restartable > 0 {
        return Phase::Failed;
    }
    if pending_init > 0 || (pending_sidecar > 0 && !any_regular_started) {
        return Phase::Pending;
    }
    if waiting > 0 {
        return Phase::Pending;
    }
    if running > 0 && unknown == 0 {
        return Phase::Running;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if pod_is_terminal {
            return if stopped == succeeded {
                Phase::Succeeded
            } else {
                Phase::Failed
            };
        }
        if stopped_restartable > 0 {
            return Phase::Running;
        }
        return if stopped == succeeded {
            Phase::Succeeded
        } else {
            Phase::Failed
        };
    }
    Phase::Pending
}
