//! Nodes: the one Node of this machine, read-only (`get nodes`, `describe node`), with the
//! columns `kubectl get nodes` prints (the apiserver's node registry and printers.go
//! `printNode`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use k8s_openapi::api::core::v1::Node;
use serde_json::{json, Value};

use crate::http::{json_response, list_response, object_response, wants_table, ApiResult};
use crate::resource::{schema, Resource};
use crate::table::{age, column, row_object};
use crate::{ApiError, Shared};

/// `nodes` in the core group.
pub const RESOURCE: Resource = Resource {
    group: "",
    version: "v1",
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    verbs: &["get", "list"],
    short_names: &["no"],
    categories: &[],
    subresources: &[("status", "Node", &["get"])],
    schema: Some(schema::<k8s_openapi::api::core::v1::Node>),
};

/// `leases` (coordination.k8s.io/v1): the node's heartbeat lease in `kube-node-lease`.
pub const LEASES: Resource = Resource {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    namespaced: true,
    verbs: &["get"],
    short_names: &[],
    categories: &[],
    subresources: &[],
    schema: None,
};

/// The routes of nodes and of the node's lease.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}",
            get(lease),
        )
        .route("/api/v1/nodes", get(list))
        .route("/api/v1/nodes/{name}", get(get_one))
        .route("/api/v1/nodes/{name}/status", get(get_one))
}

fn table(nodes: &[Node], rv: u64) -> Value {
    let columns = json!([
        column("Name", "string", "name", 0),
        column("Status", "string", "", 0),
        column("Roles", "string", "", 0),
        column("Age", "string", "", 0),
        column("Version", "string", "", 0),
        column("Internal-IP", "string", "", 1),
        column("External-IP", "string", "", 1),
        column("OS-Image", "string", "", 1),
        column("Kernel-Version", "string", "", 1),
        column("Container-Runtime", "string", "", 1),
    ]);
    let rows: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let st = n.status.clone().unwrap_or_default();
            let ready = st
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .map_or("Unknown", |c| if c.status == "True" { "Ready" } else { "NotReady" });
            let ip = st
                .addresses
                .iter()
                .flatten()
                .find(|a| a.type_ == "InternalIP")
                .map_or("<none>".to_string(), |a| a.address.clone());
            let info = st.node_info.clone().unwrap_or_default();
            json!({
                "cells": [n.metadata.name, ready, "<none>", age(n.metadata.creation_timestamp.as_ref()),
                          info.kubelet_version, ip, "<none>", info.os_image, info.kernel_version,
                          info.container_runtime_version],
                "object": row_object(&n.metadata),
            })
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": rv.to_string()},
           "columnDefinitions": columns, "rows": rows})
}

/// `GET /api/v1/nodes`.
pub async fn list(State(st): State<Shared>, headers: HeaderMap) -> ApiResult {
    let rv = st.engine.store().resource_version();
    let nodes = vec![st.engine.node()];
    if wants_table(&headers) {
        return Ok(json_response(StatusCode::OK, &table(&nodes, rv)));
    }
    let items = nodes
        .iter()
        .map(|n| serde_json::to_value(n).unwrap_or(Value::Null))
        .collect();
    Ok(list_response("NodeList", "v1", items, rv))
}

/// `GET /api/v1/nodes/{name}`.
pub async fn get_one(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    if name != st.engine.node_name() {
        return Err(ApiError::not_found("nodes", &name));
    }
    let node = st.engine.node();
    if wants_table(&headers) {
        let rv = st.engine.store().resource_version();
        return Ok(json_response(StatusCode::OK, &table(&[node], rv)));
    }
    Ok(object_response(StatusCode::OK, "Node", "v1", &node))
}

/// `GET .../namespaces/kube-node-lease/leases/{node}`: the kubelet's node lease, renewed as
/// long as podvisor runs (`nodelease` controller: duration 40 s, renewed every 10 s).
pub async fn lease(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    if ns != "kube-node-lease" || name != st.engine.node_name() {
        return Err(ApiError::not_found("leases.coordination.k8s.io", &name));
    }
    let node = st.engine.node();
    let renew = jiff::Timestamp::now();
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": name, "namespace": ns,
                             "creationTimestamp": node.metadata.creation_timestamp,
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                  "uid": node.metadata.uid}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": renew.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}}),
    ))
}
