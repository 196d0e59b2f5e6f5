//! The ReplicaSet controller as a pure function: `syncReplicaSet`, `manageReplicas`,
//! `slowStartBatch`, `getPodsToDelete` (pkg/controller/replicaset/replica_set.go),
//! `calculateStatus` (replica_set_utils.go) and `GetPodFromTemplate` (controller_utils.go).
//! Spec §3.
//!
//! # Caveats
//! * Expectations are the caller's: after creating or deleting pods, sync again only once
//!   the effects are visible (upstream waits up to 5 minutes for them). Status is always
//!   computed.
//! * Pod events (`SuccessfulCreate` `"Created pod: <name>"`, `SuccessfulDelete`, `FailedCreate`,
//!   `FailedDelete`) follow the results of the writes: build them with [`created_pod_event`]
//!   and friends. A failing creation batch stops the later batches, and its error belongs in a
//!   `ReplicaFailure` condition via [`replica_failure_status`].

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podvisor_lifecycle::labels::Selector;

use crate::claim::{self, claim_object, Claim};
use crate::event::Event;
use crate::names::{generate_name, pods_prefix, RandomSource};
use crate::pod::{
    available_at, controller_of, is_pod_active, is_pod_available, is_pod_ready, is_pod_terminating,
    sort_for_deletion, RankedPod,
};
use crate::Now;

/// At most this many pods are created or deleted per sync (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
/// The first slow-start batch (`SlowStartInitialBatchSize`).
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// One thing the ReplicaSet controller does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Patch a controller reference to this ReplicaSet onto an orphan pod.
    AdoptPod {
        /// The pod.
        name: String,
    },
    /// Remove this ReplicaSet's reference from a pod that no longer matches.
    ReleasePod {
        /// The pod.
        name: String,
    },
    /// Create one slow-start batch of pods in parallel (each with `generateName`, a generated
    /// name, the template's labels/annotations/finalizers/spec and a controller reference).
    /// If any creation fails, the later batches are skipped.
    CreatePods {
        /// The pods of this batch.
        pods: Vec<Pod>,
    },
    /// Delete these pods in parallel, each with its own grace period.
    DeletePods {
        /// The victims, in ranking order.
        names: Vec<String>,
    },
    /// Write `/status` (only emitted when it changed).
    UpdateStatus {
        /// The new status.
        status: ReplicaSetStatus,
    },
    /// Sync again after this long (a Ready pod becomes available).
    RequeueAfter(Duration),
}

/// Why a sync could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The selector cannot be converted.
    #[error("error converting pod selector to selector for rs {name}: {reason}")]
    InvalidSelector {
        /// The ReplicaSet.
        name: String,
        /// The selector error.
        reason: String,
    },
}

/// `slowStartBatch(count, 1, …)`'s batch sizes: 1, 2, 4, … until `count` is reached.
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut remaining = count;
    let mut size = SLOW_START_INITIAL_BATCH_SIZE.min(remaining);
    while size > 0 {
        out.push(size);
        remaining -= size;
        size = (2 * size).min(remaining);
    }
    out
}

