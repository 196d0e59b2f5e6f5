//! The API status of a pod as a pure function of the machine's recorded facts. Mirrors
//! `generateAPIPodStatus` / `convertToAPIContainerStatuses` (pkg/kubelet/kubelet_pods.go) and the
//! status manager's `TerminatePod`; see kubelet-semantics.md §7.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};

use crate::conditions::{self, ConditionValue};
use crate::machine::{
    ContainerRecord, Instance, InstanceState, PodMachine, PodStage, SandboxState,
};
use crate::phase::{compute_phase, Phase};
use crate::plan::{ContainerKind, ContainerPlan, ContainerRef, PodPlan};
use crate::restart::container_should_restart;
use crate::time::Timestamp;

/// `containerID` of an instance: `podvisor://<16 hex digits>` (stable FNV-1a of pod uid,
/// container name and restart count).
pub fn container_id(uid: &str, name: &str, restart_count: i32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uid
        .bytes()
        .chain([0])
        .chain(name.bytes())
        .chain([0])
        .chain(restart_count.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("podvisor://{h:016x}")
}

impl PodMachine {
    fn terminated_state(
        &self,
        c: &ContainerPlan,
        i: &Instance,
    ) -> Option<ContainerStateTerminated> {
        let InstanceState::Exited {
            finished_at,
            exit_code,
            signal,
            reason,
            message,
        } = &i.state
        else {
            return None;
        };
        Some(ContainerStateTerminated {
            exit_code: *exit_code,
            signal: *signal,
            reason: Some(reason.clone()),
            message: message.clone().filter(|m| !m.is_empty()),
            started_at: i.started_at.map(|t| self.wall.k8s_time(t)),
            finished_at: Some(self.wall.k8s_time(*finished_at)),
            container_id: Some(container_id(&self.plan.uid, &c.name, i.id.restart_count)),
        })
    }

    fn default_waiting(&self) -> ContainerState {
        let reason = if self.plan.init_containers.is_empty() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: None,
            }),
            ..Default::default()
        }
    }

    fn will_restart(&self, c: &ContainerPlan, exit_code: i32) -> bool {
        self.stage == PodStage::Running
            && container_should_restart(c, self.plan.restart_policy, exit_code)
    }

    fn container_status(&self, r: ContainerRef, rec: &ContainerRecord) -> ContainerStatus {
        let c = self.plan.container(r);
        let mut s = ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone(),
            image_id: String::new(),
            ..Default::default()
        };
        let last_terminated = |i: Option<&Instance>| {
            i.and_then(|i| self.terminated_state(c, i))
                .map(|t| ContainerState {
                    terminated: Some(t),
                    ..Default::default()
                })
        };
        let Some(latest) = rec.latest() else {
            s.state = Some(match &rec.start_error {
                Some((reason, message)) => ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.clone()),
                        message: Some(message.clone()),
                    }),
                    ..Default::default()
                },
                None => self.default_waiting(),
            });
            s.started = Some(false);
            return s;
        };
        // `restartCount` counts instances the runtime created (`convertToAPIContainerStatuses`
        // reads it from the runtime's containers): one only asked for is not counted yet, so a
        // failed creation never takes the count back.
        s.restart_count = match latest.state {
            InstanceState::Creating => rec.previous().map_or(0, |p| p.id.restart_count),
            _ => latest.id.restart_count,
        };
        match &latest.state {
            // The worker is blocked while a container is created and its postStart runs: the
            // status still shows what it showed before.
            InstanceState::Creating | InstanceState::Created => {
                s.state = Some(self.default_waiting());
                s.last_state = last_terminated(rec.previous());
                s.started = Some(false);
            }
            // The same while its postStart runs and, if that failed, while it is killed:
            // `startContainer` returns only after the kill (`killContainer` is synchronous).
            InstanceState::Running if latest.post_start_running || latest.post_start_kill => {
                s.state = Some(self.default_waiting());
                s.last_state = last_terminated(rec.previous());
                s.started = Some(false);
            }
            InstanceState::Running => {
                s.container_id = Some(container_id(
                    &self.plan.uid,
                    &c.name,
                    latest.id.restart_count,
                ));
                s.state = Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: latest.started_at.map(|t| self.wall.k8s_time(t)),
                    }),
                    ..Default::default()
                });
                s.last_state = last_terminated(rec.previous());
                s.started = Some(latest.started);
                s.ready = latest.ready;
            }
            InstanceState::Exited { exit_code, .. } => {
                s.container_id = Some(container_id(
                    &self.plan.uid,
                    &c.name,
                    latest.id.restart_count,
                ));
                let restarting = self.will_restart(c, *exit_code);
                match (&rec.start_error, restarting) {
                    (Some((reason, message)), true) => {
                        s.state = Some(ContainerState {
                            waiting: Some(ContainerStateWaiting {
                                reason: Some(reason.clone()),
                                message: Some(message.clone()),
                            }),
                            ..Default::default()
                        });
                        s.last_state = last_terminated(Some(latest));
                    }
                    _ => {
                        s.state = last_terminated(Some(latest));
                        s.last_state = last_terminated(rec.previous());
                    }
                }
                s.started = Some(false);
                // A completed regular init container counts as ready.
                s.ready = c.kind == ContainerKind::Init && *exit_code == 0;
            }
        }
        s
    }

    /// Statuses in spec order: (init containers, regular containers).
    fn statuses(&self) -> (Vec<ContainerStatus>, Vec<ContainerStatus>) {
        let init = (0..self.plan.init_containers.len())
            .map(ContainerRef::Init)
            .map(|r| self.container_status(r, &self.records[&r]))
            .collect();
        let regular = (0..self.plan.containers.len())
            .map(ContainerRef::Regular)
            .map(|r| self.container_status(r, &self.records[&r]))
            .collect();
        (init, regular)
    }

    /// The phase `getPhase` gives, unless one was already fixed: the terminal phase of a
    /// terminated pod, or the first terminal phase the status showed (never left again).
    pub(crate) fn computed_phase(&self, pod_is_terminal: bool) -> Phase {
        if let Some(p) = self.stage.terminal().or(self.terminal_shown) {
            return p;
        }
        let (init, regular) = self.statuses();
        let init: Vec<_> = init.iter().map(Some).collect();
        let regular: Vec<_> = regular.iter().map(Some).collect();
        compute_phase(&self.plan, &init, &regular, pod_is_terminal)
    }

    fn condition_values(&self) -> Vec<ConditionValue> {
        let (init, regular) = self.statuses();
        let init: Vec<_> = init.iter().map(Some).collect();
        let regular: Vec<_> = regular.iter().map(Some).collect();
        let phase = self
            .stage
            .terminal()
            .or(self.terminal_shown)
            .unwrap_or_else(|| compute_phase(&self.plan, &init, &regular, false));
        let sandbox_ready = matches!(self.sandbox, SandboxState::Ready { .. });
        let containers_ready = conditions::containers_ready(&self.plan, &init, &regular, phase);
        vec![
            conditions::ready_to_start_containers(sandbox_ready),
            conditions::initialized(&self.plan, &init, &regular, phase),
            conditions::ready(&self.plan, &containers_ready),
            containers_ready,
            conditions::scheduled(),
        ]
    }

    /// Records `lastTransitionTime` for conditions whose status flipped, after fixing the phase
    /// once it is terminal. Runs at the end of every `observe` and `decide`: what the status
    /// shows from then on is what the engine publishes.
    pub(crate) fn update_conditions(&mut self, now: Timestamp) {
        if self.terminal_shown.is_none() {
            let phase = self.computed_phase(false);
            if phase.is_terminal() {
                self.terminal_shown = Some(phase);
            }
        }
        for c in self.condition_values() {
            let entry = self
                .conditions
                .entry(c.condition_type)
                .or_insert((c.status, now));
            if entry.0 != c.status {
                *entry = (c.status, now);
            }
        }
    }

    /// The pod's API status.
    pub fn status(&self) -> PodStatus {
        let (mut init, mut regular) = self.statuses();
        if self.stage.terminal().is_some() {
            terminate_pod(&self.plan, &mut init, &mut regular);
        }
        let phase = {
            let i: Vec<_> = init.iter().map(Some).collect();
            let r: Vec<_> = regular.iter().map(Some).collect();
            self.stage
                .terminal()
                .or(self.terminal_shown)
                .unwrap_or_else(|| compute_phase(&self.plan, &i, &r, false))
        };
        let conditions = self
            .condition_values()
            .into_iter()
            .map(|c| PodCondition {
                type_: c.condition_type.to_string(),
                status: if c.status { "True" } else { "False" }.to_string(),
                reason: c.reason,
                message: c.message.filter(|m| !m.is_empty()),
                last_transition_time: self
                    .conditions
                    .get(c.condition_type)
                    .map(|(_, t)| self.wall.k8s_time(*t)),
                last_probe_time: None,
                observed_generation: None,
            })
            .collect();
        regular.sort_by(|a, b| a.name.cmp(&b.name));
        let pod_ip = self.pod_ip.clone();
        PodStatus {
            phase: Some(phase.as_str().to_string()),
            conditions: Some(conditions),
            host_ip: Some(self.host_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.host_ip.clone(),
            }]),
            pod_ip: pod_ip.clone(),
            pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
            start_time: Some(self.wall.k8s_time(self.created_at)),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(regular),
            qos_class: Some(qos_class(&self.plan.pod).to_string()),
            ..Default::default()
        }
    }

    /// The pod object as the API would return it: the plan's object with this status.
    pub fn pod(&self) -> Pod {
        let mut pod = self.plan.pod.clone();
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(self.node_name.clone());
        }
        pod.status = Some(self.status());
        pod
    }
}

