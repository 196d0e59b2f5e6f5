//! The worked examples of workloads-semantics.md §2.5–§2.9, step by step.

mod common;

use common::{deployment, World};
use serde_json::json;

fn rolling(surge: serde_json::Value, unavailable: serde_json::Value) -> serde_json::Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

/// Makes one not-yet-Ready pod of `rs` Ready and settles.
fn one_ready(w: &mut World, rs: &str) {
    let name = w
        .pods_of(rs)
        .into_iter()
        .find(|p| {
            p.metadata.deletion_timestamp.is_none() && !podvisor_controllers::pod::is_pod_ready(p)
        })
        .map(|p| p.metadata.name.clone().unwrap())
        .expect("a pod to make ready");
    w.make_ready(&name);
    w.tick(1);
    w.settle();
}

#[test]
fn initial_creation() {
    let mut w = World::new(deployment(3, json!({}), "nginx:1"));
    w.settle();
    let a = w.rs_names()[0].clone();
    assert!(a.starts_with("web-"));
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled up replica set {a} from 0 to 3")]
    );
    assert_eq!(w.pods_of(&a).len(), 3);
    assert!(w.pods.iter().all(|p| p
        .metadata
        .name
        .as_ref()
        .unwrap()
        .starts_with(&format!("{a}-"))));
    // Not available yet: Available False, Progressing True NewReplicaSetCreated.
    assert_eq!(
        w.condition("Available").unwrap().1,
        "MinimumReplicasUnavailable"
    );
    let p = w.condition("Progressing").unwrap();
    assert_eq!(p.0, "True");
    assert!(
        p.1 == "NewReplicaSetCreated" || p.1 == "ReplicaSetUpdated",
        "{p:?}"
    );
    w.make_all_ready();
    w.settle();
    assert_eq!(
        w.condition("Available").unwrap(),
        (
            "True".into(),
            "MinimumReplicasAvailable".into(),
            "Deployment has minimum availability.".into()
        )
    );
    assert_eq!(
        w.condition("Progressing").unwrap(),
        (
            "True".into(),
            "NewReplicaSetAvailable".into(),
            format!("ReplicaSet \"{a}\" has successfully progressed.")
        )
    );
    assert_eq!(w.status()["available"], 3);
    assert_eq!(w.status()["updated"], 3);
    assert_eq!(w.status()["unavailable"], 0);
    assert_eq!(w.d.status.as_ref().unwrap().observed_generation, Some(1));
    let rev =
        w.d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone();
    assert_eq!(rev, "1");
    let rs = &w.rss[0];
    let ann = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann["deployment.kubernetes.io/desired-replicas"], "3");
    assert_eq!(ann["deployment.kubernetes.io/max-replicas"], "4");
    let hash = rs.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(a, format!("web-{hash}"));
    assert_eq!(
        rs.spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()["pod-template-hash"],
        hash
    );
}

