//! Deployment arithmetic and bookkeeping: pkg/controller/deployment/util/deployment_util.go
//! (`ResolveFenceposts`, `MaxSurge`, `MaxUnavailable`, `NewRSNewReplicas`,
//! `GetReplicaSetProportion`, the revision and replicas annotations, `EqualIgnoreHash`,
//! `SetDeploymentCondition`, `DeploymentComplete` / `DeploymentProgressing` /
//! `DeploymentTimedOut`) and the ReplicaSet sort orders of pkg/controller/controller_utils.go.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::hash::POD_TEMPLATE_HASH_LABEL;
use crate::Now;

/// `deployment.kubernetes.io/revision`.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// `deployment.kubernetes.io/revision-history`.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// `deployment.kubernetes.io/desired-replicas`.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// `deployment.kubernetes.io/max-replicas`.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// `deprecated.deployment.rollback.to`: the round-tripped `spec.rollbackTo.revision`.
pub const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// `kubectl.kubernetes.io/last-applied-configuration`.
pub const LAST_APPLIED_CONFIG_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Longest `revision-history` value kept (`maxRevHistoryLengthInChars`).
pub const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;
/// `math.MaxInt32`: "no deadline" / "keep all history".
pub const MAX_INT32: i32 = i32::MAX;

/// Condition reasons (`util.*Reason`).
pub mod reason {
    /// `Available` True.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// `Available` False.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
    /// `Progressing` True after the new RS was created.
    pub const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
    /// `Progressing` True when an existing new RS was adopted.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// `Progressing` True while the rollout moves.
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    /// `Progressing` True once complete.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// `Progressing` False past the deadline.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// `Progressing` Unknown while paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// `Progressing` Unknown after a resume.
    pub const RESUMED: &str = "DeploymentResumed";
    /// `Progressing` False when the new RS could not be created.
    pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
    /// Rollback done (event).
    pub const ROLLBACK_DONE: &str = "DeploymentRollback";
    /// Rollback target has the current template (event).
    pub const ROLLBACK_TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";
    /// Rollback target missing (event).
    pub const ROLLBACK_REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
}

/// Why an int-or-percent could not be resolved (`intstr.GetScaledValueFromIntOrPercent`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntOrPercentError {
    /// A string without a trailing `%`.
    #[error("invalid type: string is not a percentage")]
    NotPercent,
    /// A percentage that is not an integer.
    #[error("invalid value for IntOrString: invalid value {0:?}")]
    Invalid(String),
}

/// `intstr.GetScaledValueFromIntOrPercent(v, total, roundUp)`.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, IntOrPercentError> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let Some(num) = s.strip_suffix('%') else {
                return Err(IntOrPercentError::NotPercent);
            };
            let p: i64 = num
                .parse()
                .map_err(|_| IntOrPercentError::Invalid(s.clone()))?;
            let x = p as f64 * f64::from(total) / 100.0;
            let r = if round_up { x.ceil() } else { x.floor() };
            Ok(r as i32)
        }
    }
}

/// `ResolveFenceposts(maxSurge, maxUnavailable, desired)`: surge rounded up, unavailable
/// rounded down, and unavailable raised to 1 when both resolve to 0.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), IntOrPercentError> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true)?;
    let mut unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// `*d.Spec.Replicas` (defaulted to 1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `*rs.Spec.Replicas` (defaulted to 1).
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub(crate) fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}

pub(crate) fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub(crate) fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// `spec.strategy.type` (defaulted to `RollingUpdate`).
pub fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

/// `IsRollingUpdate`.
pub fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    // Errors are caught by validation; upstream ignores them here too.
    resolve_fenceposts(
        ru.and_then(|r| r.max_surge.as_ref()),
        ru.and_then(|r| r.max_unavailable.as_ref()),
        replicas(d),
    )
    .unwrap_or((0, 1))
}

/// `MaxSurge(d)`: 0 unless RollingUpdate.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// `MaxUnavailable(d)`: 0 unless RollingUpdate or when replicas is 0, capped at replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let r = replicas(d);
    if !is_rolling_update(d) || r == 0 {
        return 0;
    }
    fenceposts(d).1.min(r)
}

/// `HasProgressDeadline`: set and not MaxInt32.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    progress_deadline_seconds(d).is_some_and(|s| s != MAX_INT32)
}

pub(crate) fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds)
}

/// `HasRevisionHistoryLimit`: set and not MaxInt32.
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|l| *l != MAX_INT32)
}

pub(crate) fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

pub(crate) fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

