//! Restart decisions. Mirrors `ContainerShouldRestart` (pkg/api/v1/pod/util.go) as used by
//! `ShouldContainerBeRestarted` (pkg/kubelet/container/helpers.go); see kubelet-semantics.md §6.1.

use crate::plan::{ContainerKind, ContainerPlan, RestartPolicy};

/// Whether a container that exited with `exit_code` is restarted: a native sidecar always is;
/// a container-level policy wins over the pod's; `OnFailure` restarts non-zero exits only.
pub fn container_should_restart(
    container: &ContainerPlan,
    pod_policy: RestartPolicy,
    exit_code: i32,
) -> bool {
    if container.kind == ContainerKind::Sidecar {
        return true;
    }
    let policy = container.restart_policy.unwrap_or(match container.kind {
        // Always and OnFailure are equivalent for regular init containers.
        ContainerKind::Init if pod_policy == RestartPolicy::Always => RestartPolicy::OnFailure,
        _ => pod_policy,
    });
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Never => false,
    }
}