/// §2.5 A: R=3, 25 %/25 % (S=1, U=0) — identical to surge 1 / unavailable 0.
fn example_a(strategy: serde_json::Value) {
    let mut w = World::rolled_out(deployment(3, strategy, "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    let mut max_active = 0;
    let mut min_available = usize::MAX;
    w.settle_with(|w| {
        max_active = max_active.max(w.active_pods());
        min_available = min_available.min(w.available_pods());
    });
    let b = w.rs_names()[1].clone();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled up replica set {b} from 0 to 1")]
    );
    assert_eq!((w.spec_of(&a), w.spec_of(&b)), (3, 1));
    let mut seen = Vec::new();
    for _ in 0..3 {
        one_ready(&mut w, &b);
        max_active = max_active.max(w.active_pods());
        min_available = min_available.min(w.available_pods());
        seen.extend(w.take_events());
        w.finish_terminating();
        w.settle();
    }
    assert_eq!(
        seen,
        vec![
            format!("Scaled down replica set {a} from 3 to 2"),
            format!("Scaled up replica set {b} from 1 to 2"),
            format!("Scaled down replica set {a} from 2 to 1"),
            format!("Scaled up replica set {b} from 2 to 3"),
            format!("Scaled down replica set {a} from 1 to 0"),
        ]
    );
    assert!(max_active <= 4, "{max_active}");
    assert!(min_available >= 3, "{min_available}");
    assert_eq!((w.spec_of(&a), w.spec_of(&b)), (0, 3));
    assert_eq!(w.status()["updated"], 3);
    assert_eq!(w.status()["available"], 3);
    assert_eq!(
        w.condition("Progressing").unwrap().1,
        "NewReplicaSetAvailable"
    );
    assert_eq!(
        w.d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "2"
    );
}

#[test]
fn example_a_defaults() {
    example_a(json!({}));
}

#[test]
fn example_a_surge_1_unavailable_0() {
    example_a(rolling(json!(1), json!(0)));
}

/// §2.5 B: R=10, defaults (S=3, U=2): the first sync creates B with 3 and scales A to 8.
#[test]
fn example_b_first_sync_creates_and_scales_down() {
    let mut w = World::rolled_out(deployment(10, json!({}), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    w.sync_deployment();
    let b = w.rs_names()[1].clone();
    assert_eq!(
        w.take_events(),
        vec![
            format!("Scaled up replica set {b} from 0 to 3"),
            format!("Scaled down replica set {a} from 10 to 8"),
        ]
    );
    w.settle();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled up replica set {b} from 3 to 5")]
    );
    assert_eq!((w.spec_of(&a), w.spec_of(&b)), (8, 5));
}

/// §2.5 C: R=3, S=0, U=1: B created with 0 (no event), capacity dips to 2.
#[test]
fn example_c_no_surge() {
    let mut w = World::rolled_out(deployment(3, rolling(json!(0), json!(1)), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    w.settle();
    let b = w.rs_names()[1].clone();
    assert_eq!(
        w.take_events(),
        vec![
            format!("Scaled down replica set {a} from 3 to 2"),
            format!("Scaled up replica set {b} from 0 to 1"),
        ]
    );
    assert!(w.active_pods() <= 3);
    one_ready(&mut w, &b);
    assert_eq!(
        w.take_events(),
        vec![
            format!("Scaled down replica set {a} from 2 to 1"),
            format!("Scaled up replica set {b} from 1 to 2"),
        ]
    );
    one_ready(&mut w, &b);
    assert_eq!(
        w.take_events(),
        vec![
            format!("Scaled down replica set {a} from 1 to 0"),
            format!("Scaled up replica set {b} from 2 to 3"),
        ]
    );
}

/// §2.6 Recreate: old RS to 0, wait for every old pod to be gone (terminating included),
/// then the new RS at R.
#[test]
fn recreate() {
    let mut w = World::rolled_out(deployment(3, json!({"type": "Recreate"}), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    w.settle();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled down replica set {a} from 3 to 0")]
    );
    assert_eq!(w.rss.len(), 1, "no new RS while old pods terminate");
    assert_eq!(
        w.condition("Available").unwrap().1,
        "MinimumReplicasUnavailable"
    );
    w.finish_terminating();
    w.settle();
    let b = w.rs_names()[1].clone();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled up replica set {b} from 0 to 3")]
    );
    w.make_all_ready();
    w.settle();
    assert_eq!(w.status()["available"], 3);
    assert_eq!(
        w.condition("Progressing").unwrap().1,
        "NewReplicaSetAvailable"
    );
}

/// §2.7: R 10→15 mid-rollout with A=8, B=5 (max-replicas 13): A +4, B +2.
#[test]
fn proportional_scaling_during_a_rollout() {
    let mut w = World::rolled_out(deployment(10, json!({}), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    w.settle();
    let b = w.rs_names()[1].clone();
    assert_eq!((w.spec_of(&a), w.spec_of(&b)), (8, 5));
    w.take_events();
    w.edit(|d| d.spec.as_mut().unwrap().replicas = Some(15));
    w.sync_deployment();
    assert_eq!(
        w.take_events(),
        vec![
            format!("Scaled up replica set {a} from 8 to 12"),
            format!("Scaled up replica set {b} from 5 to 7"),
        ]
    );
    let ann = |n: &str| {
        w.rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(n))
            .unwrap()
            .metadata
            .annotations
            .clone()
            .unwrap()
    };
    assert_eq!(ann(&a)["deployment.kubernetes.io/desired-replicas"], "15");
    assert_eq!(ann(&b)["deployment.kubernetes.io/max-replicas"], "19");
    // Then the rollout goes on and converges.
    for _ in 0..20 {
        w.make_all_ready();
        w.tick(1);
        w.finish_terminating();
        w.settle();
    }
    assert_eq!((w.spec_of(&a), w.spec_of(&b)), (0, 15));
    assert_eq!(w.status()["available"], 15);
}

/// §2.7: `kubectl scale` with one active RS sets it directly (0 deletes every pod at once).
#[test]
fn scale_with_one_active_rs_is_direct() {
    let mut w = World::rolled_out(deployment(3, json!({}), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.edit(|d| d.spec.as_mut().unwrap().replicas = Some(0));
    w.settle();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled down replica set {a} from 3 to 0")]
    );
    assert_eq!(w.active_pods(), 0);
    w.edit(|d| d.spec.as_mut().unwrap().replicas = Some(3));
    w.settle();
    assert_eq!(
        w.take_events(),
        vec![format!("Scaled up replica set {a} from 0 to 3")]
    );
}

/// §2.8: paused — no new RS; resume restarts the rollout with Unknown DeploymentResumed first.
#[test]
fn paused() {
    let mut w = World::rolled_out(deployment(3, json!({}), "nginx:1"));
    w.edit(|d| d.spec.as_mut().unwrap().paused = Some(true));
    w.settle();
    assert_eq!(
        w.condition("Progressing").unwrap(),
        (
            "Unknown".into(),
            "DeploymentPaused".into(),
            "Deployment is paused".into()
        )
    );
    w.set_image("nginx:2");
    w.settle();
    assert_eq!(w.rss.len(), 1, "no rollout while paused");
    assert_eq!(w.d.status.as_ref().unwrap().observed_generation, Some(3));
    // Scaling still works while paused.
    w.edit(|d| d.spec.as_mut().unwrap().replicas = Some(4));
    w.settle();
    assert_eq!(w.spec_of(&w.rs_names()[0]), 4);
    w.take_events();
    w.edit(|d| d.spec.as_mut().unwrap().paused = Some(false));
    w.sync_deployment();
    assert_eq!(w.rss.len(), 2, "resume starts the rollout");
    w.settle();
    for _ in 0..10 {
        w.make_all_ready();
        w.tick(1);
        w.finish_terminating();
        w.settle();
    }
    assert_eq!(
        w.condition("Progressing").unwrap().1,
        "NewReplicaSetAvailable"
    );
    assert_eq!(w.status()["updated"], 4);
}

/// §2.12: no progress for progressDeadlineSeconds → ProgressDeadlineExceeded; requeue asked.
#[test]
fn progress_deadline_exceeded() {
    let mut d = deployment(2, json!({}), "nginx:1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(30);
    let mut w = World::rolled_out(d);
    w.set_image("nginx:bad");
    w.settle();
    let b = w.rs_names()[1].clone();
    w.requeues.clear();
    w.tick(5);
    w.settle();
    assert!(
        w.requeues
            .iter()
            .any(|r| r.as_secs() >= 25 && r.as_secs() <= 27),
        "{:?}",
        w.requeues
    );
    w.tick(30);
    w.settle();
    assert_eq!(
        w.condition("Progressing").unwrap(),
        (
            "False".into(),
            "ProgressDeadlineExceeded".into(),
            format!("ReplicaSet \"{b}\" has timed out progressing.")
        )
    );
    // Pausing does not overwrite it.
    w.edit(|d| d.spec.as_mut().unwrap().paused = Some(true));
    w.settle();
    assert_eq!(
        w.condition("Progressing").unwrap().1,
        "ProgressDeadlineExceeded"
    );
}

/// §2.9: the deprecated rollbackTo annotation copies the old template; the reused RS gets the
/// next revision and its old number goes to revision-history.
#[test]
fn rollback_to_revision() {
    let mut w = World::rolled_out(deployment(2, json!({}), "nginx:1"));
    let a = w.rs_names()[0].clone();
    w.set_image("nginx:2");
    for _ in 0..6 {
        w.make_all_ready();
        w.tick(1);
        w.finish_terminating();
        w.settle();
    }
    w.take_events();
    w.edit(|d| {
        d.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert("deprecated.deployment.rollback.to".into(), "0".into());
    });
    w.sync_deployment();
    assert_eq!(
        w.take_events(),
        vec!["Rolled back deployment \"web\" to revision 1".to_string()]
    );
    assert!(!w
        .d
        .metadata
        .annotations
        .as_ref()
        .unwrap()
        .contains_key("deprecated.deployment.rollback.to"));
    for _ in 0..6 {
        w.make_all_ready();
        w.tick(1);
        w.finish_terminating();
        w.settle();
    }
    let rs_a = w
        .rss
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(&a))
        .unwrap();
    let ann = rs_a.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann["deployment.kubernetes.io/revision"], "3");
    assert_eq!(ann["deployment.kubernetes.io/revision-history"], "1");
    assert_eq!(w.spec_of(&a), 2);
    assert_eq!(
        w.d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "3"
    );
    // Unknown revision: warning, annotation cleared.
    w.take_events();
    w.edit(|d| {
        d.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert("deprecated.deployment.rollback.to".into(), "9".into());
    });
    w.sync_deployment();
    assert_eq!(
        w.take_events(),
        vec!["Unable to find the revision to rollback to.".to_string()]
    );
}

/// `kubectl rollout undo`: the previous revision's template, skipped when equal.
#[test]
fn rollout_undo() {
    use podvisor_controllers::undo::{rollout_undo, Undo, UndoError};
    let mut w = World::rolled_out(deployment(1, json!({}), "nginx:1"));
    assert_eq!(
        rollout_undo(&w.d, &w.rss, 0),
        Err(UndoError::NoHistory("web".into()))
    );
    w.set_image("nginx:2");
    for _ in 0..4 {
        w.make_all_ready();
        w.tick(1);
        w.finish_terminating();
        w.settle();
    }
    match rollout_undo(&w.d, &w.rss, 0).unwrap() {
        Undo::RolledBack {
            revision, template, ..
        } => {
            assert_eq!(revision, 1);
            let t = *template;
            assert_eq!(
                t.spec.unwrap().containers[0].image.as_deref(),
                Some("nginx:1")
            );
            assert!(!t
                .metadata
                .unwrap()
                .labels
                .unwrap()
                .contains_key("pod-template-hash"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rollout_undo(&w.d, &w.rss, 2),
        Ok(Undo::Skipped { revision: 2 })
    );
    assert_eq!(
        rollout_undo(&w.d, &w.rss, 7).unwrap_err().to_string(),
        "unable to find specified revision 7 in history"
    );
}

/// §2.10: revisionHistoryLimit keeps the newest drained old RSes.
#[test]
fn history_cleanup() {
    let mut d = deployment(1, json!({}), "v0");
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    let mut w = World::rolled_out(d);
    for v in 1..4 {
        w.set_image(&format!("v{v}"));
        for _ in 0..4 {
            w.make_all_ready();
            w.tick(1);
            w.finish_terminating();
            w.settle();
        }
    }
    // current (revision 4) + one old.
    assert_eq!(w.rss.len(), 2, "{:?}", w.rs_names());
    let revs: Vec<String> = w
        .rss
        .iter()
        .map(|r| {
            r.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"].clone()
        })
        .collect();
    assert!(
        revs.contains(&"4".to_string()) && revs.contains(&"3".to_string()),
        "{revs:?}"
    );
}