/// `GetPodFromTemplate` + `generateName`: the pod to create for `rs`.
pub fn pod_from_template(
    rs: &ReplicaSet,
    template: &PodTemplateSpec,
    rng: &mut dyn RandomSource,
) -> Pod {
    let rs_name = rs.metadata.name.clone().unwrap_or_default();
    let prefix = pods_prefix(&rs_name);
    let tm = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: Some(generate_name(&prefix, rng)),
            generate_name: Some(prefix),
            namespace: rs.metadata.namespace.clone(),
            labels: tm.labels.filter(|l| !l.is_empty()),
            annotations: tm.annotations.filter(|a| !a.is_empty()),
            finalizers: tm.finalizers.filter(|f| !f.is_empty()),
            owner_references: Some(vec![claim::controller_ref(
                "apps/v1",
                "ReplicaSet",
                &rs.metadata,
            )]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// `Created pod: <name>` (Normal `SuccessfulCreate`).
pub fn created_pod_event(pod: &str) -> Event {
    Event::normal("SuccessfulCreate", format!("Created pod: {pod}"))
}

/// `Error creating: <err>` (Warning `FailedCreate`).
pub fn failed_create_event(err: &str) -> Event {
    Event::warning("FailedCreate", format!("Error creating: {err}"))
}

/// `Deleted pod: <name>` (Normal `SuccessfulDelete`).
pub fn deleted_pod_event(pod: &str) -> Event {
    Event::normal("SuccessfulDelete", format!("Deleted pod: {pod}"))
}

/// `Error deleting: <err>` (Warning `FailedDelete`).
pub fn failed_delete_event(err: &str) -> Event {
    Event::warning("FailedDelete", format!("Error deleting: {err}"))
}

/// The status after a failed `manageReplicas` (`calculateStatus` with an error): a
/// `ReplicaFailure` True condition `FailedCreate` / `FailedDelete` with the error, unless one is
/// already there.
pub fn replica_failure_status(
    rs: &ReplicaSet,
    creating: bool,
    err: &str,
    now: Now,
) -> ReplicaSetStatus {
    let mut status = rs.status.clone().unwrap_or_default();
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if !conds.iter().any(|c| c.type_ == "ReplicaFailure") {
        conds.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(
                if creating {
                    "FailedCreate"
                } else {
                    "FailedDelete"
                }
                .into(),
            ),
            message: Some(err.to_string()),
            last_transition_time: Some(crate::k8s_now(now)),
        });
    }
    status
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// `syncReplicaSet(key)`: the ReplicaSet, every pod of its namespace, the pods of every
/// ReplicaSet sharing its controller (for the co-location rank; may be empty), `now` and a
/// random source for pod names.
pub fn sync_replica_set(
    rs: &ReplicaSet,
    pods: &[Pod],
    related_pods: &[Pod],
    now: Now,
    rng: &mut dyn RandomSource,
) -> Result<Vec<Action>, SyncError> {
    let rs_name = rs.metadata.name.clone().unwrap_or_default();
    let label_selector = rs
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let selector =
        Selector::from_label_selector(&label_selector).map_err(|e| SyncError::InvalidSelector {
            name: rs_name.clone(),
            reason: e.to_string(),
        })?;
    let mut actions = Vec::new();
    let in_ns: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.namespace == rs.metadata.namespace)
        .collect();

    // claimPods over the active pods.
    let mut active: Vec<Pod> = Vec::new();
    for p in in_ns.iter().filter(|p| is_pod_active(p)) {
        let matches = selector.matches(p.metadata.labels.as_ref());
        match claim_object(&rs.metadata, &p.metadata, matches) {
            Claim::Owned => active.push((*p).clone()),
            Claim::Adopt => {
                let mut p = (*p).clone();
                claim::adopt(
                    &mut p.metadata,
                    claim::controller_ref("apps/v1", "ReplicaSet", &rs.metadata),
                );
                actions.push(Action::AdoptPod {
                    name: p.metadata.name.clone().unwrap_or_default(),
                });
                active.push(p);
            }
            Claim::Release => actions.push(Action::ReleasePod {
                name: p.metadata.name.clone().unwrap_or_default(),
            }),
            Claim::Ignore => {}
        }
    }
    // FilterClaimedPods over the terminating ones (DeploymentReplicaSetTerminatingReplicas).
    let terminating = in_ns
        .iter()
        .filter(|p| is_pod_terminating(p))
        .filter(|p| {
            controller_of(&p.metadata).is_some_and(|r| Some(&r.uid) == rs.metadata.uid.as_ref())
        })
        .filter(|p| selector.matches(p.metadata.labels.as_ref()))
        .count();

    if rs.metadata.deletion_timestamp.is_none() {
        manage_replicas(rs, &active, related_pods, now, rng, &mut actions);
    }

    // calculateStatus
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mrs = min_ready_seconds(rs);
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let l = p.metadata.labels.clone().unwrap_or_default();
            template_labels.iter().all(|(k, v)| l.get(k) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| is_pod_ready(p)).count();
    let available = active
        .iter()
        .filter(|p| is_pod_available(p, mrs, now))
        .count();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let old = rs.status.clone().unwrap_or_default();
    let status = ReplicaSetStatus {
        replicas: count(active.len()),
        fully_labeled_replicas: Some(count(fully_labeled)).filter(|n| *n != 0),
        ready_replicas: Some(count(ready)).filter(|n| *n != 0),
        available_replicas: Some(count(available)).filter(|n| *n != 0),
        terminating_replicas: Some(count(terminating)),
        observed_generation: rs.metadata.generation,
        conditions: old.conditions.clone().filter(|c| !c.is_empty()),
    };
    let norm = |s: &ReplicaSetStatus| ReplicaSetStatus {
        fully_labeled_replicas: s.fully_labeled_replicas.filter(|n| *n != 0),
        ready_replicas: s.ready_replicas.filter(|n| *n != 0),
        available_replicas: s.available_replicas.filter(|n| *n != 0),
        conditions: s.conditions.clone().filter(|c| !c.is_empty()),
        observed_generation: s.observed_generation.filter(|g| *g != 0),
        ..s.clone()
    };
    if norm(&old) != norm(&status) {
        actions.push(Action::UpdateStatus { status });
    }

    // Requeue when a Ready pod will become available: the pod-update handler's
    // AddAfter(minReadySeconds + 1 s) and the sync's last-line resync together.
    if mrs > 0 && ready != available {
        let earliest = active
            .iter()
            .filter(|p| !is_pod_available(p, mrs, now))
            .filter_map(|p| available_at(p, mrs).flatten())
            .min();
        let wait = match earliest {
            Some(t) => {
                let ns = (t.as_nanosecond() - now.as_nanosecond()).max(0);
                Duration::from_nanos(u64::try_from(ns).unwrap_or(0)) + Duration::from_secs(1)
            }
            None => Duration::from_secs(u64::try_from(mrs).unwrap_or(0)),
        };
        actions.push(Action::RequeueAfter(wait));
    }
    Ok(actions)
}

