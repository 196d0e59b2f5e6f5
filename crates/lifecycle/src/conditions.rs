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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phase::tests::{status, S};
    use crate::plan::test_plans::{container, pod};
    use crate::plan::{ContainerKind, RestartPolicy};
    use ContainerKind::{Init, Regular, Sidecar};
    use S::*;

    /// Plan and statuses for init containers `(kind, status)` and regular container statuses.
    fn case(
        init: &[(ContainerKind, S)],
        regular: &[S],
    ) -> (
        PodPlan,
        Vec<Option<ContainerStatus>>,
        Vec<Option<ContainerStatus>>,
    ) {
        let plan = pod(
            init.iter()
                .enumerate()
                .map(|(j, (k, _))| container(&format!("i{j}"), *k))
                .collect(),
            (0..regular.len())
                .map(|j| container(&format!("r{j}"), Regular))
                .collect(),
            RestartPolicy::Always,
        );
        let name = |mut s: Option<ContainerStatus>, n: String| {
            if let Some(s) = s.as_mut() {
                s.name = n;
            }
            s
        };
        let i = init
            .iter()
            .enumerate()
            .map(|(j, (_, s))| name(status(*s), format!("i{j}")))
            .collect();
        let r = regular
            .iter()
            .enumerate()
            .map(|(j, s)| name(status(*s), format!("r{j}")))
            .collect();
        (plan, i, r)
    }

    /// Init containers (kind, status), regular container statuses, phase, expected condition.
    type Row = (
        &'static [(ContainerKind, S)],
        &'static [S],
        Phase,
        &'static str,
    );

    fn refs(v: &[Option<ContainerStatus>]) -> Vec<Option<&ContainerStatus>> {
        v.iter().map(Option::as_ref).collect()
    }

    fn show(c: &ConditionValue) -> String {
        match (c.status, &c.reason, &c.message) {
            (true, _, _) => "True".into(),
            (false, None, _) => "False".into(),
            (false, Some(r), None) => format!("False {r}"),
            (false, Some(r), Some(m)) => format!("False {r}: {m}"),
        }
    }

    #[test]
    fn pod_ready_to_start_containers_follows_the_sandbox() {
        assert_eq!(show(&ready_to_start_containers(true)), "True");
        assert_eq!(show(&ready_to_start_containers(false)), "False");
        assert_eq!(
            ready_to_start_containers(false).condition_type,
            "PodReadyToStartContainers"
        );
    }

    #[test]
    fn initialized_table() {
        let rows: &[Row] = &[
            (&[], &[Waiting], Phase::Pending, "True"),
            (&[(Init, Exited(0))], &[Waiting], Phase::Pending, "True"),
            (
                &[(Init, Running(false))],
                &[Waiting],
                Phase::Pending,
                "False ContainersNotInitialized: containers with incomplete status: [i0]",
            ),
            (
                &[(Init, Exited(1))],
                &[Waiting],
                Phase::Pending,
                "False ContainersNotInitialized: containers with incomplete status: [i0]",
            ),
            (
                &[(Init, Exited(0)), (Init, Missing), (Init, Waiting)],
                &[Waiting],
                Phase::Pending,
                "False ContainersNotInitialized: containers with unknown status: [i1], containers with incomplete status: [i2]",
            ),
            (&[(Sidecar, Running(true))], &[Waiting], Phase::Pending, "True"),
            (
                &[(Sidecar, Running(false))],
                &[Waiting],
                Phase::Pending,
                "False ContainersNotInitialized: containers with incomplete status: [i0]",
            ),
            // A regular container that started means initialized, whatever the init statuses.
            (&[(Init, Missing)], &[Running(true)], Phase::Running, "True"),
            (&[(Init, Waiting)], &[Restarting(1)], Phase::Running, "True"),
            // Succeeded is initialized.
            (&[(Init, Missing)], &[Waiting], Phase::Succeeded, "True"),
        ];
        for (n, (init, regular, phase, want)) in rows.iter().enumerate() {
            let (plan, i, r) = case(init, regular);
            let got = initialized(&plan, &refs(&i), &refs(&r), *phase);
            assert_eq!(got.condition_type, "Initialized");
            assert_eq!(show(&got), *want, "row {n}");
        }
    }

    #[test]
    fn containers_ready_and_ready_table() {
        let rows: &[Row] = &[
            (&[], &[Running(true)], Phase::Running, "True"),
            (
                &[],
                &[Running(true), Running(false)],
                Phase::Running,
                "False ContainersNotReady: containers with unready status: [r1]",
            ),
            (
                &[],
                &[Missing, Waiting],
                Phase::Pending,
                "False ContainersNotReady: containers with unknown status: [r0], containers with unready status: [r1]",
            ),
            // Sidecars count, regular init containers do not.
            (
                &[(Init, Exited(0)), (Sidecar, Running(false))],
                &[Running(true)],
                Phase::Running,
                "False ContainersNotReady: containers with unready status: [i1]",
            ),
            (
                &[(Init, Exited(0)), (Sidecar, Running(true))],
                &[Running(true)],
                Phase::Running,
                "True",
            ),
            // Terminal phases.
            (&[], &[Exited(0)], Phase::Succeeded, "False PodCompleted"),
            (&[], &[Exited(1)], Phase::Failed, "False PodFailed"),
            (&[], &[Running(true)], Phase::Failed, "False PodFailed"),
        ];
        for (n, (init, regular, phase, want)) in rows.iter().enumerate() {
            let (plan, i, r) = case(init, regular);
            let cr = containers_ready(&plan, &refs(&i), &refs(&r), *phase);
            assert_eq!(cr.condition_type, "ContainersReady");
            assert_eq!(show(&cr), *want, "row {n}");
            // Ready is ContainersReady when that is not True.
            let rd = ready(&plan, &cr);
            assert_eq!(rd.condition_type, "Ready");
            assert_eq!(show(&rd), *want, "row {n} (Ready)");
        }
    }

    #[test]
    fn ready_checks_readiness_gates_after_containers_ready() {
        let (mut plan, i, r) = case(&[], &[Running(true)]);
        plan.readiness_gates = vec!["example.com/lb".into(), "other".into()];
        let cr = containers_ready(&plan, &refs(&i), &refs(&r), Phase::Running);
        assert_eq!(show(&cr), "True");
        assert_eq!(
            show(&ready(&plan, &cr)),
            "False ReadinessGatesNotReady: corresponding condition of pod readiness gate \"example.com/lb\" does not exist."
        );
    }

    #[test]
    fn pod_scheduled_is_always_true() {
        let c = scheduled();
        assert_eq!(
            (c.condition_type, show(&c).as_str()),
            ("PodScheduled", "True")
        );
    }
}
