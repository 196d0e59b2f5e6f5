//! Pods: create, get, list, watch, patch and delete (the apiserver's pod registry and its
//! strategy: `pkg/registry/core/pod`), writing through the engine, whose pod workers own the
//! objects. Logs, exec, attach and port-forward are in their own modules.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use k8s_openapi::api::core::v1::Pod;
use podvisor_engine::ids::new_uid;
use podvisor_engine::store::StoreChange;
use podvisor_lifecycle::field::FieldError;
use podvisor_lifecycle::intake::{build_plan, parse, IntakeError};
use podvisor_lifecycle::plan::PodKey;
use serde_json::{json, Value};

use crate::http::{
    delete_options, json_response, key, list_response, object_response, read_body, stored_pod,
    wants_table, wants_watch, with_warnings, ApiResult, Params,
};
use crate::patch::{merge, PatchType};
use crate::resource::{schema, Resource, CRUD_UPDATE};
use crate::selectors::Selector;
use crate::table::{pod_table, pod_table_row};
use crate::watch::{watch, WatchKind};
use crate::{ApiError, Shared};

/// `pods` in the core group.
pub const RESOURCE: Resource = Resource {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    verbs: CRUD_UPDATE,
    short_names: &["po"],
    categories: &["all"],
    subresources: &[
        ("log", "Pod", &["get"]),
        ("exec", "PodExecOptions", &["create", "get"]),
        ("attach", "PodAttachOptions", &["create", "get"]),
        ("portforward", "PodPortForwardOptions", &["create", "get"]),
        ("status", "Pod", &["get"]),
    ],
    schema: Some(schema::<k8s_openapi::api::core::v1::Pod>),
};

/// The routes of pods and their subresources.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/v1/pods", get(list_all))
        .route("/api/v1/namespaces/{ns}/pods", get(list).post(create))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            get(get_one).delete(delete).patch(patch).put(replace),
        )
        .route("/api/v1/namespaces/{ns}/pods/{name}/status", get(get_one))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/log",
            get(crate::logs::log),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/exec",
            get(crate::exec::exec).post(crate::exec::exec),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/attach",
            get(crate::attach::attach).post(crate::attach::attach),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/portforward",
            get(crate::portforward::portforward).post(crate::portforward::portforward),
        )
}

fn pod_response(code: StatusCode, pod: &Pod) -> axum::response::Response {
    object_response(code, "Pod", "v1", pod)
}

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
    "spec.restartPolicy",
];

fn pod_field(p: &Pod, k: &str) -> Option<String> {
    match k {
        "metadata.name" => p.metadata.name.clone(),
        "metadata.namespace" => p.metadata.namespace.clone(),
        "spec.nodeName" => p.spec.as_ref().and_then(|s| s.node_name.clone()),
        "status.phase" => p.status.as_ref().and_then(|s| s.phase.clone()),
        "spec.restartPolicy" => p.spec.as_ref().and_then(|s| s.restart_policy.clone()),
        _ => None,
    }
}

async fn list_pods(
    st: Shared,
    ns: Option<String>,
    q: HashMap<String, String>,
    headers: HeaderMap,
) -> ApiResult {
    let sel = Selector::from(&q, POD_FIELDS)?.in_namespace(ns.as_deref());
    let table = wants_table(&headers);
    let (pods, rv) = st.engine.store().list_pods();
    let pods: Vec<Pod> = pods
        .into_iter()
        .filter(|p| sel.matches(|k| pod_field(p, k), &p.metadata.labels))
        .collect();
    if wants_watch(&q) {
        return watch(
            st.engine.store(),
            &q,
            WatchKind {
                initial: pods,
                initial_rv: rv,
                resumable: true,
                select: move |c: &StoreChange| match c {
                    StoreChange::Pod(c)
                        if sel.matches(|k| pod_field(&c.pod, k), &c.pod.metadata.labels) =>
                    {
                        Some((c.kind, c.pod.clone()))
                    }
                    _ => None,
                },
                render: move |pod: &Pod, first: bool| {
                    if table {
                        let mut t = pod_table(std::slice::from_ref(pod), 0, first);
                        t["metadata"]["resourceVersion"] = json!(pod.metadata.resource_version);
                        t["rows"] = json!([pod_table_row(pod)]);
                        t
                    } else {
                        serde_json::to_value(pod).unwrap_or(Value::Null)
                    }
                },
            },
        );
    }
    if table {
        return Ok(json_response(StatusCode::OK, &pod_table(&pods, rv, true)));
    }
    let items: Vec<Value> = pods
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    Ok(list_response("PodList", "v1", items, rv))
}

