//! Taking back the pods of a previous run after a restart of `podvisor serve`, as the kubelet
//! does after a node restart (`kubelet.go` `HandlePodAdditions` of the pods the apiserver still
//! has, with no running containers found): pods that were being deleted are gone with their
//! processes, terminal ones stay as records, the others are recovered — their lost containers
//! are reported and restarted per policy (see `PodMachine::recover`).

use k8s_openapi::api::core::v1::Pod;
use podvisor_lifecycle::intake::build_plan;
use podvisor_lifecycle::plan::PodKey;

use crate::handle::EngineHandle;

/// A pod that could not be taken back, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot recover pod {pod}: {message}")]
pub struct RecoverError {
    /// The pod.
    pub pod: PodKey,
    /// Why.
    pub message: String,
}

/// Recovers `previous` (the pods the durable store held) through `engine`; returns the pods
/// that could not be taken back.
pub async fn recover(engine: &EngineHandle, previous: Vec<Pod>) -> Vec<RecoverError> {
    let mut problems = Vec::new();
    for pod in previous {
        let key = PodKey {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone().unwrap_or_default(),
        };
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            // No worker: the delete removes the record at once.
            if let Err(e) = engine.delete_pod(&key, Some(0)).await {
                problems.push(RecoverError {
                    pod: key,
                    message: e.to_string(),
                });
            }
            continue;
        }
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let status = pod.status.clone().unwrap_or_default();
        let mut spec_only = pod;
        spec_only.status = None;
        spec_only.metadata.resource_version = None;
        let result = match build_plan(spec_only) {
            Ok(plan) => engine
                .recover_pod(plan, status)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(message) = result {
            problems.push(RecoverError { pod: key, message });
        }
    }
    problems
}
