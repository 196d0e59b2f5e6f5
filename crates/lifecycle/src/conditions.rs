//! Pod conditions as pure functions of the container statuses. Mirrors
//! `GeneratePodReadyToStartContainersCondition`, `GeneratePodInitializedCondition`,
//! `GenerateContainersReadyCondition` and `GeneratePodReadyCondition`
//! (pkg/kubelet/status/generate.go); see kubelet-semantics.md §7.3.

use k8s_openapi::api::core::v1::ContainerStatus;

use crate::phase::Phase;
use crate::plan::{ContainerKind, PodPlan};

/// A condition before its `lastTransitionTime` is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionValue {
    /// `type`.
    pub condition_type: &'static str,
    /// `True` / `False`.
    pub status: bool,
    /// `reason` when False.
    pub reason: Option<String>,
    /// `message` when False.
    pub message: Option<String>,
}

impl ConditionValue {
    fn ok(t: &'static str) -> Self {
        ConditionValue {
            condition_type: t,
            status: true,
            reason: None,
            message: None,
        }
    }
    fn not(t: &'static str, reason: &str, message: Option<String>) -> Self {
        ConditionValue {
            condition_type: t,
            status: false,
            reason: Some(reason.to_string()),
            message,
        }
    }
}

fn list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

fn message(unknown: &[String], bad: &[String], bad_label: &str) -> String {
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        parts.push(format!("containers with unknown status: {}", list(unknown)));
    }
    if !bad.is_empty() {
        parts.push(format!("containers with {bad_label} status: {}", list(bad)));
    }
    parts.join(", ")
}

/// `PodReadyToStartContainers`: the sandbox exists and its network is configured.
pub fn ready_to_start_containers(sandbox_ready: bool) -> ConditionValue {
    if sandbox_ready {
        ConditionValue::ok("PodReadyToStartContainers")
    } else {
        ConditionValue {
            condition_type: "PodReadyToStartContainers",
            status: false,
            reason: None,
            message: None,
        }
    }
}

/// `Initialized`.
pub fn initialized(
    plan: &PodPlan,
    init: &[Option<&ContainerStatus>],
    regular: &[Option<&ContainerStatus>],
    phase: Phase,
) -> ConditionValue {
    const T: &str = "Initialized";
    if plan.init_containers.is_empty() || phase == Phase::Succeeded {
        return ConditionValue::ok(T);
    }
    let any_regular_started = regular.iter().flatten().any(|s| {
        s.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
            || s.last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some())
    });
    if any_regular_started {
        return ConditionValue::ok(T);
    }
    let (mut unknown, mut incomplete) = (Vec::new(), Vec::new());
    for (c, s) in plan.init_containers.iter().zip(init) {
        match s {
            None => unknown.push(c.name.clone()),
            Some(s) => {
                let done = if c.kind == ContainerKind::Sidecar {
                    s.started == Some(true)
                } else {
                    s.ready
                };
                if !done {
                    incomplete.push(c.name.clone());
                }
            }
        }
    }
    if unknown.is_empty() && incomplete.is_empty() {
        return ConditionValue::ok(T);
    }
    ConditionValue::not(
        T,
        "ContainersNotInitialized",
        Some(message(&unknown, &incomplete, "incomplete")),
    )
}

/// `ContainersReady`: every regular container and every sidecar is ready.
pub fn containers_ready(
    plan: &PodPlan,
    init: &[Option<&ContainerStatus>],
    regular: &[Option<&ContainerStatus>],
    phase: Phase,
) -> ConditionValue {
    const T: &str = "ContainersReady";
    let (mut unknown, mut unready) = (Vec::new(), Vec::new());
    let sidecars = plan
        .init_containers
        .iter()
        .zip(init)
        .filter(|(c, _)| c.kind == ContainerKind::Sidecar);
    for (c, s) in sidecars.chain(plan.containers.iter().zip(regular)) {
        match s {
            None => unknown.push(c.name.clone()),
            Some(s) if !s.ready => unready.push(c.name.clone()),
            Some(_) => {}
        }
    }
    match phase {
        Phase::Succeeded => return ConditionValue::not(T, "PodCompleted", None),
        Phase::Failed => return ConditionValue::not(T, "PodFailed", None),
        _ => {}
    }
    if unknown.is_empty() && unready.is_empty() {
        return ConditionValue::ok(T);
    }
    ConditionValue::not(
        T,
        "ContainersNotReady",
        Some(message(&unknown, &unready, "unready")),
    )
}

/// `Ready`: ContainersReady, then the readiness gates (podvisor has no controller setting
/// them, so a gate's condition never exists).
pub fn ready(plan: &PodPlan, containers_ready: &ConditionValue) -> ConditionValue {
    if !containers_ready.status {
        return ConditionValue {
            condition_type: "Ready",
            ..containers_ready.clone()
        };
    }
    if let Some(gate) = plan.readiness_gates.first() {
        return ConditionValue::not(
            "Ready",
            "ReadinessGatesNotReady",
            Some(format!(
                "corresponding condition of pod readiness gate \"{gate}\" does not exist."
            )),
        );
    }
    ConditionValue::ok("Ready")
}

/// `PodScheduled`: always True from the kubelet (podvisor is the node).
pub fn scheduled() -> ConditionValue {
    ConditionValue::ok("PodScheduled")
}