pub(crate) fn template(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

pub(crate) fn rs_template(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default()
}

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// `Revision(rs)`: the revision annotation; absent = 0, unparsable = `None`.
pub fn revision(rs: &ReplicaSet) -> Option<i64> {
    match annotation(&rs.metadata, REVISION_ANNOTATION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// `MaxRevision(allRSs)`.
pub fn max_revision(rss: &[&ReplicaSet]) -> i64 {
    rss.iter()
        .filter_map(|rs| revision(rs))
        .max()
        .unwrap_or(0)
        .max(0)
}

/// `LastRevision(allRSs)`: the second-highest revision (0 when there is none).
pub fn last_revision(rss: &[&ReplicaSet]) -> i64 {
    let (mut max, mut sec) = (0i64, 0i64);
    for v in rss.iter().filter_map(|rs| revision(rs)) {
        if v >= max {
            sec = max;
            max = v;
        } else if v > sec {
            sec = v;
        }
    }
    sec
}

/// `GetDesiredReplicasAnnotation`.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, DESIRED_REPLICAS_ANNOTATION)?
        .parse()
        .ok()
}

fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata, MAX_REPLICAS_ANNOTATION)?
        .parse()
        .ok()
}

/// `SetReplicasAnnotations`: desired/max replicas; whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in [
        (DESIRED_REPLICAS_ANNOTATION, desired.to_string()),
        (MAX_REPLICAS_ANNOTATION, max.to_string()),
    ] {
        if a.get(k) != Some(&v) {
            a.insert(k.to_string(), v);
            changed = true;
        }
    }
    changed
}

/// `ReplicasAnnotationsNeedUpdate`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata, MAX_REPLICAS_ANNOTATION) != Some(max.to_string().as_str())
}

/// `skipCopyAnnotation`: annotations never copied between a Deployment and its ReplicaSets.
pub fn skip_copy_annotation(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED_CONFIG_ANNOTATION
            | REVISION_ANNOTATION
            | REVISION_HISTORY_ANNOTATION
            | DESIRED_REPLICAS_ANNOTATION
            | MAX_REPLICAS_ANNOTATION
            | DEPRECATED_ROLLBACK_TO
    )
}

/// `copyDeploymentAnnotationsToReplicaSet`: adds/overwrites, never deletes.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy_annotation(k) || a.get(k) == Some(v) {
            continue;
        }
        a.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// `SetNewReplicaSetAnnotations(d, rs, newRevision, exists, 2000)`: copies the Deployment's
/// annotations, raises the revision (appending the former one to `revision-history`), and on
/// creation sets desired/max replicas. Returns whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = a.get(REVISION_ANNOTATION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_int < new_revision {
        a.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
        changed = true;
    }
    if let (Some(old), true) = (old, old_int < new_revision) {
        let history = a
            .get(REVISION_HISTORY_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        let revisions: Vec<&str> = history.split(',').collect();
        if revisions.first().is_none_or(|r| r.is_empty()) {
            a.insert(REVISION_HISTORY_ANNOTATION.to_string(), old);
        } else {
            let mut total = history.len() + old.len() + 1;
            let mut start = 0;
            while total > MAX_REV_HISTORY_LENGTH_IN_CHARS && start < revisions.len() {
                total = total - revisions[start].len() - 1;
                start += 1;
            }
            if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS {
                let mut kept: Vec<&str> = revisions[start..].to_vec();
                kept.push(&old);
                a.insert(REVISION_HISTORY_ANNOTATION.to_string(), kept.join(","));
            }
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// `SetDeploymentRevision`: whether the Deployment's revision annotation changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let a = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if a.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    a.insert(REVISION_ANNOTATION.to_string(), revision.to_string());
    true
}

/// A template as compared by `EqualIgnoreHash`: the hash label removed, and empty maps and
/// lists treated as absent (`apiequality.Semantic.DeepEqual` equates nil and empty).
fn normalised_template(t: &PodTemplateSpec) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut v = serde_json::to_value(&t).unwrap_or_default();
    prune_empty(&mut v);
    v
}

fn prune_empty(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for x in m.values_mut() {
                prune_empty(x);
            }
            m.retain(|k, x| match x {
                serde_json::Value::Null => false,
                serde_json::Value::Array(a) => !a.is_empty(),
                // Only map-typed fields: an empty struct (`emptyDir: {}`) is meaningful.
                serde_json::Value::Object(o) => {
                    !(o.is_empty()
                        && matches!(
                            k.as_str(),
                            "labels"
                                | "annotations"
                                | "nodeSelector"
                                | "limits"
                                | "requests"
                                | "metadata"
                        ))
                }
                _ => true,
            });
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

/// `EqualIgnoreHash(t1, t2)`: template equality ignoring `pod-template-hash`.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalised_template(a) == normalised_template(b)
}

fn creation_key(rs: &ReplicaSet) -> (Option<Now>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

/// `ReplicaSetsByCreationTimestamp`: older first, then by name.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    creation_key(a).cmp(&creation_key(b))
}

/// `ReplicaSetsBySizeNewer`: larger first, equal sizes newer first.
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// `ReplicaSetsBySizeOlder`: larger first, equal sizes older first.
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// `ReplicaSetsByRevision`: lower revision first, then by creation.
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(a)
        .unwrap_or(0)
        .cmp(&revision(b).unwrap_or(0))
        .then_with(|| by_creation(a, b))
}

