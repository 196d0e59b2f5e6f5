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
use crate::plan::{ContainerKind, ContainerPlan, ContainerRef};
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
            InstanceState::Running if latest.post_start_running => {
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
        if let PodStage::Terminated {
            deletion: Some(_), ..
        } = self.stage
        {
            // TerminatePod: whatever never reached a terminated state is reported lost.
            for s in init.iter_mut().chain(regular.iter_mut()) {
                if s.state.as_ref().is_none_or(|st| st.terminated.is_none()) {
                    s.state = Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: 137,
                            reason: Some("ContainerStatusUnknown".into()),
                            message: Some(
                                "The container could not be located when the pod was terminated"
                                    .into(),
                            ),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                    s.ready = false;
                    s.started = Some(false);
                }
            }
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
