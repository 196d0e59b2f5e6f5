//! Table tests: deletion ranking (§3.3), Deployment validation (§1.2), garbage collection (§5).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use podvisor_controllers::gc::{self, Object, Propagation};
use podvisor_controllers::replicaset::pods_to_delete;
use podvisor_controllers::validation::{
    set_defaults_deployment, validate_deployment, validate_deployment_update,
};
use serde_json::json;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn pod(name: &str, v: serde_json::Value) -> Pod {
    let mut p: Pod = serde_json::from_value(v).unwrap();
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(format!("uid-{name}"));
    p
}

fn running_ready(name: &str, ready_at: &str, created: &str) -> Pod {
    pod(
        name,
        json!({
            "metadata": {"creationTimestamp": created},
            "spec": {"nodeName": "node", "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}]}
        }),
    )
}

#[test]
fn deletion_ranking_table() {
    let now = ts("2026-01-01T01:00:00Z");
    let unscheduled = pod(
        "unscheduled",
        json!({"spec": {"containers": []}, "status": {"phase": "Pending"}}),
    );
    let pending = pod(
        "pending",
        json!({"spec": {"nodeName": "node", "containers": []}, "status": {"phase": "Pending"}}),
    );
    let unknown = pod(
        "unknown",
        json!({"spec": {"nodeName": "node", "containers": []}, "status": {"phase": "Unknown"}}),
    );
    let not_ready = pod(
        "not-ready",
        json!({"spec": {"nodeName": "node", "containers": []}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}]}}),
    );
    let mut costly = running_ready("costly", "2026-01-01T00:59:00Z", "2026-01-01T00:00:00Z");
    costly.metadata.annotations = Some(
        [(
            "controller.kubernetes.io/pod-deletion-cost".to_string(),
            "100".to_string(),
        )]
        .into(),
    );
    let ready_recent = running_ready(
        "ready-recent",
        "2026-01-01T00:59:50Z",
        "2026-01-01T00:00:00Z",
    );
    let ready_old = running_ready("ready-old", "2026-01-01T00:10:00Z", "2026-01-01T00:00:00Z");
    let pods = vec![
        costly.clone(),
        ready_old.clone(),
        ready_recent.clone(),
        not_ready.clone(),
        unknown.clone(),
        pending.clone(),
        unscheduled.clone(),
    ];
    assert_eq!(
        pods_to_delete(&pods, &[], 6, now),
        vec![
            "unscheduled",
            "pending",
            "unknown",
            "not-ready",
            "ready-recent",
            "ready-old"
        ]
    );
    // Same log₂ bucket of Ready age: restarts, then creation (log₂), then UID decide.
    let mut a = running_ready("a", "2026-01-01T00:30:00Z", "2026-01-01T00:00:00Z");
    let b = running_ready("b", "2026-01-01T00:30:01Z", "2026-01-01T00:00:00Z");
    a.status.as_mut().unwrap().container_statuses = Some(vec![serde_json::from_value(json!({
        "name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 3
    }))
    .unwrap()]);
    assert_eq!(
        pods_to_delete(&[b.clone(), a.clone()], &[], 1, now),
        vec!["a"]
    );
    let c = running_ready("c", "2026-01-01T00:30:00Z", "2026-01-01T00:00:00Z");
    let d = running_ready("d", "2026-01-01T00:30:00Z", "2026-01-01T00:50:00Z");
    assert_eq!(
        pods_to_delete(&[c.clone(), d.clone()], &[], 1, now),
        vec!["d"],
        "newer first"
    );
    // Within one log₂ bucket the UID breaks the tie, not the exact time.
    let e = running_ready("e", "2026-01-01T00:30:00Z", "2026-01-01T00:00:00Z");
    let f = running_ready("f", "2026-01-01T00:30:00Z", "2026-01-01T00:00:01Z");
    assert_eq!(pods_to_delete(&[f, e], &[], 1, now), vec!["e"]);
    // Deleting all of them needs no ranking: input order.
    assert_eq!(pods_to_delete(&[c, d], &[], 2, now), vec!["c", "d"]);
}

