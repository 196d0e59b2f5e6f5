//! podvisor's pure workload controller core: what kube-controller-manager's Deployment,
//! ReplicaSet and garbage-collector controllers would decide, without IO, async or clocks.
//!
//! Every controller is a function: the objects it would read from its informers (apps/v1
//! `Deployment` / `ReplicaSet`, core/v1 `Pod`, as k8s-openapi types) and `now` (a wall-clock
//! `jiff::Timestamp`, e.g. `WallClock::at(t)`) go in, a list of actions comes out — the writes,
//! events and requeues the controller would issue, in its order. The caller executes them and
//! calls again when something it watches changes (exactly as the informers would requeue).
//!
//! * [`deployment::sync_deployment`] — `syncDeployment` (rolling update, Recreate, proportional
//!   scaling, pause, rollback, history cleanup, the `Available`/`Progressing` conditions).
//! * [`replicaset::sync_replica_set`] — `syncReplicaSet` (slow-start creation, deletion ranking,
//!   status, adoption/release).
//! * [`gc::collect`] — the garbage collector's decisions (background, foreground, orphan).
//! * [`validation`] — `ValidateDeployment` and `SetDefaults_Deployment`.
//! * [`undo`] — `kubectl rollout undo` (client side, also pure).
//!
//! Reference: `../shared/spec/workloads-semantics.md` §1–§3 and §5; each module header names
//! the upstream function it mirrors. Event and condition wording and validation messages follow
//! the spec and have not all been checked against the current Kubernetes tree yet.
#![deny(missing_docs)]
// No `unwrap()` outside tests: the core must not panic on what it is fed.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod claim;
pub mod deployment;
pub mod event;
pub mod gc;
pub mod hash;
pub mod names;
pub mod pod;
pub mod replicaset;
pub mod undo;
pub mod validation;

/// Wall-clock time as the controllers see it (`metav1.Now()` handed in).
pub type Now = k8s_openapi::jiff::Timestamp;

/// `now` as the API serialises it: truncated to whole seconds (`metav1.Time` is RFC 3339
/// with second precision), so statuses written and read back compare equal.
pub(crate) fn k8s_now(now: Now) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let secs = k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(secs)
}
