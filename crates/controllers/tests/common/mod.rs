//! A tiny in-memory "cluster" that applies the controllers' actions, so tests can drive a
//! Deployment through a rollout and mark pods Ready at chosen times.
#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use podvisor_controllers::deployment::{self, Action as DAction};
use podvisor_controllers::names::SeededRandom;
use podvisor_controllers::pod::{controller_of, is_pod_active, is_pod_ready};
use podvisor_controllers::replicaset::{self, Action as RAction};
use podvisor_controllers::validation::set_defaults_deployment;

pub struct World {
    pub d: Deployment,
    pub rss: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub now: Timestamp,
    pub events: Vec<String>,
    pub requeues: Vec<std::time::Duration>,
    uid: u64,
    rng: SeededRandom,
}

pub fn deployment(replicas: i32, strategy: serde_json::Value, image: &str) -> Deployment {
    let mut d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .unwrap();
    set_defaults_deployment(&mut d);
    d
}

impl World {
    pub fn new(d: Deployment) -> Self {
        World {
            d,
            rss: Vec::new(),
            pods: Vec::new(),
            now: "2026-01-01T00:00:00Z".parse().unwrap(),
            events: Vec::new(),
            requeues: Vec::new(),
            uid: 0,
            rng: SeededRandom(42),
        }
    }

    fn next_uid(&mut self, kind: &str) -> String {
        self.uid += 1;
        format!("{kind}-{:04}", self.uid)
    }

    pub fn tick(&mut self, secs: i64) {
        self.now = self
            .now
            .checked_add(SignedDuration::from_secs(secs))
            .unwrap();
    }

    fn time(&self) -> Time {
        Time(Timestamp::from_second(self.now.as_second()).unwrap())
    }

