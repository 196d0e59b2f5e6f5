//! Property tests: rolling-update bounds and convergence, ReplicaSet convergence.

mod common;

use common::{deployment, World};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podvisor_controllers::deployment::util::resolve_fenceposts;
use podvisor_controllers::pod::{is_pod_active, is_pod_ready};
use proptest::prelude::*;
use serde_json::json;

fn bound() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0i32..=3).prop_map(|i| json!(i)),
        prop::sample::select(vec!["0%", "25%", "50%", "100%"]).prop_map(|s| json!(s)),
    ]
}

fn to_ios(v: &serde_json::Value) -> IntOrString {
    serde_json::from_value(v.clone()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever order new pods become Ready or unready ones die, a rolling update never has more
    /// than R + maxSurge active pods nor fewer than R − maxUnavailable available ones, and it
    /// converges to R updated available pods once pods become Ready.
    #[test]
    fn rolling_update_bounds_and_convergence(
        r in 1i32..=6,
        surge in bound(),
        unavailable in bound(),
        ops in prop::collection::vec(0u8..=255, 0..30),
    ) {
        prop_assume!(!(surge == json!(0) && unavailable == json!(0)));
        prop_assume!(!(surge == json!("0%") && unavailable == json!(0)));
        prop_assume!(!(surge == json!(0) && unavailable == json!("0%")));
        prop_assume!(!(surge == json!("0%") && unavailable == json!("0%")));
        let (s, u) = resolve_fenceposts(Some(&to_ios(&surge)), Some(&to_ios(&unavailable)), r).unwrap();
        let u = u.min(r);
        let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}});
        let mut w = World::rolled_out(deployment(r, strategy, "v1"));
        let max_active = (r + s) as usize;
        let min_available = (r - u) as usize;
        let mut violation = None;
        let check = |w: &World, violation: &mut Option<String>| {
            if w.active_pods() > max_active {
                *violation = Some(format!("{} active > {max_active}", w.active_pods()));
            }
            if w.available_pods() < min_available {
                *violation = Some(format!("{} available < {min_available}", w.available_pods()));
            }
        };
        w.set_image("v2");
        w.settle_with(|w| check(w, &mut violation));
        for op in ops {
            let unready: Vec<String> = w.pods.iter()
                .filter(|p| is_pod_active(p) && !is_pod_ready(p))
                .map(|p| p.metadata.name.clone().unwrap())
                .collect();
            match op % 3 {
                0 if !unready.is_empty() => {
                    let n = unready[(op as usize / 3) % unready.len()].clone();
                    w.make_ready(&n);
                }
                1 if !unready.is_empty() => {
                    // An unready pod dies (evicted, crashed out): it is deleted.
                    let n = unready[(op as usize / 3) % unready.len()].clone();
                    let t = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(w.now);
                    for p in w.pods.iter_mut() {
                        if p.metadata.name.as_deref() == Some(n.as_str()) {
                            p.metadata.deletion_timestamp = Some(t.clone());
                        }
                    }
                }
                _ => w.finish_terminating(),
            }
            w.tick(1);
            w.settle_with(|w| check(w, &mut violation));
            prop_assert!(violation.is_none(), "{:?} after {:?}", violation, w.events);
        }
        for _ in 0..(2 * r + 6) {
            w.make_all_ready();
            w.finish_terminating();
            w.tick(1);
            w.settle_with(|w| check(w, &mut violation));
            prop_assert!(violation.is_none(), "{:?}", violation);
        }
        let st = w.status();
        prop_assert_eq!(st["updated"], r);
        prop_assert_eq!(st["available"], r);
        prop_assert_eq!(st["replicas"], r);
        prop_assert_eq!(w.active_pods(), r as usize);
        prop_assert_eq!(w.condition("Progressing").unwrap().1, "NewReplicaSetAvailable");
    }

    /// The ReplicaSet controller converges to spec.replicas active pods whatever is deleted.
    #[test]
    fn replica_set_converges(
        sizes in prop::collection::vec(0i32..=8, 1..6),
        kills in prop::collection::vec(0usize..20, 0..10),
    ) {
        let mut w = World::rolled_out(deployment(sizes[0], json!({}), "v1"));
        let rs = w.rs_names()[0].clone();
        for (i, size) in sizes.iter().enumerate() {
            w.edit(|d| d.spec.as_mut().unwrap().replicas = Some(*size));
            w.settle();
            if let Some(k) = kills.get(i) {
                let active: Vec<String> = w.pods.iter().filter(|p| is_pod_active(p)).map(|p| p.metadata.name.clone().unwrap()).collect();
                if !active.is_empty() {
                    let n = active[k % active.len()].clone();
                    w.pods.retain(|p| p.metadata.name.as_deref() != Some(n.as_str()));
                }
            }
            w.settle();
            prop_assert_eq!(w.active_pods(), *size as usize);
            prop_assert_eq!(w.spec_of(&rs), *size);
            w.make_all_ready();
            w.finish_terminating();
        }
    }
}
