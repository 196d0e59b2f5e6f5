//! Pod predicates and the deletion ranking the ReplicaSet controller uses: `podutil.IsPodReady`
//! / `IsPodAvailable` (pkg/api/v1/pod/util.go), `controller.IsPodActive` / `IsPodTerminating`
//! and `ActivePodsWithRanks.Less` (pkg/controller/controller_utils.go), with the
//! `LogarithmicScaleDown` and `PodDeletionCost` gates on as in v1.36 (spec §3.3).

use std::cmp::Ordering;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

use crate::Now;

/// The annotation that lowers or raises a pod's deletion priority (`PodDeletionCost`).
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// `metav1.GetControllerOf`: the ownerReference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the pod is `Succeeded` or `Failed` (`podutil.IsPodTerminal`).
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// `controller.IsPodActive`: not terminal and no deletionTimestamp.
pub fn is_pod_active(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// `controller.IsPodTerminating`: not terminal but with a deletionTimestamp.
pub fn is_pod_terminating(pod: &Pod) -> bool {
    !is_pod_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

/// The pod's `Ready` condition, if reported.
pub fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
}

/// `podutil.IsPodReady`: the `Ready` condition is `True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// `podutil.IsPodAvailable`: Ready, and either `minReadySeconds` is 0 or the Ready transition
/// plus `minReadySeconds` is strictly before `now`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Now) -> bool {
    available_at(pod, min_ready_seconds).is_some_and(|at| match at {
        None => true,
        Some(t) => t < now,
    })
}

/// When a Ready pod becomes available: `Some(None)` = already (minReadySeconds 0), `Some(Some(t))`
/// = strictly after `t`, `None` = not Ready (or Ready without a transition time and a delay).
pub(crate) fn available_at(pod: &Pod, min_ready_seconds: i32) -> Option<Option<Now>> {
    let c = ready_condition(pod).filter(|c| c.status == "True")?;
    if min_ready_seconds <= 0 {
        return Some(None);
    }
    let t = c.last_transition_time.as_ref()?;
    let delay = Duration::from_secs(u64::try_from(min_ready_seconds).unwrap_or(0));
    Some(Some(t.0.checked_add(delay).unwrap_or(t.0)))
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST_ANNOTATION))
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0)
}

fn phase_ordinal(pod: &Pod) -> u8 {
    // podPhaseToOrdinal: Pending 0, Unknown 1, Running 2; anything else is missing from the
    // map and reads as 0.
    match phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// (regular, restartable-init) maximum restart counts (`maxContainerRestarts`).
fn max_container_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else {
        return (0, 0);
    };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// `logarithmicRankDiff`: ⌊log₂(now − t)⌋ in nanoseconds (−1 for a future or equal time).
fn log_rank(now: Now, t: Now) -> i64 {
    let d = now.as_nanosecond() - t.as_nanosecond();
    if d <= 0 {
        -1
    } else {
        (d as f64).log2() as i64
    }
}

/// `afterOrZero(t1, t2)`: a zero time first, else the later one first.
fn after_or_zero(t1: Option<&Time>, t2: Option<&Time>) -> bool {
    match (t1, t2) {
        (None, _) | (_, None) => t1.is_none(),
        (Some(a), Some(b)) => a.0 > b.0,
    }
}

/// Compares two times for deletion: newer first, on a log₂ scale of their age when `now` is
/// known, ties broken by UID (`LogarithmicScaleDown`).
fn compare_times(a: &Pod, b: &Pod, ta: Option<&Time>, tb: Option<&Time>, now: Option<Now>) -> bool {
    match (now, ta, tb) {
        (Some(now), Some(x), Some(y)) => {
            let diff = log_rank(now, x.0) - log_rank(now, y.0);
            if diff == 0 {
                a.metadata.uid < b.metadata.uid
            } else {
                diff < 0
            }
        }
        _ => after_or_zero(ta, tb),
    }
}

/// One pod with its rank (`ActivePodsWithRanks`): the number of related active pods on the
/// same node (`getPodsRankedByRelatedPodsOnSameNode`).
#[derive(Debug, Clone, Copy)]
pub struct RankedPod<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// Related active pods on its node, itself included.
    pub rank: usize,
}

/// `ActivePodsWithRanks.Less(i, j)`: whether `a` should be deleted before `b`. The order:
/// unscheduled; Pending < Unknown < Running; not Ready; lower deletion cost; higher rank;
/// Ready more recently (log₂ buckets, UID tie-break); more restarts (regular, then sidecars);
/// newer (log₂ buckets, UID tie-break).
pub fn deletion_less(a: RankedPod<'_>, b: RankedPod<'_>, now: Option<Now>) -> bool {
    let (pa, pb) = (a.pod, b.pod);
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default()
    };
    let (na, nb) = (node(pa), node(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    if phase_ordinal(pa) != phase_ordinal(pb) {
        return phase_ordinal(pa) < phase_ordinal(pb);
    }
    if is_pod_ready(pa) != is_pod_ready(pb) {
        return !is_pod_ready(pa);
    }
    if deletion_cost(pa) != deletion_cost(pb) {
        return deletion_cost(pa) < deletion_cost(pb);
    }
    if a.rank != b.rank {
        return a.rank > b.rank;
    }
    if is_pod_ready(pa) && is_pod_ready(pb) {
        let ra = ready_condition(pa).and_then(|c| c.last_transition_time.as_ref());
        let rb = ready_condition(pb).and_then(|c| c.last_transition_time.as_ref());
        if ra.map(|t| t.0) != rb.map(|t| t.0) {
            return compare_times(pa, pb, ra, rb, now);
        }
    }
    let (ra, sa) = max_container_restarts(pa);
    let (rb, sb) = max_container_restarts(pb);
    if ra != rb {
        return ra > rb;
    }
    if sa != sb {
        return sa > sb;
    }
    let ca = pa.metadata.creation_timestamp.as_ref();
    let cb = pb.metadata.creation_timestamp.as_ref();
    if ca.map(|t| t.0) != cb.map(|t| t.0) {
        return compare_times(pa, pb, ca, cb, now);
    }
    false
}

/// Sorts pods so that the first ones are deleted first (`sort.Sort(ActivePodsWithRanks)`,
/// stable here so equal pods keep their input order).
pub fn sort_for_deletion(pods: &mut [RankedPod<'_>], now: Option<Now>) {
    pods.sort_by(|a, b| {
        if deletion_less(*a, *b, now) {
            Ordering::Less
        } else if deletion_less(*b, *a, now) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}