    /// Changes the spec as `kubectl apply` would (generation + 1).
    pub fn edit(&mut self, f: impl FnOnce(&mut Deployment)) {
        f(&mut self.d);
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap_or(0) + 1);
    }

    pub fn set_image(&mut self, image: &str) {
        self.edit(|d| {
            d.spec
                .as_mut()
                .unwrap()
                .template
                .spec
                .as_mut()
                .unwrap()
                .containers[0]
                .image = Some(image.into());
        });
    }

    /// One ReplicaSet controller pass over every ReplicaSet; whether anything was written.
    pub fn sync_replica_sets(&mut self) -> bool {
        let mut wrote = false;
        for i in 0..self.rss.len() {
            let rs = self.rss[i].clone();
            let actions =
                replicaset::sync_replica_set(&rs, &self.pods, &[], self.now, &mut self.rng)
                    .unwrap();
            for a in actions {
                match a {
                    RAction::CreatePods { pods } => {
                        for mut p in pods {
                            p.metadata.uid = Some(self.next_uid("pod"));
                            p.metadata.creation_timestamp = Some(self.time());
                            p.spec.as_mut().unwrap().node_name = Some("node".into());
                            p.status = Some(PodStatus {
                                phase: Some("Pending".into()),
                                ..Default::default()
                            });
                            self.pods.push(p);
                        }
                        wrote = true;
                    }
                    RAction::DeletePods { names } => {
                        let t = self.time();
                        for p in self.pods.iter_mut() {
                            if names.contains(p.metadata.name.as_ref().unwrap()) {
                                p.metadata.deletion_timestamp = Some(t.clone());
                            }
                        }
                        wrote = true;
                    }
                    RAction::UpdateStatus { status } => {
                        self.rss[i].status = Some(status);
                        wrote = true;
                    }
                    RAction::AdoptPod { .. } | RAction::ReleasePod { .. } => wrote = true,
                    RAction::RequeueAfter(_) => {}
                }
            }
        }
        wrote
    }

    /// One Deployment controller pass; the actions it returned.
    pub fn sync_deployment(&mut self) -> Vec<DAction> {
        let result = deployment::sync_deployment(&self.d, &self.rss, &self.pods, self.now);
        for a in &result.actions {
            match a.clone() {
                DAction::CreateReplicaSet { replica_set } => {
                    let mut rs = *replica_set;
                    rs.metadata.uid = Some(self.next_uid("rs"));
                    rs.metadata.generation = Some(1);
                    self.rss.push(rs);
                }
                DAction::ScaleReplicaSet {
                    name,
                    replicas,
                    annotations,
                } => {
                    let rs = self.rs_mut(&name);
                    rs.spec.as_mut().unwrap().replicas = Some(replicas);
                    rs.metadata.annotations = Some(annotations);
                    rs.metadata.generation = Some(rs.metadata.generation.unwrap_or(0) + 1);
                }
                DAction::UpdateReplicaSet {
                    name,
                    annotations,
                    min_ready_seconds,
                } => {
                    let rs = self.rs_mut(&name);
                    rs.metadata.annotations = Some(annotations);
                    rs.spec.as_mut().unwrap().min_ready_seconds = Some(min_ready_seconds);
                }
                DAction::DeleteReplicaSet { name } => {
                    let uid = self.rs_mut(&name).metadata.uid.clone();
                    self.rss
                        .retain(|rs| rs.metadata.name.as_deref() != Some(&name));
                    // The garbage collector deletes its pods.
                    let t = self.time();
                    for p in self.pods.iter_mut() {
                        if controller_of(&p.metadata).map(|r| Some(&r.uid)) == Some(uid.as_ref()) {
                            p.metadata.deletion_timestamp = Some(t.clone());
                        }
                    }
                }
                DAction::UpdateDeployment { deployment } => {
                    let spec_changed = deployment.spec != self.d.spec;
                    self.d.metadata.annotations = deployment.metadata.annotations.clone();
                    self.d.spec = deployment.spec.clone();
                    if spec_changed {
                        self.d.metadata.generation =
                            Some(self.d.metadata.generation.unwrap_or(0) + 1);
                    }
                }
                DAction::UpdateDeploymentStatus {
                    annotations,
                    status,
                } => {
                    self.d.metadata.annotations = Some(annotations);
                    self.d.status = Some(status);
                }
                DAction::RecordEvent(e) => self.events.push(e.message.clone()),
                DAction::RequeueAfter(d) => self.requeues.push(d),
                DAction::RequeueRateLimited => {}
                DAction::AdoptReplicaSet { .. } | DAction::ReleaseReplicaSet { .. } => {}
            }
        }
        assert!(result.error.is_none(), "{:?}", result.error);
        result.actions
    }

    fn rs_mut(&mut self, name: &str) -> &mut ReplicaSet {
        self.rss
            .iter_mut()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    /// RS controllers to a fixpoint.
    pub fn settle_replica_sets(&mut self) {
        for _ in 0..20 {
            if !self.sync_replica_sets() {
                return;
            }
        }
        panic!("ReplicaSet controllers do not settle");
    }

    /// Runs both controllers until the Deployment controller has nothing more to write;
    /// `check` runs after every round.
    pub fn settle_with(&mut self, mut check: impl FnMut(&World)) {
        for _ in 0..50 {
            self.settle_replica_sets();
            let actions = self.sync_deployment();
            self.settle_replica_sets();
            check(self);
            if actions
                .iter()
                .all(|a| matches!(a, DAction::RequeueAfter(_) | DAction::RequeueRateLimited))
            {
                return;
            }
        }
        panic!("controllers do not settle: {:?}", self.events);
    }

    pub fn settle(&mut self) {
        self.settle_with(|_| {});
    }

    /// Events recorded since the last call.
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    pub fn rs_names(&self) -> Vec<String> {
        self.rss
            .iter()
            .map(|rs| rs.metadata.name.clone().unwrap())
            .collect()
    }

    pub fn spec_of(&self, name: &str) -> i32 {
        self.rss
            .iter()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
            .and_then(|rs| rs.spec.as_ref()?.replicas)
            .unwrap()
    }

    pub fn pods_of(&self, rs: &str) -> Vec<&Pod> {
        let uid = self
            .rss
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(rs))
            .and_then(|r| r.metadata.uid.clone());
        self.pods
            .iter()
            .filter(|p| controller_of(&p.metadata).map(|r| r.uid.clone()) == uid)
            .collect()
    }

    /// Marks a pod Running and Ready now.
    pub fn make_ready(&mut self, name: &str) {
        let t = self.time();
        let p = self
            .pods
            .iter_mut()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap();
        let st = p.status.get_or_insert_with(Default::default);
        st.phase = Some("Running".into());
        st.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(t),
            ..Default::default()
        }]);
    }

    /// Makes every active pod that is not Ready, Ready.
    pub fn make_all_ready(&mut self) {
        let names: Vec<String> = self
            .pods
            .iter()
            .filter(|p| is_pod_active(p) && !is_pod_ready(p))
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        for n in names {
            self.make_ready(&n);
        }
    }

    /// The kubelet finishes every terminating pod (they leave the API).
    pub fn finish_terminating(&mut self) {
        self.pods
            .retain(|p| p.metadata.deletion_timestamp.is_none());
    }

    /// Active (non-terminating) pods.
    pub fn active_pods(&self) -> usize {
        self.pods.iter().filter(|p| is_pod_active(p)).count()
    }

    /// Active Ready pods (minReadySeconds 0: available).
    pub fn available_pods(&self) -> usize {
        self.pods
            .iter()
            .filter(|p| is_pod_active(p) && is_pod_ready(p))
            .count()
    }

    pub fn status(&self) -> BTreeMap<&'static str, i32> {
        let s = self.d.status.clone().unwrap_or_default();
        BTreeMap::from([
            ("replicas", s.replicas.unwrap_or(0)),
            ("updated", s.updated_replicas.unwrap_or(0)),
            ("ready", s.ready_replicas.unwrap_or(0)),
            ("available", s.available_replicas.unwrap_or(0)),
            ("unavailable", s.unavailable_replicas.unwrap_or(0)),
        ])
    }

    pub fn condition(&self, type_: &str) -> Option<(String, String, String)> {
        let s = self.d.status.as_ref()?;
        let c = s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)?;
        Some((
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        ))
    }

    /// Creates the Deployment, brings all pods Ready, settles.
    pub fn rolled_out(d: Deployment) -> Self {
        let mut w = World::new(d);
        w.settle();
        w.make_all_ready();
        w.settle();
        w.take_events();
        w
    }
}
