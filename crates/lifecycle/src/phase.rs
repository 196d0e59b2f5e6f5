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

#[cfg(test)]
pub(crate) mod tests {
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    };

    use super::*;
    use crate::plan::test_plans::{container, pod};
    use crate::plan::{ContainerKind, RestartPolicy};

    /// A container status in one of the shapes `getPhase` distinguishes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum S {
        /// No status at all.
        Missing,
        /// Waiting, never ran.
        Waiting,
        /// Running; `started` as given.
        Running(bool),
        /// Terminated with this exit code.
        Exited(i32),
        /// Waiting to restart after exiting with this code (CrashLoopBackOff).
        Restarting(i32),
    }

    pub(crate) fn status(s: S) -> Option<ContainerStatus> {
        let terminated = |code| ContainerStateTerminated {
            exit_code: code,
            ..Default::default()
        };
        let waiting = || ContainerState {
            waiting: Some(ContainerStateWaiting::default()),
            ..Default::default()
        };
        let mut st = ContainerStatus {
            name: "c".into(),
            ..Default::default()
        };
        match s {
            S::Missing => return None,
            S::Waiting => st.state = Some(waiting()),
            S::Running(started) => {
                st.state = Some(ContainerState {
                    running: Some(ContainerStateRunning::default()),
                    ..Default::default()
                });
                st.started = Some(started);
                st.ready = started;
            }
            S::Exited(code) => {
                st.state = Some(ContainerState {
                    terminated: Some(terminated(code)),
                    ..Default::default()
                });
                st.ready = code == 0;
            }
            S::Restarting(code) => {
                st.state = Some(waiting());
                st.last_state = Some(ContainerState {
                    terminated: Some(terminated(code)),
                    ..Default::default()
                });
                st.restart_count = 1;
            }
        }
        Some(st)
    }

    use ContainerKind::{Init, Regular, Sidecar};
    use RestartPolicy::{Always, Never, OnFailure};
    use S::*;

    /// One row: pod policy, init containers (kind, status), regular containers (container-level
    /// policy, status), whether the pod is terminal, expected phase.
    type Row = (
        RestartPolicy,
        &'static [(ContainerKind, S)],
        &'static [(Option<RestartPolicy>, S)],
        bool,
        Phase,
    );

    #[test]
    fn get_phase_table() {
        let rows: &[Row] = &[
            // Regular containers only.
            (Always, &[], &[(None, Running(true))], false, Phase::Running),
            (Always, &[], &[(None, Waiting)], false, Phase::Pending),
            (Always, &[], &[(None, Missing)], false, Phase::Pending),
            (Never, &[], &[(None, Exited(0))], false, Phase::Succeeded),
            (Never, &[], &[(None, Exited(1))], false, Phase::Failed),
            (OnFailure, &[], &[(None, Exited(1))], false, Phase::Running),
            (
                OnFailure,
                &[],
                &[(None, Exited(0))],
                false,
                Phase::Succeeded,
            ),
            (Always, &[], &[(None, Exited(0))], false, Phase::Running),
            (Always, &[], &[(None, Restarting(1))], false, Phase::Running),
            (
                Never,
                &[],
                &[(None, Restarting(0))],
                false,
                Phase::Succeeded,
            ),
            (
                Never,
                &[],
                &[(None, Running(true)), (None, Exited(0))],
                false,
                Phase::Running,
            ),
            (
                Never,
                &[],
                &[(None, Exited(0)), (None, Exited(1))],
                false,
                Phase::Failed,
            ),
            (
                Never,
                &[],
                &[(None, Exited(0)), (None, Exited(0))],
                false,
                Phase::Succeeded,
            ),
            (
                Never,
                &[],
                &[(None, Running(true)), (None, Missing)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[],
                &[(None, Running(true)), (None, Waiting)],
                false,
                Phase::Pending,
            ),
            // Terminal rendering ignores restartability.
            (Always, &[], &[(None, Exited(1))], true, Phase::Failed),
            (
                Always,
                &[],
                &[(None, Exited(0)), (None, Exited(0))],
                true,
                Phase::Succeeded,
            ),
            (Always, &[], &[(None, Restarting(137))], true, Phase::Failed),
            // A container-level policy wins over the pod's.
            (
                Always,
                &[],
                &[(Some(Never), Exited(1))],
                false,
                Phase::Failed,
            ),
            (
                Never,
                &[],
                &[(Some(Always), Exited(0))],
                false,
                Phase::Running,
            ),
            (
                Never,
                &[],
                &[(Some(OnFailure), Exited(2))],
                false,
                Phase::Running,
            ),
            // Init containers.
            (
                Always,
                &[(Init, Missing)],
                &[(None, Missing)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Init, Running(false))],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Init, Waiting)],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Init, Exited(0))],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Init, Exited(0))],
                &[(None, Running(true))],
                false,
                Phase::Running,
            ),
            (
                Never,
                &[(Init, Exited(1))],
                &[(None, Waiting)],
                false,
                Phase::Failed,
            ),
            (
                Never,
                &[(Init, Restarting(1))],
                &[(None, Waiting)],
                false,
                Phase::Failed,
            ),
            (
                Always,
                &[(Init, Exited(1))],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                OnFailure,
                &[(Init, Restarting(1))],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Never,
                &[(Init, Restarting(0))],
                &[(None, Running(true))],
                false,
                Phase::Running,
            ),
            (
                Never,
                &[(Init, Exited(0)), (Init, Missing)],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            // Sidecars.
            (
                Always,
                &[(Sidecar, Running(true))],
                &[(None, Running(true))],
                false,
                Phase::Running,
            ),
            (
                Always,
                &[(Sidecar, Running(false))],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Sidecar, Waiting)],
                &[(None, Waiting)],
                false,
                Phase::Pending,
            ),
            (
                Always,
                &[(Sidecar, Missing)],
                &[(None, Running(true))],
                false,
                Phase::Pending,
            ),
            // A sidecar not yet started does not hold the pod back once a regular one ran.
            (
                Always,
                &[(Sidecar, Running(false))],
                &[(None, Running(true))],
                false,
                Phase::Running,
            ),
            // Sidecar exit codes do not count.
            (
                Never,
                &[(Sidecar, Exited(1))],
                &[(None, Exited(0))],
                false,
                Phase::Succeeded,
            ),
            (
                Never,
                &[(Sidecar, Running(true))],
                &[(None, Exited(1))],
                false,
                Phase::Running,
            ),
            // A running sidecar counts as running, even when rendering the terminal status
            // (by then the kill has stopped it).
            (
                Never,
                &[(Init, Exited(0)), (Sidecar, Running(true))],
                &[(None, Exited(0))],
                true,
                Phase::Running,
            ),
            (
                Never,
                &[(Init, Exited(0)), (Sidecar, Exited(143))],
                &[(None, Exited(0))],
                true,
                Phase::Succeeded,
            ),
        ];
        for (i, (policy, init, regular, terminal, want)) in rows.iter().enumerate() {
            let plan = pod(
                init.iter()
                    .enumerate()
                    .map(|(j, (k, _))| container(&format!("i{j}"), *k))
                    .collect(),
                regular
                    .iter()
                    .enumerate()
                    .map(|(j, (p, _))| {
                        let mut c = container(&format!("r{j}"), Regular);
                        c.restart_policy = *p;
                        c
                    })
                    .collect(),
                *policy,
            );
            let init_st: Vec<Option<ContainerStatus>> =
                init.iter().map(|(_, s)| status(*s)).collect();
            let reg_st: Vec<Option<ContainerStatus>> =
                regular.iter().map(|(_, s)| status(*s)).collect();
            let init_ref: Vec<Option<&ContainerStatus>> =
                init_st.iter().map(Option::as_ref).collect();
            let reg_ref: Vec<Option<&ContainerStatus>> =
                reg_st.iter().map(Option::as_ref).collect();
            let got = compute_phase(&plan, &init_ref, &reg_ref, *terminal);
            assert_eq!(
                got, *want,
                "row {i}: {policy:?} init {init:?} regular {regular:?} terminal {terminal}"
            );
        }
    }

    #[test]
    fn terminal_phases_are_succeeded_and_failed() {
        assert!(Phase::Succeeded.is_terminal() && Phase::Failed.is_terminal());
        assert!(!Phase::Pending.is_terminal() && !Phase::Running.is_terminal());
        assert_eq!(
            [
                Phase::Pending,
                Phase::Running,
                Phase::Succeeded,
                Phase::Failed
            ]
            .map(Phase::as_str),
            ["Pending", "Running", "Succeeded", "Failed"]
        );
    }
}
