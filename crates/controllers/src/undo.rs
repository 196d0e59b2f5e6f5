//! `kubectl rollout undo` for Deployments: `DeploymentRollbacker.Rollback`
//! (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go), spec §4.4. Client side and
//! pure: the Deployment and its ReplicaSets in, the patch (new template and annotations) out.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::deployment::util::{equal_ignore_hash, revision, rs_template, skip_copy_annotation};
use crate::hash::POD_TEMPLATE_HASH_LABEL;

/// Why `rollout undo` refuses, with kubectl's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// `spec.paused` is true.
    #[error("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")]
    Paused,
    /// `--to-revision=N` names no ReplicaSet.
    #[error("unable to find specified revision {0} in history")]
    RevisionNotFound(i64),
    /// No second-highest revision exists.
    #[error("no rollout history found for deployment {0:?}")]
    NoHistory(String),
}

/// What `rollout undo` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Undo {
    /// The template already matches: `deployment.apps/x skipped rollback (current template
    /// already matches revision N)`.
    Skipped {
        /// The target revision.
        revision: i64,
    },
    /// The JSON patch replacing `/spec/template` and `/metadata/annotations`.
    RolledBack {
        /// The target revision.
        revision: i64,
        /// The ReplicaSet's template without `pod-template-hash`.
        template: Box<PodTemplateSpec>,
        /// The Deployment's skipped annotations plus the ReplicaSet's others.
        annotations: BTreeMap<String, String>,
    },
}

/// `DeploymentRollbacker.Rollback(deployment, toRevision)` over the ReplicaSets the Deployment
/// controls (`to_revision` 0 = the previous revision).
pub fn rollout_undo(
    d: &Deployment,
    replica_sets: &[ReplicaSet],
    to_revision: i64,
) -> Result<Undo, UndoError> {
    if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
        return Err(UndoError::Paused);
    }
    let mut latest: Option<(&ReplicaSet, i64)> = None;
    let mut previous: Option<(&ReplicaSet, i64)> = None;
    let mut target = None;
    for rs in replica_sets {
        let Some(v) = revision(rs) else { continue };
        if to_revision == 0 {
            if latest.is_none_or(|(_, m)| v > m) {
                previous = latest;
                latest = Some((rs, v));
            } else if previous.is_none_or(|(_, p)| v > p) {
                previous = Some((rs, v));
            }
        } else if v == to_revision {
            target = Some((rs, v));
            break;
        }
    }
    let (rs, rev) = match (to_revision, target, previous) {
        (0, _, Some(p)) => p,
        (0, _, None) => {
            return Err(UndoError::NoHistory(
                d.metadata.name.clone().unwrap_or_default(),
            ));
        }
        (_, Some(t), _) => t,
        (n, None, _) => return Err(UndoError::RevisionNotFound(n)),
    };
    let current = d
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut template = rs_template(rs);
    if equal_ignore_hash(&template, &current) {
        return Ok(Undo::Skipped { revision: rev });
    }
    if let Some(l) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut annotations: BTreeMap<String, String> = d
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| skip_copy_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !skip_copy_annotation(k) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    Ok(Undo::RolledBack {
        revision: rev,
        template: Box::new(template),
        annotations,
    })
}