/// The state `TerminatePod` gives a container whose status it cannot trust at the end of the
/// pod's life: terminated, exit 137, `ContainerStatusUnknown`.
fn lost_state() -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: 137,
            reason: Some("ContainerStatusUnknown".into()),
            message: Some("The container could not be located when the pod was terminated".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn is_terminated(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.terminated.is_some())
}

fn is_waiting(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.waiting.is_some())
}

fn last_terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.last_state.as_ref().and_then(|l| l.terminated.as_ref())
}

/// The status manager's `TerminatePod` (pkg/kubelet/status/status_manager.go), run on the final
/// status of every pod the worker terminated: only the `state` of a container is replaced (its
/// `ready`, `started`, `lastState`, `restartCount` stay), and only where it is not terminated:
/// * regular containers, only if the pod had initialized (`hasPodInitialized`);
/// * init containers up to the last one with any evidence of a start (not waiting, or a
///   `lastState.terminated`); when none has any, still the first one (`initializedContainers`).
///
/// The phase is not recomputed (the machine already made a Pending/Running one Failed).
/// `hasPodInitialized` reads the pod object the worker holds (the API's copy of the status); the
/// machine has no lagging copy and reads the status it renders.
pub(crate) fn terminate_pod(
    plan: &PodPlan,
    init: &mut [ContainerStatus],
    regular: &mut [ContainerStatus],
) {
    if has_pod_initialized(plan, init, regular) {
        for s in regular.iter_mut().filter(|s| !is_terminated(s)) {
            s.state = Some(lost_state());
        }
    }
    let n = initialized_containers(init);
    for s in init[..n].iter_mut().filter(|s| !is_terminated(s)) {
        s.state = Some(lost_state());
    }
}