/// `NewRSNewReplicas`: the size the new RS may have now.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs_replicas: i32) -> i32 {
    match strategy_type(d) {
        "Recreate" => replicas(d),
        _ => {
            let r = replicas(d);
            let surge = d
                .spec
                .as_ref()
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|ru| ru.max_surge.as_ref())
                .and_then(|s| scaled_value(s, r, true).ok())
                .unwrap_or(0);
            let current: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
            let max_total = r + surge;
            if current >= max_total {
                return new_rs_replicas;
            }
            let up = (max_total - current).min(r - new_rs_replicas);
            new_rs_replicas + up
        }
    }
}

/// `GetReplicaSetProportion`: how many replicas `rs` gains (or loses) in a proportional scale.
pub fn replica_set_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`.
fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let r = replicas(d);
    if r == 0 {
        return -rs_replicas(rs);
    }
    let max_now = r + max_surge(d);
    let before = match max_replicas_annotation(rs) {
        Some(m) if m != 0 => m,
        _ => d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0),
    };
    if before == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(max_now) / f64::from(before);
    // integer.RoundToInt32: math.Round, half away from zero.
    size.round() as i32 - rs_replicas(rs)
}

/// `IsSaturated(d, rs)`: spec = desired annotation = available = replicas.
pub fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let r = replicas(d);
    desired_replicas_annotation(rs) == Some(r) && rs_replicas(rs) == r && rs_available(rs) == r
}

/// `GetDeploymentCondition`.
pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// `NewDeploymentCondition(type, status, reason, message)` at `now`.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Now,
) -> DeploymentCondition {
    let t = crate::k8s_now(now);
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(t.clone()),
        last_transition_time: Some(t),
    }
}

/// `SetDeploymentCondition`: same status and reason → unchanged; same status → keeps the
/// transition time; the condition is re-appended at the end.
pub fn set_condition(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(status, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(status, &c.type_);
    status.conditions.get_or_insert_with(Vec::new).push(c);
}

/// `RemoveDeploymentCondition`.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
    }
}

fn n(x: Option<i32>) -> i32 {
    x.unwrap_or(0)
}

/// `DeploymentComplete(d, status)`.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = replicas(d);
    n(s.updated_replicas) == r
        && n(s.replicas) == r
        && n(s.available_replicas) == r
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing(d, newStatus)`: updated ↑, old ↓, ready ↑ or available ↑.
pub fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// `DeploymentTimedOut(d, newStatus)`: Progressing's lastUpdateTime + deadline is before now.
pub fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: Now) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = condition(new, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some(reason::NEW_RS_AVAILABLE) => return false,
        Some(reason::TIMED_OUT) => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref() else {
        return false;
    };
    let secs = i64::from(progress_deadline_seconds(d).unwrap_or(0));
    from.0
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(secs))
        .is_ok_and(|deadline| deadline < now)
}

/// Status equality as `reflect.DeepEqual` sees two statuses read back from the API: zero
/// `omitempty` counters equal absent ones, an empty condition list equals none.
pub fn status_equal(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    normalise_status(a) == normalise_status(b)
}

fn nz(x: Option<i32>) -> Option<i32> {
    x.filter(|v| *v != 0)
}

/// A status with `omitempty` zeros removed.
pub fn normalise_status(s: &DeploymentStatus) -> DeploymentStatus {
    DeploymentStatus {
        available_replicas: nz(s.available_replicas),
        collision_count: s.collision_count,
        conditions: s.conditions.clone().filter(|c| !c.is_empty()),
        observed_generation: s.observed_generation.filter(|g| *g != 0),
        ready_replicas: nz(s.ready_replicas),
        replicas: nz(s.replicas),
        terminating_replicas: s.terminating_replicas,
        unavailable_replicas: nz(s.unavailable_replicas),
        updated_replicas: nz(s.updated_replicas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn fenceposts_round_as_upstream() {
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 3),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("0%")), Some(&pct("10%")), 5),
            Ok((0, 1))
        );
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 5),
            Ok((0, 1))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("50%")), Some(&pct("50%")), 5),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("x")), None, 5),
            Err(IntOrPercentError::NotPercent)
        );
        assert!(resolve_fenceposts(Some(&pct("a%")), None, 5).is_err());
    }

    #[test]
    fn last_revision_is_second_highest() {
        let rs = |r: &str| {
            let mut rs = ReplicaSet::default();
            rs.metadata.annotations =
                Some([(REVISION_ANNOTATION.to_string(), r.to_string())].into());
            rs
        };
        let (a, b, c) = (rs("1"), rs("3"), rs("2"));
        assert_eq!(last_revision(&[&a, &b, &c]), 2);
        assert_eq!(max_revision(&[&a, &b, &c]), 3);
        assert_eq!(last_revision(&[&a]), 0);
    }
}