/// `manageReplicas`: create or delete the difference.
fn manage_replicas(
    rs: &ReplicaSet,
    active: &[Pod],
    related: &[Pod],
    now: Now,
    rng: &mut dyn RandomSource,
    actions: &mut Vec<Action>,
) {
    let want = usize::try_from(spec_replicas(rs)).unwrap_or(0);
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    if active.len() < want {
        let diff = (want - active.len()).min(BURST_REPLICAS);
        for size in slow_start_batches(diff) {
            let pods = (0..size)
                .map(|_| pod_from_template(rs, &template, rng))
                .collect();
            actions.push(Action::CreatePods { pods });
        }
    } else if active.len() > want {
        let diff = (active.len() - want).min(BURST_REPLICAS);
        let victims = pods_to_delete(active, related, diff, now);
        actions.push(Action::DeletePods { names: victims });
    }
}

/// `getPodsToDelete`: the `diff` first pods by `ActivePodsWithRanks` (ranked by related active
/// pods on the same node).
pub fn pods_to_delete(active: &[Pod], related: &[Pod], diff: usize, now: Now) -> Vec<String> {
    let related: Vec<&Pod> = if related.is_empty() {
        active.iter().collect()
    } else {
        related.iter().collect()
    };
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for p in related.iter().filter(|p| is_pod_active(p)) {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        *per_node.entry(node).or_default() += 1;
    }
    let mut ranked: Vec<RankedPod<'_>> = active
        .iter()
        .map(|pod| {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            RankedPod {
                pod,
                rank: per_node.get(&node).copied().unwrap_or(0),
            }
        })
        .collect();
    if diff < active.len() {
        sort_for_deletion(&mut ranked, Some(now));
    }
    ranked
        .iter()
        .take(diff)
        .map(|r| r.pod.metadata.name.clone().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_doubles() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), vec![1]);
        assert_eq!(slow_start_batches(3), vec![1, 2]);
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(500).iter().sum::<usize>(), 500);
    }
}
