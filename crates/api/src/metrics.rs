//! The resource metrics API (`metrics.k8s.io/v1beta1`, served on a cluster by metrics-server)
//! that `kubectl top pod|node` reads: each running container's CPU (a rate over a short window)
//! and working set, and the node's. Usage comes from `/proc` (`podvisor_engine::metrics`).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use podvisor_engine::metrics::{node_usage, rate, usage};
use podvisor_lifecycle::plan::PodKey;
use serde_json::{json, Value};

use crate::http::{json_response, ApiResult};
use crate::resource::Resource;
use crate::{ApiError, Shared};

/// How long CPU is sampled for.
pub const WINDOW: Duration = Duration::from_millis(250);

/// `pods` in metrics.k8s.io/v1beta1.
pub const POD_METRICS: Resource = Resource {
    group: "metrics.k8s.io",
    version: "v1beta1",
    plural: "pods",
    singular: "",
    kind: "PodMetrics",
    namespaced: true,
    verbs: &["get", "list"],
    short_names: &[],
    categories: &[],
    subresources: &[],
    schema: None,
};

/// `nodes` in metrics.k8s.io/v1beta1.
pub const NODE_METRICS: Resource = Resource {
    plural: "nodes",
    kind: "NodeMetrics",
    namespaced: false,
    ..POD_METRICS
};

/// The routes of the metrics API.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route("/apis/metrics.k8s.io/v1beta1/pods", get(all_pods))
        .route(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
            get(namespace_pods),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}",
            get(one_pod),
        )
        .route("/apis/metrics.k8s.io/v1beta1/nodes", get(nodes))
        .route("/apis/metrics.k8s.io/v1beta1/nodes/{name}", get(one_node))
}

fn cpu(nanocores: u64) -> String {
    format!("{nanocores}n")
}

fn memory(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

fn timestamp() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// PodMetrics of the pods `keep` selects, sampled over [`WINDOW`].
async fn pod_metrics(st: &Shared, keep: impl Fn(&PodKey) -> bool) -> Result<Vec<Value>, ApiError> {
    let pods: Vec<(PodKey, Vec<(String, u32)>)> = st
        .engine
        .container_processes()
        .await?
        .into_iter()
        .filter(|(k, pids)| keep(k) && !pids.is_empty())
        .collect();
    let roots: Vec<u32> = pods
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(_, p)| *p))
        .collect();
    let before = usage(&roots);
    tokio::time::sleep(WINDOW).await;
    let after = usage(&roots);
    let mut i = 0;
    let mut out = Vec::new();
    for (key, containers) in pods {
        let mut cs = Vec::new();
        for (name, _) in containers {
            let (b, a) = (before[i], after[i]);
            i += 1;
            cs.push(json!({"name": name, "usage": {
                "cpu": cpu(rate(b, a, WINDOW)), "memory": memory(a.memory_bytes)}}));
        }
        let created = st
            .engine
            .store()
            .pod(&key)
            .and_then(|p| p.metadata.creation_timestamp);
        out.push(
            json!({"metadata": {"name": key.name, "namespace": key.namespace,
                                     "creationTimestamp": created},
                        "timestamp": timestamp(), "window": "250ms", "containers": cs}),
        );
    }
    Ok(out)
}

fn pod_list(items: Vec<Value>) -> axum::response::Response {
    json_response(
        StatusCode::OK,
        &json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {}, "items": items}),
    )
}

/// `GET .../pods` (every namespace).
pub async fn all_pods(State(st): State<Shared>) -> ApiResult {
    Ok(pod_list(pod_metrics(&st, |_| true).await?))
}

/// `GET .../namespaces/{ns}/pods`.
pub async fn namespace_pods(State(st): State<Shared>, Path(ns): Path<String>) -> ApiResult {
    Ok(pod_list(pod_metrics(&st, |k| k.namespace == ns).await?))
}

/// `GET .../namespaces/{ns}/pods/{name}`: 404 for a pod that runs nothing (as metrics-server).
pub async fn one_pod(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let mut items = pod_metrics(&st, |k| k.namespace == ns && k.name == name).await?;
    let mut m = items
        .pop()
        .ok_or_else(|| ApiError::not_found("pods.metrics.k8s.io", &name))?;
    m["kind"] = json!("PodMetrics");
    m["apiVersion"] = json!("metrics.k8s.io/v1beta1");
    Ok(json_response(StatusCode::OK, &m))
}

async fn node_metrics(st: &Shared) -> Value {
    let before = node_usage();
    tokio::time::sleep(WINDOW).await;
    let after = node_usage();
    json!({"metadata": {"name": st.engine.node_name()}, "timestamp": timestamp(), "window": "250ms",
           "usage": {"cpu": cpu(rate(before, after, WINDOW)), "memory": memory(after.memory_bytes)}})
}

/// `GET .../nodes`.
pub async fn nodes(State(st): State<Shared>) -> ApiResult {
    let n = node_metrics(&st).await;
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {}, "items": [n]}),
    ))
}

/// `GET .../nodes/{name}`.
pub async fn one_node(State(st): State<Shared>, Path(name): Path<String>) -> ApiResult {
    if name != st.engine.node_name() {
        return Err(ApiError::not_found("nodes.metrics.k8s.io", &name));
    }
    let mut n = node_metrics(&st).await;
    n["kind"] = json!("NodeMetrics");
    n["apiVersion"] = json!("metrics.k8s.io/v1beta1");
    Ok(json_response(StatusCode::OK, &n))
}
