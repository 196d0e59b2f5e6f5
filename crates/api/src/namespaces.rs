//! Namespaces: the four built-ins, the ones created through the API and any a pod lives in;
//! create, get, list, patch (labels and annotations) and delete with everything in them (the
//! apiserver's namespace registry and the namespace controller's cascading deletion).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podvisor_engine::ids::new_uid;
use podvisor_engine::WriteMode;
use podvisor_lifecycle::meta::{is_dns1123_label, validate_object_meta};
use serde_json::{json, Value};

use crate::http::{creation_timestamp, json_body, json_response, list_response, ApiResult};
use crate::patch::merge;
use crate::resource::{schema, Resource};
use crate::{ApiError, Shared};

/// `namespaces` in the core group.
pub const RESOURCE: Resource = Resource {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    verbs: &["create", "delete", "get", "list", "patch", "update"],
    short_names: &["ns"],
    categories: &[],
    subresources: &[],
    schema: Some(schema::<k8s_openapi::api::core::v1::Namespace>),
};

/// The routes of namespaces.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/v1/namespaces", get(list).post(create))
        .route(
            "/api/v1/namespaces/{ns}",
            get(get_one).delete(delete).patch(patch).put(replace),
        )
}

/// A namespace as the API shows one that has no stored object (built-ins, pods' namespaces).
fn namespace_object(name: &str) -> Value {
    json!({"kind": "Namespace", "apiVersion": "v1",
           "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

fn stored_or_implied(st: &Shared, name: &str) -> Value {
    st.engine
        .store()
        .object("Namespace", "", name)
        .unwrap_or_else(|| namespace_object(name))
}

/// `GET /api/v1/namespaces`.
pub async fn list(State(st): State<Shared>) -> ApiResult {
    let rv = st.engine.store().resource_version();
    let items: Vec<Value> = st
        .engine
        .store()
        .namespaces()
        .iter()
        .map(|n| stored_or_implied(&st, n))
        .collect();
    Ok(list_response("NamespaceList", "v1", items, rv))
}

/// `GET /api/v1/namespaces/{ns}`.
pub async fn get_one(State(st): State<Shared>, Path(ns): Path<String>) -> ApiResult {
    if !st.engine.store().namespace_exists(&ns) {
        return Err(ApiError::not_found("namespaces", &ns));
    }
    Ok(json_response(StatusCode::OK, &stored_or_implied(&st, &ns)))
}

/// `POST /api/v1/namespaces`.
pub async fn create(State(st): State<Shared>, headers: HeaderMap, body: Body) -> ApiResult {
    let v = json_body(&headers, body, "Namespace").await?;
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // ValidateNamespace: ValidateObjectMeta with the name a DNS label, cluster-scoped.
    let meta: ObjectMeta = serde_json::from_value(v["metadata"].clone())
        .map_err(|e| ApiError::bad_request(format!("decoding Namespace: {e}")))?;
    let errors = validate_object_meta(&meta, false, is_dns1123_label, "metadata");
    if !errors.is_empty() {
        return Err(ApiError::invalid("Namespace", &name, &errors));
    }
    if st.engine.store().namespace_exists(&name) {
        return Err(ApiError::already_exists("namespaces", &name));
    }
    let mut o = namespace_object(&name);
    o["metadata"]["uid"] = json!(new_uid());
    o["metadata"]["creationTimestamp"] = creation_timestamp();
    if let Some(labels) = v["metadata"]["labels"].as_object() {
        for (k, l) in labels {
            o["metadata"]["labels"][k] = l.clone();
        }
    }
    let stored = st
        .engine
        .put_object(RESOURCE.plural, WriteMode::Create, o)
        .await?;
    Ok(json_response(StatusCode::CREATED, &stored))
}

/// `PATCH /api/v1/namespaces/{ns}`: labels and annotations (a Namespace has nothing else
/// podvisor acts on).
pub async fn patch(State(st): State<Shared>, Path(ns): Path<String>, body: Body) -> ApiResult {
    let patch = crate::patch::json_patch_body(body).await?;
    let mut o = st
        .engine
        .store()
        .object("Namespace", "", &ns)
        .ok_or_else(|| ApiError::not_found("namespaces", &ns))?;
    for k in ["labels", "annotations"] {
        if let Some(v) = patch["metadata"].get(k) {
            merge(&mut o["metadata"][k], v);
        }
    }
    let stored = st
        .engine
        .put_object(RESOURCE.plural, WriteMode::Update, o)
        .await?;
    Ok(json_response(StatusCode::OK, &stored))
}

/// `PUT /api/v1/namespaces/{ns}`: labels and annotations of the whole object (the rest is
/// the server's); a stale `metadata.resourceVersion` is a 409.
pub async fn replace(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let v = json_body(&headers, body, "Namespace").await?;
    let mut o = st
        .engine
        .store()
        .object("Namespace", "", &ns)
        .ok_or_else(|| ApiError::not_found("namespaces", &ns))?;
    let stored_rv = o["metadata"]["resourceVersion"].as_str();
    crate::http::check_resource_version(&v, stored_rv, "namespaces", &ns)?;
    for k in ["labels", "annotations"] {
        o["metadata"][k] = v["metadata"][k].clone();
    }
    o["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(ns);
    let stored = st
        .engine
        .put_object(RESOURCE.plural, WriteMode::Update, o)
        .await?;
    Ok(json_response(StatusCode::OK, &stored))
}

/// `DELETE /api/v1/namespaces/{ns}`: deletes the namespace's pods, ConfigMaps and Secrets.
pub async fn delete(State(st): State<Shared>, Path(ns): Path<String>) -> ApiResult {
    let o = st.engine.delete_namespace(&ns).await?;
    Ok(json_response(StatusCode::OK, &o))
}