/// `GET /api/v1/pods` (all namespaces).
pub async fn list_all(State(st): State<Shared>, Query(q): Params, headers: HeaderMap) -> ApiResult {
    list_pods(st, None, q, headers).await
}

/// `GET /api/v1/namespaces/{ns}/pods` (list or watch).
pub async fn list(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult {
    list_pods(st, Some(ns), q, headers).await
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}`.
pub async fn get_one(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let pod = stored_pod(&st, &ns, &name)?;
    if wants_table(&headers) {
        let rv = st.engine.store().resource_version();
        return Ok(json_response(StatusCode::OK, &pod_table(&[pod], rv, true)));
    }
    Ok(pod_response(StatusCode::OK, &pod))
}

fn decode_pod(
    headers: &HeaderMap,
    bytes: &[u8],
    q: &HashMap<String, String>,
) -> Result<(Pod, Vec<String>), ApiError> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !(ct.starts_with("application/json")
        || ct.starts_with("application/yaml")
        || ct.starts_with("application/apply-patch+yaml"))
    {
        return Err(ApiError::unsupported_media_type(ct));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    let intake = parse(text, "request").map_err(|e| ApiError::bad_request(e.to_string()))?;
    let strip = |w: &String| {
        w.split_once("document 1: ")
            .map_or(w.clone(), |(_, rest)| rest.to_string())
    };
    let mut warnings: Vec<String> = intake.warnings.iter().map(strip).collect();
    if q.get("fieldValidation").map(String::as_str) == Some("Strict") && !warnings.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            warnings.join(", ")
        )));
    }
    // Valid fields podvisor does not honour are said (Warning headers), never refused.
    warnings.extend(intake.unsupported.iter().map(strip));
    let pod = intake
        .pods
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::bad_request("the request body is not a v1 Pod"))?;
    Ok((pod, warnings))
}

/// `POST /api/v1/namespaces/{ns}/pods`.
pub async fn create(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = read_body(body).await?;
    create_pod(&st, ns, &q, &headers, &bytes).await
}

async fn create_pod(
    st: &Shared,
    ns: String,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    bytes: &[u8],
) -> ApiResult {
    let (mut pod, warnings) = decode_pod(headers, bytes, q)?;
    match pod.metadata.namespace.as_deref() {
        Some(n) if n != ns && n != "default" => return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => pod.metadata.namespace = Some(ns.clone()),
    }
    if !st.engine.store().namespace_exists(&ns) {
        return Err(ApiError::not_found("namespaces", &ns));
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    pod.metadata.uid = Some(new_uid());
    pod.metadata.resource_version = None;
    pod.status = None;
    let plan = build_plan(pod).map_err(|e| match e {
        IntakeError::Invalid { pod, errors } => ApiError::invalid("Pod", &pod, &errors),
        e => ApiError::bad_request(e.to_string()),
    })?;
    if st.engine.store().pod(&key(&ns, &name)).is_some() {
        return Err(ApiError::already_exists("pods", &name));
    }
    if q.contains_key("dryRun") {
        return Ok(pod_response(StatusCode::CREATED, &plan.pod));
    }
    let stored = st.engine.create_pod(plan).await?;
    Ok(with_warnings(
        pod_response(StatusCode::CREATED, &stored),
        &warnings,
    ))
}

/// `DELETE /api/v1/namespaces/{ns}/pods/{name}`: answers the pod with the deletion metadata its
/// worker published, or its last state when it was removed at once.
pub async fn delete(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    body: Body,
) -> ApiResult {
    let options = delete_options(&read_body(body).await?)?;
    let grace = options.get("gracePeriodSeconds").and_then(Value::as_i64);
    let pod = st.engine.delete_pod(&key(&ns, &name), grace).await?;
    Ok(pod_response(StatusCode::OK, &pod))
}

/// `PATCH /api/v1/namespaces/{ns}/pods/{name}`: labels and annotations may change; the rest of a
/// pod is immutable here (the apiserver allows only image changes, which podvisor cannot honour
/// without images), so any spec change is rejected as the apiserver would.
pub async fn patch(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = read_body(body).await?;
    let pt = PatchType::of(&headers)?;
    let patch = pt.decode(&bytes)?;
    let key = key(&ns, &name);
    let Some(pod) = st.engine.store().pod(&key) else {
        if pt == PatchType::Apply {
            // Server-side apply of a missing object creates it (upsert).
            let mut h = HeaderMap::new();
            h.insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/json"),
            );
            let mut q = q.clone();
            q.remove("fieldValidation");
            return create_pod(&st, ns, &q, &h, patch.to_string().as_bytes()).await;
        }
        return Err(ApiError::not_found("pods", &name));
    };
    if pt != PatchType::Json {
        let stored_rv = pod.metadata.resource_version.as_deref();
        crate::http::check_resource_version(&patch, stored_rv, "pods", &name)?;
    }
    let before = serde_json::to_value(&pod).unwrap_or(Value::Null);
    let mut after = before.clone();
    if pt == PatchType::Apply {
        // The applied configuration, defaulted, must describe the same spec.
        after["spec"] = defaulted_spec(&patch, &before, &key)?;
        for k in ["labels", "annotations"] {
            if let Some(v) = patch["metadata"].get(k) {
                merge(&mut after["metadata"][k], v);
            }
        }
    } else {
        pt.apply(&mut after, &patch, "Pod", &name)?;
    }
    update_pod(&st, &key, &before, &after).await
}

/// The spec of a client's whole pod (`PUT`, server-side apply) after the apiserver's
/// defaulting, with the node it runs on, to compare with the stored one.
fn defaulted_spec(object: &Value, before: &Value, key: &PodKey) -> Result<Value, ApiError> {
    let mut object = object.clone();
    object["metadata"]["uid"] = before["metadata"]["uid"].clone();
    object["metadata"]["namespace"] = json!(key.namespace);
    object["status"] = Value::Null;
    let plan = serde_json::from_value::<Pod>(object)
        .map_err(|e| e.to_string())
        .and_then(|p| build_plan(p).map_err(|e| e.to_string()))
        .map_err(ApiError::bad_request)?;
    let mut spec = serde_json::to_value(&plan.pod.spec).unwrap_or(Value::Null);
    spec["nodeName"] = before["spec"]["nodeName"].clone();
    Ok(spec)
}

/// Whether two specs differ only in container images.
fn only_images_differ(before: &Value, after: &Value) -> bool {
    let strip = |spec: &Value| {
        let mut spec = spec.clone();
        for list in ["containers", "initContainers"] {
            if let Some(cs) = spec[list].as_array_mut() {
                for c in cs {
                    c["image"] = Value::Null;
                }
            }
        }
        spec
    };
    strip(before) == strip(after)
}

/// Writes a changed pod: labels and annotations may change; the spec may not (the apiserver
/// allows image changes, which podvisor cannot honour: it has no images).
async fn update_pod(st: &Shared, key: &PodKey, before: &Value, after: &Value) -> ApiResult {
    let name = &key.name;
    if after.get("spec") != before.get("spec") {
        let cause = if only_images_differ(&before["spec"], &after["spec"]) {
            FieldError::forbidden(
                "spec.containers[*].image",
                "podvisor runs every container on the host's root filesystem instead of an image, so it cannot change a running pod's image: delete and re-create the pod",
            )
        } else {
            FieldError::forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
        };
        return Err(ApiError::invalid("Pod", name, &[cause]));
    }
    let meta = |k: &str| -> Option<BTreeMap<String, String>> {
        serde_json::from_value(after["metadata"][k].clone()).ok()
    };
    let stored = st
        .engine
        .update_pod_metadata(key, meta("labels"), meta("annotations"))
        .await?;
    Ok(pod_response(StatusCode::OK, &stored))
}

/// `PUT /api/v1/namespaces/{ns}/pods/{name}` (`kubectl replace`, `kubectl edit`): the whole
/// object; a stale `metadata.resourceVersion` is a 409, and the spec may not change.
pub async fn replace(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let object = crate::http::json_body(&headers, body, "Pod").await?;
    let key = key(&ns, &name);
    let pod = stored_pod(&st, &ns, &name)?;
    if object["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    crate::http::check_resource_version(
        &object,
        pod.metadata.resource_version.as_deref(),
        "pods",
        &name,
    )?;
    let before = serde_json::to_value(&pod).unwrap_or(Value::Null);
    let mut after = before.clone();
    after["spec"] = defaulted_spec(&object, &before, &key)?;
    for k in ["labels", "annotations"] {
        after["metadata"][k] = object["metadata"][k].clone();
    }
    update_pod(&st, &key, &before, &after).await
}
