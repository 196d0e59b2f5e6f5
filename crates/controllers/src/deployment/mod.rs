//! The Deployment controller as a pure function: `syncDeployment` and everything it calls in
//! pkg/controller/deployment (deployment_controller.go, sync.go, rolling.go, recreate.go,
//! progress.go, rollback.go). Spec §2.
//!
//! [`sync_deployment`] takes the Deployment (apps/v1, defaulted), every ReplicaSet and pod of
//! its namespace and `now`, and returns the writes the controller would make, in its order.
//! Within one sync the controller sees its own writes the way upstream does: the status it
//! computes uses the ReplicaSets as they were listed (plus a ReplicaSet it just created),
//! while later steps of the same sync see the sizes it already set.
//!
//! # Caveats
//! * Failed writes are the caller's: when a ReplicaSet creation fails, report it with
//!   [`replica_set_create_failed`]; any other failure is retried by syncing again (upstream
//!   requeues with rate limiting).
//! * A ReplicaSet name already taken by an object that is not this Deployment's new
//!   ReplicaSet is detected here (the `AlreadyExists` branch of `getNewReplicaSet`): the
//!   collision count is raised and [`SyncError::HashCollision`] returned.

pub mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use podvisor_lifecycle::labels::Selector;

use crate::claim::{self, claim_object, Claim};
use crate::event::Event;
use crate::hash::{compute_hash, POD_TEMPLATE_HASH_LABEL};
use crate::names::replica_set_name;
use crate::pod::{controller_of, is_pod_terminal};
use crate::Now;
use util::*;

/// One thing the Deployment controller does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Patch a controller reference to this Deployment onto an orphan ReplicaSet.
    AdoptReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// Remove this Deployment's reference from a ReplicaSet that no longer matches.
    ReleaseReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// Create the new ReplicaSet (name, labels, selector, template with the hash, owner
    /// reference, annotations and `spec.replicas` all set).
    CreateReplicaSet {
        /// The object to create.
        replica_set: Box<ReplicaSet>,
    },
    /// Update a ReplicaSet's `spec.replicas` together with its annotations
    /// (`desired-replicas`, `max-replicas`): `scaleReplicaSet`.
    ScaleReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// The new `spec.replicas`.
        replicas: i32,
        /// Its complete new annotations.
        annotations: BTreeMap<String, String>,
    },
    /// Update the new ReplicaSet's annotations (revision, revision-history, copied Deployment
    /// annotations) and `spec.minReadySeconds`.
    UpdateReplicaSet {
        /// The ReplicaSet.
        name: String,
        /// Its complete new annotations.
        annotations: BTreeMap<String, String>,
        /// Its new `spec.minReadySeconds`.
        min_ready_seconds: i32,
    },
    /// Delete an old ReplicaSet (history cleanup; the garbage collector deletes its pods).
    DeleteReplicaSet {
        /// The ReplicaSet.
        name: String,
    },
    /// A full update of the Deployment (rollback: template and annotations replaced, the
    /// `deprecated.deployment.rollback.to` annotation removed).
    UpdateDeployment {
        /// The new object.
        deployment: Box<Deployment>,
    },
    /// A write to `/status`. The status strategy keeps `metadata.annotations` from the
    /// request, which is how the controller sets the Deployment's revision annotation.
    UpdateDeploymentStatus {
        /// `metadata.annotations` to write with the status.
        annotations: BTreeMap<String, String>,
        /// The new status.
        status: DeploymentStatus,
    },
    /// An event on the Deployment (source `deployment-controller`).
    RecordEvent(Event),
    /// Sync again after this long (progress deadline check).
    RequeueAfter(Duration),
    /// Sync again soon, with the caller's back-off (`enqueueRateLimited`).
    RequeueRateLimited,
}

/// Why a sync stopped early (upstream returns an error and requeues with rate limiting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The new ReplicaSet's name is taken by another object: `collisionCount` was raised.
    #[error("replicasets.apps \"{name}\" already exists")]
    HashCollision {
        /// The name that was taken.
        name: String,
    },
    /// The selector cannot be converted (`LabelSelectorAsSelector`).
    #[error("{0}")]
    InvalidSelector(String),
    /// `spec.strategy.type` is neither `Recreate` nor `RollingUpdate`.
    #[error("unexpected deployment strategy type: {0}")]
    UnsupportedStrategy(String),
}

