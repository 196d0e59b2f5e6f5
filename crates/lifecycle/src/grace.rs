//! Termination budget arithmetic. Mirrors the pod worker's `calculateEffectiveGracePeriod`
//! (pod_workers.go) and `setTerminationGracePeriod` / `killContainer` (kuberuntime_container.go);
//! see kubelet-semantics.md §3.1, §3.2, §3.7.

/// `minimumGracePeriodInSeconds`: the floor of the stop timeout handed to the runtime.
pub const MINIMUM_STOP_TIMEOUT_SECONDS: i64 = 2;

/// Why a single container is being killed; selects which grace period applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// The pod is being deleted or completed (`killPod`).
    PodTermination,
    /// Liveness probe failure.
    LivenessProbe,
    /// Startup probe failure.
    StartupProbe,
    /// postStart hook failure.
    FailedPostStartHook,
}

/// The pod worker's effective grace for a deletion: the requested value (or the spec's when no
/// value was requested), never larger than an earlier one, at least 1 s (so a force delete with
/// 0 becomes 1).
pub fn effective_deletion_grace(previous: Option<i64>, requested: Option<i64>, spec: i64) -> i64 {
    let wanted = requested.unwrap_or(spec);
    let g = match previous {
        Some(p) => p.min(wanted),
        None => wanted,
    };
    g.max(1)
}

/// `metadata.deletionGracePeriodSeconds` after a delete request, as the API server sets it
/// (`podStrategy.CheckGracefulDelete`, then `BeforeDelete`): the requested value, or the spec's
/// when none was requested; a negative value becomes 1; 0 (force) stays 0; once set it can only
/// be lowered.
pub fn api_deletion_grace(previous: Option<i64>, requested: Option<i64>, spec: i64) -> i64 {
    let mut wanted = requested.unwrap_or(spec);
    if wanted < 0 {
        wanted = 1;
    }
    match previous {
        Some(p) => p.min(wanted),
        None => wanted,
    }
}

/// The grace of one container kill when no override is passed (`setTerminationGracePeriod`):
/// the pod's deletion grace wins; else a probe-level value for probe kills; else the spec.
pub fn container_grace(
    deletion_grace: Option<i64>,
    spec_grace: i64,
    reason: KillReason,
    probe_grace: Option<i64>,
) -> i64 {
    if let Some(d) = deletion_grace {
        return d;
    }
    match (reason, probe_grace) {
        (KillReason::LivenessProbe | KillReason::StartupProbe, Some(p)) => p,
        _ => spec_grace,
    }
}

/// Grace left after a preStop hook (or sidecar wait) that took `elapsed_whole_seconds`
/// (truncated to whole seconds, as the kubelet does).
pub fn remaining_grace(grace: i64, elapsed_whole_seconds: i64) -> i64 {
    grace - elapsed_whole_seconds
}

/// The stop timeout handed to the runtime: the remaining grace, floored at 2 s.
pub fn stop_timeout(remaining: i64) -> i64 {
    remaining.max(MINIMUM_STOP_TIMEOUT_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_delete_with_zero_becomes_one_second() {
        assert_eq!(effective_deletion_grace(None, Some(0), 30), 1);
    }

    #[test]
    fn deletion_without_a_value_uses_the_spec() {
        assert_eq!(effective_deletion_grace(None, None, 45), 45);
    }

    #[test]
    fn deletion_grace_can_only_decrease() {
        assert_eq!(effective_deletion_grace(Some(10), Some(60), 30), 10);
        assert_eq!(effective_deletion_grace(Some(10), Some(3), 30), 3);
    }

    #[test]
    fn a_zero_spec_grace_is_clamped_to_one_at_the_pod_worker() {
        assert_eq!(effective_deletion_grace(None, None, 0), 1);
    }

    #[test]
    fn the_api_shows_zero_for_a_force_delete_and_only_ever_lowers_the_grace() {
        assert_eq!(api_deletion_grace(None, Some(0), 30), 0);
        assert_eq!(api_deletion_grace(None, None, 45), 45);
        assert_eq!(api_deletion_grace(None, Some(-3), 30), 1);
        assert_eq!(api_deletion_grace(Some(30), Some(5), 30), 5);
        assert_eq!(api_deletion_grace(Some(5), Some(30), 30), 5);
        assert_eq!(api_deletion_grace(Some(5), None, 30), 5);
        assert_eq!(api_deletion_grace(Some(30), Some(0), 30), 0);
        assert_eq!(api_deletion_grace(Some(0), Some(10), 30), 0);
    }

    #[test]
    fn deletion_grace_wins_over_probe_level_grace() {
        assert_eq!(
            container_grace(Some(5), 30, KillReason::LivenessProbe, Some(100)),
            5
        );
    }

    #[test]
    fn probe_level_grace_applies_to_probe_kills_only() {
        assert_eq!(
            container_grace(None, 30, KillReason::LivenessProbe, Some(100)),
            100
        );
        assert_eq!(
            container_grace(None, 30, KillReason::StartupProbe, Some(7)),
            7
        );
        assert_eq!(
            container_grace(None, 30, KillReason::FailedPostStartHook, Some(7)),
            30
        );
        assert_eq!(
            container_grace(None, 30, KillReason::LivenessProbe, None),
            30
        );
    }

    #[test]
    fn prestop_consumes_the_budget_and_sigterm_gets_at_least_two_seconds() {
        // G = 30, preStop took 12.9 s: SIGTERM gets 18 s.
        assert_eq!(stop_timeout(remaining_grace(30, 12)), 18);
        // preStop used the whole budget: still 2 s between SIGTERM and SIGKILL.
        assert_eq!(stop_timeout(remaining_grace(30, 30)), 2);
        assert_eq!(stop_timeout(remaining_grace(1, 1)), 2);
    }
}
