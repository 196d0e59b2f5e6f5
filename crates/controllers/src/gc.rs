//! The garbage collector's decisions as a pure function over the ownership graph:
//! `attemptToDeleteItem`, `classifyReferences`, `processDeletingDependentsItem` and
//! `orphanDependents` (pkg/controller/garbagecollector/garbagecollector.go), and the
//! apiserver's `deletionFinalizersForGarbageCollection` (store.go). Spec §5.
//!
//! [`collect`] looks at every object once and says what the collector would do now; the caller
//! applies the actions and calls again until nothing is left to do (upstream reacts to the
//! watch events each write causes). Owners are identified by UID among the given objects (an
//! owner absent from the input is gone).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The finalizer of a foreground deletion (`metav1.FinalizerDeleteDependents`).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer of an orphaning deletion (`metav1.FinalizerOrphanDependents`).
pub const ORPHAN_FINALIZER: &str = "orphan";

/// `metav1.DeletionPropagation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now; the collector deletes dependents afterwards.
    Background,
    /// Keep the object (`foregroundDeletion`) until blocking dependents are gone.
    Foreground,
    /// Keep the object (`orphan`) until dependents' references to it are removed.
    Orphan,
}

impl Propagation {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }

    /// `deletionFinalizersForGarbageCollection`: the finalizer the apiserver adds on a DELETE
    /// with this policy (none for Background: the object goes at once if nothing else holds it).
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
        }
    }
}

/// One object of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `ReplicaSet`.
    pub kind: String,
    /// Its metadata (uid, namespace, ownerReferences, finalizers, deletionTimestamp).
    pub metadata: ObjectMeta,
}

/// Which object an action is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (a precondition for the write).
    pub uid: String,
}

impl Object {
    /// The reference to this object.
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
            uid: self.metadata.uid.clone().unwrap_or_default(),
        }
    }

    fn has_finalizer(&self, f: &str) -> bool {
        self.metadata.finalizers.iter().flatten().any(|x| x == f)
    }

    fn deleting(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }

    /// `isDeletingDependents`: being deleted with the `foregroundDeletion` finalizer.
    fn deleting_dependents(&self) -> bool {
        self.deleting() && self.has_finalizer(FOREGROUND_FINALIZER)
    }
}

/// One decision of the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// DELETE the object with this propagation policy (source `garbage-collector-controller`).
    Delete {
        /// The object.
        object: ObjectRef,
        /// The policy.
        propagation: Propagation,
    },
    /// Patch away the ownerReferences with these UIDs (dangling owners, owners waiting for
    /// their dependents while a solid owner remains, or an orphaning owner).
    RemoveOwnerReferences {
        /// The dependent.
        object: ObjectRef,
        /// The owners' UIDs.
        owner_uids: Vec<String>,
    },
    /// Set `blockOwnerDeletion: false` on every ownerReference of the object (breaks a
    /// foreground-deletion cycle, `unblockOwnerReferencesStrategicMergePatch`).
    UnblockOwnerReferences {
        /// The object.
        object: ObjectRef,
    },
    /// Remove a finalizer the collector handles (`foregroundDeletion` once no blocking
    /// dependent remains, `orphan` once dependents are orphaned).
    RemoveFinalizer {
        /// The owner.
        object: ObjectRef,
        /// The finalizer.
        finalizer: &'static str,
    },
}

/// The collector's decisions over `objects`, in the order of the input.
pub fn collect(objects: &[Object]) -> Vec<Action> {
    let by_uid: BTreeMap<&str, &Object> = objects
        .iter()
        .filter_map(|o| o.metadata.uid.as_deref().map(|u| (u, o)))
        .collect();
    let dependents = |owner: &Object| -> Vec<&Object> {
        let uid = owner.metadata.uid.as_deref().unwrap_or("");
        objects
            .iter()
            .filter(|o| {
                o.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == uid)
            })
            .collect()
    };
    let mut out = Vec::new();
    for o in objects {
        if o.deleting() {
            if o.has_finalizer(ORPHAN_FINALIZER) {
                // orphanDependents, then remove the finalizer.
                let uid = o.metadata.uid.clone().unwrap_or_default();
                for d in dependents(o) {
                    out.push(Action::RemoveOwnerReferences {
                        object: d.reference(),
                        owner_uids: vec![uid.clone()],
                    });
                }
                out.push(Action::RemoveFinalizer {
                    object: o.reference(),
                    finalizer: ORPHAN_FINALIZER,
                });
            } else if o.deleting_dependents() {
                // processDeletingDependentsItem: blocking dependents are deleted when their own
                // turn comes (their owner is "waiting"); with none left, the owner goes.
                let uid = o.metadata.uid.as_deref().unwrap_or("");
                let blocking = dependents(o).into_iter().any(|d| {
                    d.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
                });
                if !blocking {
                    out.push(Action::RemoveFinalizer {
                        object: o.reference(),
                        finalizer: FOREGROUND_FINALIZER,
                    });
                }
            }
            continue;
        }
        let refs = o.metadata.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            continue;
        }
        // classifyReferences
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &refs {
            match by_uid.get(r.uid.as_str()) {
                None => dangling.push(r.uid.clone()),
                Some(owner)
                    if owner.metadata.namespace.is_some()
                        && owner.metadata.namespace != o.metadata.namespace =>
                {
                    dangling.push(r.uid.clone())
                }
                Some(owner) if owner.deleting_dependents() => waiting.push(r.uid.clone()),
                Some(_) => solid.push(r.uid.clone()),
            }
        }
        if !solid.is_empty() {
            if !dangling.is_empty() || !waiting.is_empty() {
                dangling.extend(waiting);
                out.push(Action::RemoveOwnerReferences {
                    object: o.reference(),
                    owner_uids: dangling,
                });
            }
            continue;
        }
        let deps = dependents(o);
        if !waiting.is_empty() && !deps.is_empty() {
            if deps.iter().any(|d| d.deleting_dependents()) {
                out.push(Action::UnblockOwnerReferences {
                    object: o.reference(),
                });
            }
            out.push(Action::Delete {
                object: o.reference(),
                propagation: Propagation::Foreground,
            });
            continue;
        }
        let propagation = if o.has_finalizer(ORPHAN_FINALIZER) {
            Propagation::Orphan
        } else if o.has_finalizer(FOREGROUND_FINALIZER) {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        out.push(Action::Delete {
            object: o.reference(),
            propagation,
        });
    }
    out
}
