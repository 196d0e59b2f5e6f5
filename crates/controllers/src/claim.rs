//! Adoption and release through ownerReferences: `BaseControllerRefManager.ClaimObject`
//! (pkg/controller/controller_ref_manager.go), spec §3.5.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::pod::controller_of;

/// What the controller does with one candidate object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: keep it.
    Owned,
    /// An orphan that matches: patch our controller reference onto it, then it is ours.
    Adopt,
    /// Ours but no longer matching: remove our reference; it is not ours any more.
    Release,
    /// Not ours (another controller's, or not matching, or a party is being deleted).
    Ignore,
}

impl Claim {
    /// Whether the object counts as the controller's after the claim.
    pub fn claimed(self) -> bool {
        matches!(self, Claim::Owned | Claim::Adopt)
    }
}

/// `ClaimObject`: decides for `obj` given the controller's metadata and whether the selector
/// matches. An orphan is adopted only if neither side is being deleted and the namespaces match
/// (the upstream re-read of the owner, `RecheckDeletionTimestamp`, is the caller's input).
pub fn claim_object(controller: &ObjectMeta, obj: &ObjectMeta, matches: bool) -> Claim {
    if let Some(r) = controller_of(obj) {
        if Some(&r.uid) != controller.uid.as_ref() {
            return Claim::Ignore;
        }
        if matches {
            return Claim::Owned;
        }
        if controller.deletion_timestamp.is_some() {
            return Claim::Ignore;
        }
        return Claim::Release;
    }
    if controller.deletion_timestamp.is_some() || !matches {
        return Claim::Ignore;
    }
    if obj.deletion_timestamp.is_some() {
        return Claim::Ignore;
    }
    if controller
        .namespace
        .as_deref()
        .is_some_and(|ns| !ns.is_empty())
        && controller.namespace != obj.namespace
    {
        return Claim::Ignore;
    }
    Claim::Adopt
}

/// `metav1.NewControllerRef(owner, gvk)`: `controller: true`, `blockOwnerDeletion: true`.
pub fn controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Applies an adoption to a copy of `obj`'s metadata (what the adoption patch does).
pub fn adopt(obj: &mut ObjectMeta, reference: OwnerReference) {
    obj.owner_references
        .get_or_insert_with(Vec::new)
        .push(reference);
}

/// Applies a release to `obj`'s metadata: removes every reference with `owner_uid`.
pub fn release(obj: &mut ObjectMeta, owner_uid: &str) {
    if let Some(refs) = obj.owner_references.as_mut() {
        refs.retain(|r| r.uid != owner_uid);
        if refs.is_empty() {
            obj.owner_references = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(uid.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..Default::default()
        }
    }

    #[test]
    fn claim_table() {
        let owner = meta("rs");
        let mut ours = meta("p1");
        adopt(&mut ours, controller_ref("apps/v1", "ReplicaSet", &owner));
        let mut theirs = meta("p2");
        adopt(
            &mut theirs,
            controller_ref("apps/v1", "ReplicaSet", &meta("other")),
        );
        let orphan = meta("p3");
        assert_eq!(claim_object(&owner, &ours, true), Claim::Owned);
        assert_eq!(claim_object(&owner, &ours, false), Claim::Release);
        assert_eq!(claim_object(&owner, &theirs, true), Claim::Ignore);
        assert_eq!(claim_object(&owner, &orphan, true), Claim::Adopt);
        assert_eq!(claim_object(&owner, &orphan, false), Claim::Ignore);
        let mut deleting = owner.clone();
        deleting.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(claim_object(&deleting, &ours, false), Claim::Ignore);
        assert_eq!(claim_object(&deleting, &ours, true), Claim::Owned);
        assert_eq!(claim_object(&deleting, &orphan, true), Claim::Ignore);
        let mut other_ns = orphan.clone();
        other_ns.namespace = Some("kube-system".into());
        assert_eq!(claim_object(&owner, &other_ns, true), Claim::Ignore);
        release(&mut ours, "rs");
        assert!(ours.owner_references.is_none());
    }
}