fn valid() -> Deployment {
    let mut d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        }
    }))
    .unwrap();
    set_defaults_deployment(&mut d);
    d
}

fn errors(d: &Deployment) -> Vec<String> {
    validate_deployment(d)
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn defaults() {
    let d = valid();
    let s = d.spec.unwrap();
    assert_eq!(s.replicas, Some(1));
    assert_eq!(s.revision_history_limit, Some(10));
    assert_eq!(s.progress_deadline_seconds, Some(600));
    let st = s.strategy.unwrap();
    assert_eq!(st.type_.as_deref(), Some("RollingUpdate"));
    let ru = st.rolling_update.unwrap();
    assert_eq!(
        serde_json::to_value(ru).unwrap(),
        json!({"maxSurge": "25%", "maxUnavailable": "25%"})
    );
}

#[test]
fn validation_rules() {
    assert!(errors(&valid()).is_empty());

    let mut d = valid();
    d.spec.as_mut().unwrap().selector = Default::default();
    assert_eq!(
        errors(&d),
        vec![
            "spec.selector: Required value".to_string(),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`".to_string(),
        ]
    );

    let mut d = valid();
    d.spec.as_mut().unwrap().selector.match_labels = Some(Default::default());
    assert_eq!(
        errors(&d),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    );

    let mut d = valid();
    d.spec.as_mut().unwrap().selector.match_labels =
        Some([("app".to_string(), "y".to_string())].into());
    assert_eq!(
        errors(&d),
        vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"]
    );

    let mut d = valid();
    d.spec.as_mut().unwrap().replicas = Some(-1);
    assert_eq!(
        errors(&d),
        vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    );

    let mut d = valid();
    let ru = d
        .spec
        .as_mut()
        .unwrap()
        .strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap();
    ru.max_surge = Some(serde_json::from_value(json!(0)).unwrap());
    ru.max_unavailable = Some(serde_json::from_value(json!("0%")).unwrap());
    assert_eq!(
        errors(&d),
        vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"]
    );

    let mut d = valid();
    let ru = d
        .spec
        .as_mut()
        .unwrap()
        .strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap();
    ru.max_unavailable = Some(serde_json::from_value(json!("150%")).unwrap());
    ru.max_surge = Some(serde_json::from_value(json!(-1)).unwrap());
    assert_eq!(
        errors(&d),
        vec![
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0".to_string(),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%".to_string(),
        ]
    );

    let mut d = valid();
    let ru = d
        .spec
        .as_mut()
        .unwrap()
        .strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap();
    ru.max_surge = Some(serde_json::from_value(json!("ten")).unwrap());
    assert_eq!(
        errors(&d),
        vec!["spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"ten\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')"]
    );

    let mut d = valid();
    d.spec.as_mut().unwrap().strategy.as_mut().unwrap().type_ = Some("Recreate".into());
    assert_eq!(
        errors(&d),
        vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
    );

    let mut d = valid();
    d.spec.as_mut().unwrap().revision_history_limit = Some(-2);
    d.spec.as_mut().unwrap().min_ready_seconds = Some(600);
    assert_eq!(
        errors(&d),
        vec![
            "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0".to_string(),
            "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds".to_string(),
        ]
    );

    let mut d = valid();
    let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    pod.restart_policy = Some("OnFailure".into());
    pod.active_deadline_seconds = Some(5);
    assert_eq!(
        errors(&d),
        vec![
            "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"".to_string(),
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported".to_string(),
        ]
    );

    let old = valid();
    let mut new = valid();
    let s = new.spec.as_mut().unwrap();
    s.selector.match_labels = Some(
        [
            ("app".to_string(), "x".to_string()),
            ("tier".to_string(), "web".to_string()),
        ]
        .into(),
    );
    s.template
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert("tier".into(), "web".into());
    let errs: Vec<String> = validate_deployment_update(&new, &old)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\", \"tier\":\"web\"}"), "{}", errs[0]);
    assert!(errs[0].ends_with(": field is immutable"));
}

fn obj(kind: &str, uid: &str, owners: &[(&str, bool)]) -> Object {
    Object {
        api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.into(),
        kind: kind.into(),
        metadata: ObjectMeta {
            name: Some(uid.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            owner_references: if owners.is_empty() {
                None
            } else {
                Some(
                    owners
                        .iter()
                        .map(|(o, block)| OwnerReference {
                            api_version: "apps/v1".into(),
                            kind: "X".into(),
                            name: o.to_string(),
                            uid: o.to_string(),
                            controller: Some(true),
                            block_owner_deletion: Some(*block),
                        })
                        .collect(),
                )
            },
            ..Default::default()
        },
    }
}

fn deleting(mut o: Object, finalizer: &str) -> Object {
    o.metadata.deletion_timestamp = Some(Time(ts("2026-01-01T00:00:00Z")));
    o.metadata.finalizers = Some(vec![finalizer.into()]);
    o
}

#[test]
fn garbage_collection() {
    // Background: the Deployment is gone; its RS is deleted, then (next pass) the pods.
    let rs = obj("ReplicaSet", "rs", &[("deploy", true)]);
    let p1 = obj("Pod", "p1", &[("rs", true)]);
    let acts = gc::collect(&[rs.clone(), p1.clone()]);
    assert_eq!(
        acts,
        vec![gc::Action::Delete {
            object: rs.reference(),
            propagation: Propagation::Background
        }]
    );
    assert_eq!(
        gc::collect(std::slice::from_ref(&p1)),
        vec![gc::Action::Delete {
            object: p1.reference(),
            propagation: Propagation::Background
        }]
    );

    // Foreground: the owner waits; its dependent with dependents goes Foreground too.
    let d = deleting(obj("Deployment", "deploy", &[]), "foregroundDeletion");
    let acts = gc::collect(&[d.clone(), rs.clone(), p1.clone()]);
    assert_eq!(
        acts,
        vec![gc::Action::Delete {
            object: rs.reference(),
            propagation: Propagation::Foreground
        }]
    );
    let rs_del = deleting(rs.clone(), "foregroundDeletion");
    let acts = gc::collect(&[d.clone(), rs_del.clone(), p1.clone()]);
    assert_eq!(
        acts,
        vec![gc::Action::Delete {
            object: p1.reference(),
            propagation: Propagation::Background
        }]
    );
    // No blocking dependents left → the finalizer goes.
    let acts = gc::collect(&[d.clone(), rs_del.clone()]);
    assert_eq!(
        acts,
        vec![gc::Action::RemoveFinalizer {
            object: rs_del.reference(),
            finalizer: "foregroundDeletion"
        }]
    );
    assert_eq!(
        gc::collect(std::slice::from_ref(&d)),
        vec![gc::Action::RemoveFinalizer {
            object: d.reference(),
            finalizer: "foregroundDeletion"
        }]
    );

    // Orphan: references stripped, then the finalizer removed; nothing deleted.
    let d = deleting(obj("Deployment", "deploy", &[]), "orphan");
    let acts = gc::collect(&[d.clone(), rs.clone()]);
    assert_eq!(
        acts,
        vec![
            gc::Action::RemoveOwnerReferences {
                object: rs.reference(),
                owner_uids: vec!["deploy".into()]
            },
            gc::Action::RemoveFinalizer {
                object: d.reference(),
                finalizer: "orphan"
            },
        ]
    );

    // A solid owner remains: only the dangling reference is removed.
    let two = obj("Pod", "p2", &[("rs", true), ("gone", false)]);
    let acts = gc::collect(&[rs.clone(), two.clone()]);
    assert!(acts.contains(&gc::Action::RemoveOwnerReferences {
        object: two.reference(),
        owner_uids: vec!["gone".into()]
    }));
    assert_eq!(
        Propagation::Foreground.finalizer(),
        Some("foregroundDeletion")
    );
    assert_eq!(Propagation::Background.finalizer(), None);
}