/// `hasPodInitialized`: no init containers in the spec; or some regular container left waiting
/// (or has a `lastState.terminated`); or the last init container's status shows it done (a
/// sidecar running and started; a regular init container terminated with 0, now or last time).
fn has_pod_initialized(
    plan: &PodPlan,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
) -> bool {
    if plan.init_containers.is_empty() {
        return true;
    }
    if regular
        .iter()
        .any(|s| last_terminated(s).is_some() || !is_waiting(s))
    {
        return true;
    }
    let last = init.len().checked_sub(1);
    let (Some(s), Some(c)) = (init.last(), last.and_then(|i| plan.init_containers.get(i))) else {
        return false;
    };
    match c.kind {
        ContainerKind::Sidecar => {
            s.state.as_ref().is_some_and(|st| st.running.is_some()) && s.started == Some(true)
        }
        _ => {
            last_terminated(s).is_some_and(|t| t.exit_code == 0)
                || s.state
                    .as_ref()
                    .and_then(|st| st.terminated.as_ref())
                    .is_some_and(|t| t.exit_code == 0)
        }
    }
}

/// `initializedContainers`: how many init statuses, from the first, `TerminatePod` may override:
/// all but the trailing run of waiting ones without a `lastState.terminated`, and at least one.
fn initialized_containers(init: &[ContainerStatus]) -> usize {
    init.iter()
        .rposition(|s| !is_waiting(s) || last_terminated(s).is_some())
        .map_or(init.len().min(1), |i| i + 1)
}