/// What one `syncDeployment` decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncResult {
    /// The writes, events and requeues, in order.
    pub actions: Vec<Action>,
    /// Set when the sync stopped early; the caller requeues with back-off.
    pub error: Option<SyncError>,
}

/// `syncDeployment(key)`: the Deployment, every ReplicaSet and pod of its namespace, `now`.
pub fn sync_deployment(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: Now,
) -> SyncResult {
    let mut s = Sync {
        d: deployment.clone(),
        rss: Vec::new(),
        namespace_rss: replica_sets.to_vec(),
        pod_map: BTreeMap::new(),
        now,
        actions: Vec::new(),
    };
    let error = s.run(pods).err();
    SyncResult {
        actions: s.actions,
        error,
    }
}

/// The actions after a failed `CreateReplicaSet`: Progressing False `ReplicaSetCreateError`
/// (with a deadline) and a Warning event, worded as upstream.
pub fn replica_set_create_failed(
    d: &Deployment,
    rs_name: &str,
    err: &str,
    now: Now,
) -> Vec<Action> {
    let msg = format!("Failed to create new replica set \"{rs_name}\": {err}");
    let mut out = Vec::new();
    if has_progress_deadline(d) {
        let mut status = d.status.clone().unwrap_or_default();
        set_condition(
            &mut status,
            new_condition(
                "Progressing",
                "False",
                reason::FAILED_RS_CREATE,
                msg.clone(),
                now,
            ),
        );
        out.push(Action::UpdateDeploymentStatus {
            annotations: d.metadata.annotations.clone().unwrap_or_default(),
            status,
        });
    }
    out.push(Action::RecordEvent(Event::warning(
        reason::FAILED_RS_CREATE,
        msg,
    )));
    out
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn selector_is_empty(s: &LabelSelector) -> bool {
    s.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter()
        .filter(|rs| rs_replicas(rs) > 0)
        .cloned()
        .collect()
}

struct Sync {
    /// The Deployment as the controller holds it (its status/annotations mutated in place,
    /// as upstream's `d` is).
    d: Deployment,
    /// The claimed ReplicaSets, as the lister would show them after our own writes.
    rss: Vec<ReplicaSet>,
    /// Every ReplicaSet of the namespace (for the name-collision check).
    namespace_rss: Vec<ReplicaSet>,
    /// Pods matching the selector, by controlling ReplicaSet UID.
    pod_map: BTreeMap<String, Vec<Pod>>,
    now: Now,
    actions: Vec<Action>,
}

impl Sync {
    fn push(&mut self, a: Action) {
        self.actions.push(a);
    }

    fn event(&mut self, e: Event) {
        self.push(Action::RecordEvent(e));
    }

    fn write_status(&mut self) {
        let a = Action::UpdateDeploymentStatus {
            annotations: self.d.metadata.annotations.clone().unwrap_or_default(),
            status: self.d.status.clone().unwrap_or_default(),
        };
        self.push(a);
    }

    fn status_mut(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    fn run(&mut self, pods: &[Pod]) -> Result<(), SyncError> {
        let sel = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        if selector_is_empty(&sel) {
            self.event(Event::warning(
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            ));
            let generation = self.d.metadata.generation.unwrap_or(0);
            if self
                .d
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0)
                < generation
            {
                self.status_mut().observed_generation = Some(generation);
                self.write_status();
            }
            return Ok(());
        }
        let selector = Selector::from_label_selector(&sel)
            .map_err(|e| SyncError::InvalidSelector(e.to_string()))?;
        self.claim(&selector);
        let uids: BTreeSet<String> = self
            .rss
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .collect();
        for p in pods {
            if p.metadata.namespace != self.d.metadata.namespace
                || !selector.matches(p.metadata.labels.as_ref())
            {
                continue;
            }
            if let Some(r) = controller_of(&p.metadata).filter(|r| uids.contains(&r.uid)) {
                self.pod_map
                    .entry(r.uid.clone())
                    .or_default()
                    .push(p.clone());
            }
        }

        if self.d.metadata.deletion_timestamp.is_some() {
            let (new, old) = self.get_all_and_sync_revision(false)?;
            return self.sync_deployment_status(&old, new.as_ref());
        }
        self.check_paused_conditions();
        if paused(&self.d) {
            return self.sync();
        }
        if rollback_to(&self.d).is_some() {
            return self.rollback();
        }
        if self.is_scaling_event()? {
            return self.sync();
        }
        match strategy_type(&self.d).to_string().as_str() {
            "Recreate" => self.rollout_recreate(),
            "RollingUpdate" => self.rollout_rolling(),
            other => Err(SyncError::UnsupportedStrategy(other.to_string())),
        }
    }

    /// `getReplicaSetsForDeployment`: `ClaimReplicaSets` over the namespace's ReplicaSets.
    fn claim(&mut self, selector: &Selector) {
        let all = self.namespace_rss.clone();
        for rs in all {
            if rs.metadata.namespace != self.d.metadata.namespace {
                continue;
            }
            let matches = selector.matches(rs.metadata.labels.as_ref());
            match claim_object(&self.d.metadata, &rs.metadata, matches) {
                Claim::Owned => self.rss.push(rs),
                Claim::Adopt => {
                    let mut rs = rs;
                    claim::adopt(
                        &mut rs.metadata,
                        claim::controller_ref("apps/v1", "Deployment", &self.d.metadata),
                    );
                    self.push(Action::AdoptReplicaSet {
                        name: name(&rs.metadata),
                    });
                    self.rss.push(rs);
                }
                Claim::Release => self.push(Action::ReleaseReplicaSet {
                    name: name(&rs.metadata),
                }),
                Claim::Ignore => {}
            }
        }
    }

    fn replace_rs(&mut self, rs: &ReplicaSet) {
        let n = name(&rs.metadata);
        match self.rss.iter_mut().find(|x| name(&x.metadata) == n) {
            Some(x) => *x = rs.clone(),
            None => self.rss.push(rs.clone()),
        }
    }

    /// `getAllReplicaSetsAndSyncRevision` / `getNewReplicaSet`.
    fn get_all_and_sync_revision(
        &mut self,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), SyncError> {
        let tmpl = template(&self.d);
        let mut sorted = self.rss.clone();
        sorted.sort_by(by_creation);
        let existing = sorted
            .iter()
            .find(|rs| equal_ignore_hash(&rs_template(rs), &tmpl))
            .cloned();
        let old: Vec<ReplicaSet> = sorted
            .into_iter()
            .filter(|rs| {
                existing
                    .as_ref()
                    .is_none_or(|n| name(&n.metadata) != name(&rs.metadata))
            })
            .collect();
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let new_revision = max_revision(&old_refs) + 1;

        if let Some(existing) = existing {
            let mut copy = existing.clone();
            let annotations_updated =
                set_new_replica_set_annotations(&self.d, &mut copy, new_revision, true);
            let mrs = min_ready_seconds(&self.d);
            let mrs_update = copy
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
                != mrs;
            if annotations_updated || mrs_update {
                copy.spec
                    .get_or_insert_with(Default::default)
                    .min_ready_seconds = Some(mrs);
                self.push(Action::UpdateReplicaSet {
                    name: name(&copy.metadata),
                    annotations: copy.metadata.annotations.clone().unwrap_or_default(),
                    min_ready_seconds: mrs,
                });
                self.replace_rs(&copy);
                return Ok((Some(copy), old));
            }
            let rev = copy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned()
                .unwrap_or_default();
            let mut needs_update = set_deployment_revision(&mut self.d, &rev);
            let has_cond = self
                .d
                .status
                .as_ref()
                .and_then(|s| condition(s, "Progressing"))
                .is_some();
            if has_progress_deadline(&self.d) && !has_cond {
                let msg = format!("Found new replica set \"{}\"", name(&copy.metadata));
                let c = new_condition("Progressing", "True", reason::FOUND_NEW_RS, msg, self.now);
                set_condition(self.status_mut(), c);
                needs_update = true;
            }
            if needs_update {
                self.write_status();
            }
            return Ok((Some(copy), old));
        }
        if !create {
            return Ok((None, old));
        }

        // The new ReplicaSet does not exist: create it.
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&tmpl, collision);
        let mut new_tmpl = tmpl.clone();
        new_tmpl
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let mut selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let rs_name = replica_set_name(&name(&self.d.metadata), &hash);
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(rs_name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![claim::controller_ref(
                    "apps/v1",
                    "Deployment",
                    &self.d.metadata,
                )]),
                labels: new_tmpl.metadata.as_ref().and_then(|m| m.labels.clone()),
                creation_timestamp: Some(crate::k8s_now(self.now)),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(min_ready_seconds(&self.d)),
                selector,
                template: Some(new_tmpl),
            }),
            status: None,
        };
        let count = {
            let mut all: Vec<&ReplicaSet> = old.iter().collect();
            all.push(&new_rs);
            new_rs_new_replicas(&self.d, &all, 0)
        };
        if let Some(spec) = new_rs.spec.as_mut() {
            spec.replicas = Some(count);
        }
        set_new_replica_set_annotations(&self.d, &mut new_rs, new_revision, false);

        // `Create` → AlreadyExists: ours and equal (a stale lister) or a hash collision.
        if let Some(taken) = self
            .namespace_rss
            .iter()
            .find(|rs| name(&rs.metadata) == rs_name)
        {
            let ours = controller_of(&taken.metadata)
                .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
            if ours && equal_ignore_hash(&tmpl, &rs_template(taken)) {
                let taken = taken.clone();
                return Ok((Some(taken), old));
            }
            let st = self.status_mut();
            st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
            self.write_status();
            return Err(SyncError::HashCollision { name: rs_name });
        }
        self.push(Action::CreateReplicaSet {
            replica_set: Box::new(new_rs.clone()),
        });
        self.rss.push(new_rs.clone());
        if count > 0 {
            self.event(Event::normal(
                "ScalingReplicaSet",
                format!("Scaled up replica set {rs_name} from 0 to {count}"),
            ));
        }
        let mut needs_update = set_deployment_revision(&mut self.d, &new_revision.to_string());
        if has_progress_deadline(&self.d) {
            let msg = format!("Created new replica set \"{rs_name}\"");
            let c = new_condition(
                "Progressing",
                "True",
                reason::NEW_REPLICA_SET,
                msg,
                self.now,
            );
            set_condition(self.status_mut(), c);
            needs_update = true;
        }
        if needs_update {
            self.write_status();
        }
        Ok((Some(new_rs), old))
    }

    /// `scaleReplicaSet`: writes size and replicas annotations when either differs.
    fn scale_rs(&mut self, rs: &ReplicaSet, new_scale: i32) -> (bool, ReplicaSet) {
        let r = replicas(&self.d);
        let max = r + max_surge(&self.d);
        let old_scale = rs_replicas(rs);
        let size_changed = old_scale != new_scale;
        if !size_changed && !replicas_annotations_need_update(rs, r, max) {
            return (false, rs.clone());
        }
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        set_replicas_annotations(&mut copy, r, max);
        let n = name(&copy.metadata);
        self.push(Action::ScaleReplicaSet {
            name: n.clone(),
            replicas: new_scale,
            annotations: copy.metadata.annotations.clone().unwrap_or_default(),
        });
        self.replace_rs(&copy);
        if size_changed {
            let dir = if old_scale < new_scale { "up" } else { "down" };
            self.event(Event::normal(
                "ScalingReplicaSet",
                format!("Scaled {dir} replica set {n} from {old_scale} to {new_scale}"),
            ));
        }
        (size_changed, copy)
    }

    /// `scaleReplicaSetAndRecordEvent`: nothing when the size is already right.
    fn scale_rs_and_record(&mut self, rs: &ReplicaSet, new_scale: i32) -> (bool, ReplicaSet) {
        if rs_replicas(rs) == new_scale {
            return (false, rs.clone());
        }
        self.scale_rs(rs, new_scale)
    }

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let cond = self
            .d
            .status
            .as_ref()
            .and_then(|s| condition(s, "Progressing"))
            .cloned();
        if cond.as_ref().and_then(|c| c.reason.as_deref()) == Some(reason::TIMED_OUT) {
            return;
        }
        let paused_cond = cond.as_ref().and_then(|c| c.reason.as_deref()) == Some(reason::PAUSED);
        let p = paused(&self.d);
        let c = if p && !paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                reason::PAUSED,
                "Deployment is paused".into(),
                self.now,
            )
        } else if !p && paused_cond {
            new_condition(
                "Progressing",
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed".into(),
                self.now,
            )
        } else {
            return;
        };
        set_condition(self.status_mut(), c);
        self.write_status();
    }

    /// `isScalingEvent`: an active ReplicaSet whose desired-replicas annotation differs.
    fn is_scaling_event(&mut self) -> Result<bool, SyncError> {
        let (new, old) = self.get_all_and_sync_revision(false)?;
        let r = replicas(&self.d);
        Ok(old
            .iter()
            .chain(new.iter())
            .filter(|rs| rs_replicas(rs) > 0)
            .any(|rs| desired_replicas_annotation(rs).is_some_and(|d| d != r)))
    }

    /// `sync`: scaling events and paused Deployments.
    fn sync(&mut self) -> Result<(), SyncError> {
        let (new, old) = self.get_all_and_sync_revision(false)?;
        self.scale(new.as_ref(), &old);
        if paused(&self.d) && rollback_to(&self.d).is_none() {
            self.cleanup(&old);
        }
        self.sync_deployment_status(&old, new.as_ref())
    }

    /// `scale`: one active (or the newest) ReplicaSet takes all; a saturated new one drains the
    /// old ones; otherwise proportional.
    fn scale(&mut self, new: Option<&ReplicaSet>, old: &[ReplicaSet]) {
        let r = replicas(&self.d);
        // FindActiveOrLatest
        let mut old_newest_first = old.to_vec();
        old_newest_first.sort_by(|a, b| by_creation(b, a));
        let mut all_active: Vec<ReplicaSet> = active(&old_newest_first);
        if let Some(n) = new.filter(|n| rs_replicas(n) > 0) {
            all_active.push(n.clone());
        }
        let active_or_latest = match all_active.len() {
            0 => new.cloned().or_else(|| old_newest_first.first().cloned()),
            1 => all_active.first().cloned(),
            _ => None,
        };
        if let Some(rs) = active_or_latest {
            if rs_replicas(&rs) != r {
                self.scale_rs_and_record(&rs, r);
            }
            return;
        }
        if let Some(n) = new.filter(|n| is_saturated(&self.d, n)) {
            let _ = n;
            for o in active(old) {
                self.scale_rs_and_record(&o, 0);
            }
            return;
        }
        if !is_rolling_update(&self.d) {
            return;
        }
        let mut all: Vec<ReplicaSet> = active(old);
        if let Some(n) = new.filter(|n| rs_replicas(n) > 0) {
            all.push(n.clone());
        }
        let total: i32 = all.iter().map(rs_replicas).sum();
        let allowed = if r > 0 { r + max_surge(&self.d) } else { 0 };
        let to_add = allowed - total;
        if to_add > 0 {
            all.sort_by(by_size_newer);
        } else if to_add < 0 {
            all.sort_by(by_size_older);
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = replica_set_proportion(rs, &self.d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (i, rs) in all.iter().enumerate() {
            if i == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(rs, sizes[i]);
        }
    }

    /// `cleanupDeployment`: deletes the oldest (count − limit) drained old ReplicaSets.
    fn cleanup(&mut self, old: &[ReplicaSet]) {
        let Some(limit) = revision_history_limit(&self.d) else {
            return;
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| by_revision(a, b));
        let victims: Vec<String> = cleanable
            .iter()
            .take(usize::try_from(diff).unwrap_or(0))
            .filter(|rs| {
                rs_status_replicas(rs) == 0
                    && rs_replicas(rs) == 0
                    && rs.metadata.generation.unwrap_or(0)
                        <= rs
                            .status
                            .as_ref()
                            .and_then(|s| s.observed_generation)
                            .unwrap_or(0)
            })
            .map(|rs| name(&rs.metadata))
            .collect();
        for n in victims {
            self.rss.retain(|rs| name(&rs.metadata) != n);
            self.push(Action::DeleteReplicaSet { name: n });
        }
    }

    /// `calculateStatus(allRSs, newRS, d)`.
    fn calculate_status(&self, old: &[ReplicaSet], new: Option<&ReplicaSet>) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let available: i32 = all.iter().map(|rs| rs_available(rs)).sum();
        let total: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
        let terminating = all
            .iter()
            .map(|rs| rs.status.as_ref().and_then(|s| s.terminating_replicas))
            .try_fold(0i32, |acc, t| t.map(|t| acc + t));
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(all.iter().map(|rs| rs_status_replicas(rs)).sum()),
            updated_replicas: Some(new.map(rs_status_replicas).unwrap_or(0)),
            ready_replicas: Some(all.iter().map(|rs| rs_ready(rs)).sum()),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            terminating_replicas: terminating,
            collision_count: self.d.status.as_ref().and_then(|s| s.collision_count),
            conditions: self.d.status.as_ref().and_then(|s| s.conditions.clone()),
        };
        let c = if available >= replicas(&self.d) - max_unavailable(&self.d) {
            new_condition(
                "Available",
                "True",
                reason::MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            new_condition(
                "Available",
                "False",
                reason::MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut status, c);
        normalise_status(&status)
    }

    /// `syncDeploymentStatus`: writes the computed status when it differs.
    fn sync_deployment_status(
        &mut self,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<(), SyncError> {
        let status = self.calculate_status(old, new);
        if status_equal(&self.d.status.clone().unwrap_or_default(), &status) {
            return Ok(());
        }
        self.d.status = Some(status);
        self.write_status();
        Ok(())
    }

    /// `syncRolloutStatus`: status plus the Progressing condition, then the stuck-rollout requeue.
    fn sync_rollout_status(
        &mut self,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<(), SyncError> {
        let mut status = self.calculate_status(old, new);
        let d = &self.d;
        if !has_progress_deadline(d) {
            remove_condition(&mut status, "Progressing");
        }
        let current = d
            .status
            .as_ref()
            .and_then(|s| condition(s, "Progressing"))
            .cloned();
        let complete_already = status.replicas == status.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(reason::NEW_RS_AVAILABLE);
        if has_progress_deadline(d) && !complete_already {
            let who = |what: &str| match new {
                Some(rs) => format!("ReplicaSet \"{}\" {what}", name(&rs.metadata)),
                None => format!("Deployment \"{}\" {what}", name(&d.metadata)),
            };
            if deployment_complete(d, &status) {
                let c = new_condition(
                    "Progressing",
                    "True",
                    reason::NEW_RS_AVAILABLE,
                    who("has successfully progressed."),
                    self.now,
                );
                set_condition(&mut status, c);
            } else if deployment_progressing(d, &status) {
                let mut c = new_condition(
                    "Progressing",
                    "True",
                    reason::REPLICA_SET_UPDATED,
                    who("is progressing."),
                    self.now,
                );
                if let Some(cur) = current.as_ref() {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut status, "Progressing");
                }
                set_condition(&mut status, c);
            } else if deployment_timed_out(d, &status, self.now) {
                let c = new_condition(
                    "Progressing",
                    "False",
                    reason::TIMED_OUT,
                    who("has timed out progressing."),
                    self.now,
                );
                set_condition(&mut status, c);
            }
        }
        // ReplicaFailure mirrored from the ReplicaSets (new first).
        let failure = new
            .into_iter()
            .chain(old.iter())
            .filter_map(|rs| {
                rs.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|cs| {
                        cs.iter()
                            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
                    })
            })
            .next()
            .cloned();
        match failure {
            Some(f) => {
                let mut c = new_condition(
                    "ReplicaFailure",
                    &f.status,
                    f.reason.as_deref().unwrap_or(""),
                    f.message.clone().unwrap_or_default(),
                    self.now,
                );
                if let Some(t) = f.last_transition_time {
                    c.last_transition_time = Some(t.clone());
                    c.last_update_time = Some(t);
                }
                set_condition(&mut status, c);
            }
            None => remove_condition(&mut status, "ReplicaFailure"),
        }
        let status = normalise_status(&status);
        if status_equal(&self.d.status.clone().unwrap_or_default(), &status) {
            self.requeue_stuck(&status);
            return Ok(());
        }
        self.d.status = Some(status);
        self.write_status();
        Ok(())
    }

    /// `requeueStuckDeployment`.
    fn requeue_stuck(&mut self, new_status: &DeploymentStatus) {
        let d = &self.d;
        let Some(cur) = d.status.as_ref().and_then(|s| condition(s, "Progressing")) else {
            return;
        };
        if !has_progress_deadline(d)
            || deployment_complete(d, new_status)
            || cur.reason.as_deref() == Some(reason::TIMED_OUT)
        {
            return;
        }
        let Some(from) = cur.last_update_time.as_ref() else {
            return;
        };
        let deadline = i64::from(progress_deadline_seconds(d).unwrap_or(0));
        let due = from.0.as_nanosecond() + i128::from(deadline) * 1_000_000_000;
        let after = due - self.now.as_nanosecond();
        if after < 1_000_000_000 {
            self.push(Action::RequeueRateLimited);
        } else {
            let after = Duration::from_nanos(u64::try_from(after).unwrap_or(u64::MAX));
            self.push(Action::RequeueAfter(after + Duration::from_secs(1)));
        }
    }

    /// `rolloutRolling`.
    fn rollout_rolling(&mut self) -> Result<(), SyncError> {
        let (new, old) = self.get_all_and_sync_revision(true)?;
        let Some(new) = new else {
            return Ok(());
        };
        // reconcileNewReplicaSet
        let r = replicas(&self.d);
        let scaled_up = if rs_replicas(&new) == r {
            false
        } else if rs_replicas(&new) > r {
            self.scale_rs_and_record(&new, r).0
        } else {
            let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
            let count = new_rs_new_replicas(&self.d, &all, rs_replicas(&new));
            self.scale_rs_and_record(&new, count).0
        };
        if scaled_up {
            return self.sync_rollout_status(&old, Some(&new));
        }
        if self.reconcile_old_replica_sets(&old, &new) {
            return self.sync_rollout_status(&old, Some(&new));
        }
        if deployment_complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(&old, Some(&new))
    }

    /// `reconcileOldReplicaSets`: whether anything was scaled down.
    fn reconcile_old_replica_sets(&mut self, old: &[ReplicaSet], new: &ReplicaSet) -> bool {
        let mut old_active = active(old);
        let old_count: i32 = old_active.iter().map(rs_replicas).sum();
        if old_count == 0 {
            return false;
        }
        let all_count: i32 = old
            .iter()
            .chain(std::iter::once(new))
            .map(rs_replicas)
            .sum();
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable = rs_replicas(new) - rs_available(new);
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        // cleanupUnhealthyReplicas: unavailable old replicas first, oldest RS first.
        old_active.sort_by(by_creation);
        let mut cleaned = 0;
        for rs in old_active.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let (spec, avail) = (rs_replicas(rs), rs_available(rs));
            if spec == 0 || spec == avail {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(spec - avail);
            let (_, updated) = self.scale_rs_and_record(rs, spec - down);
            *rs = updated;
            cleaned += down;
        }
        // scaleDownOldReplicaSetsForRollingUpdate: available = Σ status of every RS.
        let available: i32 = old_active
            .iter()
            .chain(std::iter::once(new))
            .map(rs_available)
            .sum();
        let mut scaled = 0;
        if available > min_available {
            let total_down = available - min_available;
            for rs in &old_active {
                if scaled >= total_down {
                    break;
                }
                if rs_replicas(rs) == 0 {
                    continue;
                }
                let down = rs_replicas(rs).min(total_down - scaled);
                self.scale_rs_and_record(rs, rs_replicas(rs) - down);
                scaled += down;
            }
        }
        cleaned + scaled > 0
    }

    /// `rolloutRecreate`.
    fn rollout_recreate(&mut self) -> Result<(), SyncError> {
        let (mut new, mut old) = self.get_all_and_sync_revision(false)?;
        let mut scaled_down = false;
        for rs in active(&old) {
            if self.scale_rs_and_record(&rs, 0).0 {
                scaled_down = true;
            }
        }
        if scaled_down || self.old_pods_running(new.as_ref(), &old) {
            return self.sync_rollout_status(&old, new.as_ref());
        }
        if new.is_none() {
            (new, old) = self.get_all_and_sync_revision(true)?;
        }
        if let Some(n) = new.as_ref() {
            self.scale_rs_and_record(n, replicas(&self.d));
        }
        if deployment_complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(&old, new.as_ref())
    }

    /// `oldPodsRunning`: old RSes report pods, or an old RS's pod is not terminal
    /// (terminating pods included).
    fn old_pods_running(&self, new: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
        if old.iter().map(rs_status_replicas).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new.and_then(|n| n.metadata.uid.clone());
        self.pod_map
            .iter()
            .filter(|(uid, _)| Some(*uid) != new_uid.as_ref())
            .any(|(_, pods)| pods.iter().any(|p| !is_pod_terminal(p)))
    }

    /// `rollback`: the deprecated `spec.rollbackTo`, round-tripped as an annotation.
    fn rollback(&mut self) -> Result<(), SyncError> {
        let (new, old) = self.get_all_and_sync_revision(true)?;
        let all: Vec<ReplicaSet> = old.iter().cloned().chain(new).collect();
        let mut to = rollback_to(&self.d).unwrap_or(0);
        if to == 0 {
            let refs: Vec<&ReplicaSet> = all.iter().collect();
            to = last_revision(&refs);
            if to == 0 {
                self.event(Event::warning(
                    reason::ROLLBACK_REVISION_NOT_FOUND,
                    "Unable to find last revision.",
                ));
                self.update_and_clear_rollback_to();
                return Ok(());
            }
        }
        if let Some(rs) = all.iter().find(|rs| revision(rs) == Some(to)) {
            let rs_tmpl = rs_template(rs);
            if !equal_ignore_hash(&template(&self.d), &rs_tmpl) {
                // SetFromReplicaSetTemplate + SetDeploymentAnnotationsTo
                let mut t = rs_tmpl;
                if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
                    l.remove(POD_TEMPLATE_HASH_LABEL);
                }
                if let Some(spec) = self.d.spec.as_mut() {
                    spec.template = t;
                }
                let mut a: BTreeMap<String, String> = self
                    .d
                    .metadata
                    .annotations
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| skip_copy_annotation(k))
                    .collect();
                for (k, v) in rs.metadata.annotations.iter().flatten() {
                    if !skip_copy_annotation(k) {
                        a.insert(k.clone(), v.clone());
                    }
                }
                self.d.metadata.annotations = Some(a);
                self.update_and_clear_rollback_to();
                let msg = format!(
                    "Rolled back deployment \"{}\" to revision {to}",
                    name(&self.d.metadata)
                );
                self.event(Event::normal(reason::ROLLBACK_DONE, msg));
            } else {
                let msg = format!(
                    "The rollback revision contains the same template as current deployment \"{}\"",
                    name(&self.d.metadata)
                );
                self.event(Event::warning(reason::ROLLBACK_TEMPLATE_UNCHANGED, msg));
                self.update_and_clear_rollback_to();
            }
            return Ok(());
        }
        self.event(Event::warning(
            reason::ROLLBACK_REVISION_NOT_FOUND,
            "Unable to find the revision to rollback to.",
        ));
        self.update_and_clear_rollback_to();
        Ok(())
    }

    fn update_and_clear_rollback_to(&mut self) {
        if let Some(a) = self.d.metadata.annotations.as_mut() {
            a.remove(DEPRECATED_ROLLBACK_TO);
        }
        let d = Box::new(self.d.clone());
        self.push(Action::UpdateDeployment { deployment: d });
    }
}

/// `getRollbackTo`: the revision in `deprecated.deployment.rollback.to` (unparsable = none).
pub fn rollback_to(d: &Deployment) -> Option<i64> {
    let v = d
        .metadata
        .annotations
        .as_ref()?
        .get(DEPRECATED_ROLLBACK_TO)?;
    if v.is_empty() {
        return None;
    }
    v.parse().ok()
}