/// `status.qosClass` (pkg/apis/core/v1/helper/qos): BestEffort without any request or limit,
/// Guaranteed when every container's cpu and memory limits equal its requests, else Burstable.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let all = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let res = c.resources.clone().unwrap_or_default();
        let limits = res.limits.unwrap_or_default();
        let requests = res.requests.unwrap_or_default();
        if !limits.is_empty() || !requests.is_empty() {
            any = true;
        }
        for r in ["cpu", "memory"] {
            match (limits.get(r), requests.get(r)) {
                (Some(l), Some(q)) if l == q => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::tests::{status, S};
    use crate::plan::test_plans::{container, pod};
    use crate::plan::RestartPolicy;

    /// What `TerminatePod` did to one status.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum R {
        /// Replaced by terminated / ContainerStatusUnknown / 137.
        Lost,
        /// Left as it was.
        Kept,
    }

    type Row = (
        &'static [(ContainerKind, S)],
        &'static [S],
        &'static [R],
        &'static [R],
    );

    #[test]
    fn terminate_pod_table() {
        use ContainerKind::{Init, Sidecar};
        use R::{Kept, Lost};
        use S::*;
        let rows: &[Row] = &[
            // No init containers: the pod counts as initialized.
            (&[], &[Waiting, Exited(0)], &[], &[Lost, Kept]),
            // Deleted while init-a ran (now terminated): the waiting tail stays waiting, and so
            // do the regular containers (not initialized).
            (
                &[(Init, Exited(143)), (Init, Waiting)],
                &[Waiting],
                &[Kept, Kept],
                &[Kept],
            ),
            // Nothing started at all: the first init container is still reported lost.
            (
                &[(Init, Waiting), (Init, Waiting)],
                &[Waiting],
                &[Lost, Kept],
                &[Kept],
            ),
            // Evidence of a start further down: everything before it is overridden.
            (
                &[(Init, Waiting), (Init, Exited(1)), (Init, Waiting)],
                &[Waiting],
                &[Lost, Kept, Kept],
                &[Kept],
            ),
            // The last init container completed: initialized, regular containers lost.
            (&[(Init, Exited(0))], &[Waiting], &[Kept], &[Lost]),
            // ... also when it completed last time and now waits to run again.
            (&[(Init, Restarting(0))], &[Waiting], &[Lost], &[Lost]),
            // A last init container that failed does not initialize the pod.
            (&[(Init, Restarting(1))], &[Waiting], &[Lost], &[Kept]),
            // A last sidecar running and started initializes; one not started does not.
            (&[(Sidecar, Running(true))], &[Waiting], &[Lost], &[Lost]),
            (&[(Sidecar, Running(false))], &[Waiting], &[Lost], &[Kept]),
            // A terminated last sidecar is no evidence, even though it ran.
            (&[(Sidecar, Exited(143))], &[Waiting], &[Kept], &[Kept]),
            // A regular container that ran before (lastState) initializes the pod.
            (
                &[(Init, Exited(0)), (Sidecar, Waiting)],
                &[Restarting(1), Waiting],
                &[Kept, Kept],
                &[Lost, Lost],
            ),
        ];
        for (n, (init, regular, want_init, want_regular)) in rows.iter().enumerate() {
            let plan = pod(
                init.iter()
                    .enumerate()
                    .map(|(j, (k, _))| container(&format!("i{j}"), *k))
                    .collect(),
                regular
                    .iter()
                    .enumerate()
                    .map(|(j, _)| container(&format!("r{j}"), ContainerKind::Regular))
                    .collect(),
                RestartPolicy::Always,
            );
            let mut init_st: Vec<ContainerStatus> =
                init.iter().filter_map(|(_, s)| status(*s)).collect();
            let mut reg_st: Vec<ContainerStatus> =
                regular.iter().filter_map(|s| status(*s)).collect();
            let before = (init_st.clone(), reg_st.clone());
            terminate_pod(&plan, &mut init_st, &mut reg_st);
            let outcome = |after: &[ContainerStatus], before: &[ContainerStatus]| -> Vec<R> {
                after
                    .iter()
                    .zip(before)
                    .map(|(a, b)| {
                        if a == b {
                            Kept
                        } else {
                            // Only the state changed, to the lost one.
                            let mut expected = b.clone();
                            expected.state = Some(lost_state());
                            assert_eq!(a, &expected, "row {n}");
                            Lost
                        }
                    })
                    .collect()
            };
            assert_eq!(
                outcome(&init_st, &before.0),
                want_init.to_vec(),
                "row {n}: init"
            );
            assert_eq!(
                outcome(&reg_st, &before.1),
                want_regular.to_vec(),
                "row {n}: regular"
            );
        }
    }
}
