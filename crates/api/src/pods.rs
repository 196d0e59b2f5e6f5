//! Pods, their logs, events and namespaces: the REST handlers (mirrors the apiserver's pod
//! registry strategy for create/delete/patch and `kubelet`'s log endpoint as proxied by it).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use k8s_openapi::api::core::v1::{Event, Pod};
use podvisor_engine::runtime::Runtime;
use podvisor_engine::store::{StoreChange, TooOld};
use podvisor_engine::EngineError;
use podvisor_lifecycle::intake::{build_plan, parse, IntakeError};
use podvisor_lifecycle::plan::PodKey;
use serde_json::{json, Value};

use crate::table::{event_table, pod_table, pod_table_row};
use crate::{wants_table, ApiError, Shared, MAX_BODY};

type Params = Query<HashMap<String, String>>;

fn json_response(code: StatusCode, v: &Value) -> Response {
    (code, [("content-type", "application/json")], v.to_string()).into_response()
}

fn obj<T: serde::Serialize>(code: StatusCode, v: &T) -> Response {
    json_response(code, &serde_json::to_value(v).unwrap_or(Value::Null))
}

const NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// The namespaces: the four every cluster has, the ones created through the API, and any a
/// pod lives in (static pods, pods recovered from an older store).
fn namespaces<R: Runtime>(st: &Shared<R>) -> Vec<String> {
    let mut ns: Vec<String> = NAMESPACES.iter().map(|s| s.to_string()).collect();
    let created = st.engine.store().objects("Namespace", None);
    let names = created
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .chain(
            st.engine
                .store()
                .pods()
                .into_iter()
                .filter_map(|p| p.metadata.namespace),
        );
    for n in names {
        if !ns.contains(&n) {
            ns.push(n);
        }
    }
    ns.sort();
    ns
}

/// 415 for bodies that are not JSON (kubectl's generators send protobuf, which podvisor does
/// not decode: the command then fails cleanly, as kubectl-api.md §4 describes).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if ct.starts_with("application/json") || ct.starts_with("application/yaml") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(ct))
    }
}

/// 404 `namespaces "x" not found` for writes into a namespace that does not exist.
pub fn require_namespace<R: Runtime>(st: &Shared<R>, ns: &str) -> Result<(), ApiError> {
    if namespaces(st).iter().any(|n| n == ns) {
        Ok(())
    } else {
        Err(ApiError::not_found("namespaces", ns))
    }
}

fn namespace_object(name: &str) -> Value {
    json!({"kind": "Namespace", "apiVersion": "v1",
           "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// `GET /api/v1/namespaces`.
pub async fn list_namespaces<R: Runtime>(State(st): State<Shared<R>>) -> Response {
    let items: Vec<Value> = namespaces(&st)
        .iter()
        .map(|n| {
            st.engine
                .store()
                .object("Namespace", "", n)
                .unwrap_or_else(|| namespace_object(n))
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": st.engine.store().resource_version().to_string()}, "items": items}),
    )
}

/// `GET /api/v1/namespaces/{ns}`.
pub async fn get_namespace<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
) -> Response {
    if namespaces(&st).contains(&ns) {
        json_response(
            StatusCode::OK,
            &st.engine
                .store()
                .object("Namespace", "", &ns)
                .unwrap_or_else(|| namespace_object(&ns)),
        )
    } else {
        ApiError::not_found("namespaces", &ns).into_response()
    }
}

/// `POST /api/v1/namespaces`.
pub async fn create_namespace<R: Runtime>(
    State(st): State<Shared<R>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = require_json(&headers) {
        return e.into_response();
    }
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return ApiError::bad_request(format!("decoding Namespace: {e}")).into_response(),
    };
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid {
        return ApiError::invalid("Namespace", &name, &[format!("metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")]).into_response();
    }
    if namespaces(&st).contains(&name) {
        return ApiError::already_exists("namespaces", &name).into_response();
    }
    let mut o = namespace_object(&name);
    o["metadata"]["uid"] = json!(new_uid());
    o["metadata"]["creationTimestamp"] = json!(jiff::Timestamp::from_second(
        jiff::Timestamp::now().as_second()
    )
    .unwrap_or(jiff::Timestamp::now())
    .to_string());
    if let Some(labels) = v["metadata"]["labels"].as_object() {
        for (k, l) in labels {
            o["metadata"]["labels"][k] = l.clone();
        }
    }
    let stored = st.engine.store().put_object("Namespace", "", &name, o);
    json_response(StatusCode::CREATED, &stored)
}

/// `PATCH /api/v1/namespaces/{ns}`: labels and annotations (a Namespace has nothing else
/// podvisor acts on).
pub async fn patch_namespace<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let patch: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return ApiError::bad_request(format!("invalid patch: {e}")).into_response(),
    };
    let Some(mut o) = st.engine.store().object("Namespace", "", &ns) else {
        return ApiError::not_found("namespaces", &ns).into_response();
    };
    for k in ["labels", "annotations"] {
        if let Some(v) = patch["metadata"].get(k) {
            merge(&mut o["metadata"][k], v);
        }
    }
    let stored = st.engine.store().put_object("Namespace", "", &ns, o);
    json_response(StatusCode::OK, &stored)
}

/// `DELETE /api/v1/namespaces/{ns}`: deletes the namespace's pods, ConfigMaps and Secrets.
pub async fn delete_namespace<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
) -> Response {
    if NAMESPACES.contains(&ns.as_str()) {
        return ApiError::forbidden("namespaces", &ns, "this namespace may not be deleted")
            .into_response();
    }
    let Some(o) = st.engine.store().object("Namespace", "", &ns) else {
        return ApiError::not_found("namespaces", &ns).into_response();
    };
    for key in st.engine.keys().into_iter().filter(|k| k.namespace == ns) {
        let _ = st.engine.delete(&key, None);
    }
    for kind in ["ConfigMap", "Secret"] {
        for obj in st.engine.store().objects(kind, Some(&ns)) {
            if let Some(n) = obj["metadata"]["name"].as_str() {
                st.engine.store().delete_object(kind, &ns, n);
            }
        }
    }
    st.engine.store().delete_object("Namespace", "", &ns);
    json_response(StatusCode::OK, &o)
}

/// A parsed `fieldSelector` / `labelSelector` of equality terms.
#[derive(Debug, Default, Clone)]
struct Selector {
    fields: Vec<(String, String, bool)>,
    labels: Vec<(String, String, bool)>,
}

fn parse_terms(s: &str) -> Vec<(String, String, bool)> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .filter_map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Some((k.trim().to_string(), v.trim().to_string(), false))
            } else {
                let (k, v) = t.split_once("==").or_else(|| t.split_once('='))?;
                Some((k.trim().to_string(), v.trim().to_string(), true))
            }
        })
        .collect()
}

impl Selector {
    fn from(q: &HashMap<String, String>, supported: &[&str]) -> Result<Self, ApiError> {
        let fields = parse_terms(q.get("fieldSelector").map_or("", String::as_str));
        for (k, _, _) in &fields {
            if !supported.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
        }
        Ok(Selector {
            fields,
            labels: parse_terms(q.get("labelSelector").map_or("", String::as_str)),
        })
    }

    fn matches(
        &self,
        field: impl Fn(&str) -> Option<String>,
        labels: &Option<BTreeMap<String, String>>,
    ) -> bool {
        self.fields
            .iter()
            .all(|(k, v, eq)| (field(k).as_deref() == Some(v.as_str())) == *eq)
            && self.labels.iter().all(|(k, v, eq)| {
                (labels.as_ref().and_then(|l| l.get(k)).map(String::as_str) == Some(v.as_str()))
                    == *eq
            })
    }
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

fn with_kind(mut v: Value, kind: &str) -> Value {
    v["kind"] = json!(kind);
    v["apiVersion"] = json!("v1");
    v
}

async fn list_pods<R: Runtime>(
    st: Shared<R>,
    ns: Option<String>,
    q: HashMap<String, String>,
    headers: HeaderMap,
) -> Response {
    let mut sel = match Selector::from(&q, POD_FIELDS) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if let Some(ns) = &ns {
        sel.fields
            .push(("metadata.namespace".into(), ns.clone(), true));
    }
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch_pods(st, sel, &q, wants_table(&headers));
    }
    let (pods, rv) = st.engine.store().list_pods();
    let pods: Vec<Pod> = pods
        .into_iter()
        .filter(|p| sel.matches(|k| pod_field(p, k), &p.metadata.labels))
        .collect();
    if wants_table(&headers) {
        return json_response(StatusCode::OK, &pod_table(&pods, rv, true));
    }
    let items: Vec<Value> = pods
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
    )
}

/// `GET /api/v1/pods` (all namespaces).
pub async fn list_all<R: Runtime>(
    State(st): State<Shared<R>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    list_pods(st, None, q, headers).await
}

/// `GET /api/v1/namespaces/{ns}/pods` (list or watch).
pub async fn list<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    list_pods(st, Some(ns), q, headers).await
}

fn watch_event(kind: &str, pod: &Pod, table: bool, headers: bool) -> Bytes {
    let object = if table {
        let mut t = pod_table(std::slice::from_ref(pod), 0, headers);
        t["metadata"]["resourceVersion"] = json!(pod.metadata.resource_version);
        t["rows"] = json!([pod_table_row(pod)]);
        t
    } else {
        serde_json::to_value(pod).unwrap_or(Value::Null)
    };
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn watch_pods<R: Runtime>(
    st: Shared<R>,
    sel: Selector,
    q: &HashMap<String, String>,
    table: bool,
) -> Response {
    let store = st.engine.store().clone();
    let requested: u64 = q
        .get("resourceVersion")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let mut initial: VecDeque<(String, Pod)> = VecDeque::new();
    let since = if requested == 0 {
        let (pods, rv) = store.list_pods();
        initial.extend(pods.into_iter().map(|p| ("ADDED".to_string(), p)));
        rv
    } else {
        requested
    };
    let (backlog, rx) = match store.watch_pods_since(since) {
        Ok(x) => x,
        Err(TooOld { requested, oldest }) => {
            return ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
                .into_response();
        }
    };
    initial.extend(backlog.into_iter().map(|c| (c.kind.to_string(), c.pod)));
    let deadline = watch_deadline(q);
    let state = (initial, rx, sel, true, deadline);
    let s = stream::unfold(
        state,
        move |(mut initial, mut rx, sel, mut first, deadline)| async move {
            loop {
                if let Some((kind, pod)) = initial.pop_front() {
                    if sel.matches(|k| pod_field(&pod, k), &pod.metadata.labels) {
                        let b = watch_event(&kind, &pod, table, first);
                        first = false;
                        return Some((
                            Ok::<_, std::io::Error>(b),
                            (initial, rx, sel, first, deadline),
                        ));
                    }
                    continue;
                }
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                        None => Some(rx.recv().await),
                    }
                };
                match next.await {
                    None => return None,
                    Some(Ok(StoreChange::Pod(c))) => initial.push_back((c.kind.to_string(), c.pod)),
                    Some(Ok(_)) => {}
                    Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                        let status = ApiError::gone("watch fell behind; re-list").to_status();
                        let mut line = json!({"type": "ERROR", "object": status}).to_string();
                        line.push('\n');
                        return Some((
                            Ok(Bytes::from(line)),
                            (
                                VecDeque::new(),
                                rx,
                                sel,
                                first,
                                Some(tokio::time::Instant::now()),
                            ),
                        ));
                    }
                    Some(Err(_)) => return None,
                }
            }
        },
    );
    stream_response("application/json", s)
}

/// A 200 response streaming `s` (watch events, followed logs), flushed chunk by chunk.
fn stream_response<S>(content_type: &'static str, s: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    ([("content-type", content_type)], Body::from_stream(s)).into_response()
}

/// When a watch with `timeoutSeconds` ends.
fn watch_deadline(q: &HashMap<String, String>) -> Option<tokio::time::Instant> {
    q.get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s))
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}`.
pub async fn get_one<R: Runtime>(
    State(st): State<Shared<R>>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = PodKey {
        namespace: ns,
        name: name.clone(),
    };
    match st.engine.store().pod(&key) {
        Some(p) if wants_table(&headers) => {
            let rv = st.engine.store().resource_version();
            json_response(StatusCode::OK, &pod_table(&[p], rv, true))
        }
        Some(p) => json_response(
            StatusCode::OK,
            &with_kind(serde_json::to_value(&p).unwrap_or(Value::Null), "Pod"),
        ),
        None => ApiError::not_found("pods", &name).into_response(),
    }
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))
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
    let warnings: Vec<String> = intake
        .warnings
        .iter()
        .map(|w| {
            w.split_once("document 1: ")
                .map_or(w.clone(), |(_, rest)| rest.to_string())
        })
        .collect();
    if q.get("fieldValidation").map(String::as_str) == Some("Strict") && !warnings.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            warnings.join(", ")
        )));
    }
    let pod = intake
        .pods
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::bad_request("the request body is not a v1 Pod"))?;
    Ok((pod, warnings))
}

/// `POST /api/v1/namespaces/{ns}/pods`.
pub async fn create<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (mut pod, warnings) = match decode_pod(&headers, &bytes, &q) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match pod.metadata.namespace.as_deref() {
        Some(n) if n != ns && n != "default" => return ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )
        .into_response(),
        _ => pod.metadata.namespace = Some(ns.clone()),
    }
    if let Err(e) = require_namespace(&st, &ns) {
        return e.into_response();
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let key = PodKey {
        namespace: ns,
        name: name.clone(),
    };
    pod.metadata.uid = Some(new_uid());
    pod.metadata.resource_version = None;
    pod.status = None;
    let plan = match build_plan(pod) {
        Ok(p) => p,
        Err(IntakeError::Invalid { pod, errors }) => {
            return ApiError::invalid("Pod", &pod, &errors).into_response()
        }
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    };
    if st.engine.store().pod(&key).is_some() {
        return ApiError::already_exists("pods", &name).into_response();
    }
    if q.contains_key("dryRun") {
        return obj(StatusCode::CREATED, &plan.pod);
    }
    match st.engine.apply(plan) {
        Ok(()) => {}
        Err(EngineError::AlreadyExists(_)) => {
            return ApiError::already_exists("pods", &name).into_response()
        }
        Err(e) => return ApiError::bad_request(e.to_string()).into_response(),
    }
    let stored = st.engine.store().pod(&key);
    let mut resp = json_response(
        StatusCode::CREATED,
        &with_kind(serde_json::to_value(&stored).unwrap_or(Value::Null), "Pod"),
    );
    for w in warnings {
        if let Ok(v) = format!("299 - \"{}\"", w.replace('"', "'")).parse() {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// `DELETE /api/v1/namespaces/{ns}/pods/{name}`.
pub async fn delete<R: Runtime>(
    State(st): State<Shared<R>>,
    Path((ns, name)): Path<(String, String)>,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let options: Value = if bytes.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return ApiError::bad_request(format!("invalid DeleteOptions: {e}")).into_response()
            }
        }
    };
    let grace = options.get("gracePeriodSeconds").and_then(Value::as_i64);
    let key = PodKey {
        namespace: ns,
        name: name.clone(),
    };
    let Some(mut pod) = st.engine.store().pod(&key) else {
        return ApiError::not_found("pods", &name).into_response();
    };
    if let Err(e) = st.engine.delete(&key, grace) {
        return match e {
            // A record only (a terminal pod from before a restart): nothing runs, remove it.
            EngineError::NotFound(_) => match st.engine.store().delete_pod(&key) {
                Some(p) => json_response(
                    StatusCode::OK,
                    &with_kind(serde_json::to_value(&p).unwrap_or(Value::Null), "Pod"),
                ),
                None => ApiError::not_found("pods", &name).into_response(),
            },
            other => ApiError::bad_request(other.to_string()).into_response(),
        };
    }
    // The response carries the deletion metadata the worker is about to publish.
    let spec_grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let g = grace.unwrap_or(spec_grace).max(0);
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(g))
        .unwrap_or(jiff::Timestamp::now());
    pod.metadata
        .deletion_timestamp
        .get_or_insert(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at));
    pod.metadata.deletion_grace_period_seconds.get_or_insert(g);
    json_response(
        StatusCode::OK,
        &with_kind(serde_json::to_value(&pod).unwrap_or(Value::Null), "Pod"),
    )
}

/// RFC 7386 merge (shared by every PATCH handler), ignoring strategic-merge directives (`$patch`, `$setElementOrder/...`).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// `PATCH /api/v1/namespaces/{ns}/pods/{name}`: labels and annotations may change; the rest of a
/// pod is immutable here (the apiserver allows only image changes, which podvisor cannot honour
/// without images), so any spec change is rejected as the apiserver would.
pub async fn patch<R: Runtime>(
    State(st): State<Shared<R>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let apply = ct.starts_with("application/apply-patch+yaml");
    if !(ct.starts_with("application/strategic-merge-patch+json")
        || ct.starts_with("application/merge-patch+json")
        || ct.starts_with("application/json-patch+json")
        || apply)
    {
        return ApiError::unsupported_media_type(&ct).into_response();
    }
    let patch: Value = if apply {
        match std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
        {
            Some(v) => v,
            None => {
                return ApiError::bad_request("invalid apply configuration: not YAML or JSON")
                    .into_response()
            }
        }
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return ApiError::bad_request(format!("invalid patch: {e}")).into_response(),
        }
    };
    // Server-side apply of a missing object creates it (upsert).
    if apply
        && st
            .engine
            .store()
            .pod(&PodKey {
                namespace: ns.clone(),
                name: name.clone(),
            })
            .is_none()
    {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/json"),
        );
        let mut q = q.clone();
        q.remove("fieldValidation");
        return create(
            State(st),
            Path(ns),
            Query(q),
            h,
            Body::from(patch.to_string()),
        )
        .await;
    }
    let key = PodKey {
        namespace: ns,
        name: name.clone(),
    };
    let Some(pod) = st.engine.store().pod(&key) else {
        return ApiError::not_found("pods", &name).into_response();
    };
    let before = serde_json::to_value(&pod).unwrap_or(Value::Null);
    let mut after = before.clone();
    if ct.starts_with("application/json-patch+json") {
        let ops: json_patch::Patch = match serde_json::from_value(patch.clone()) {
            Ok(p) => p,
            Err(e) => {
                return ApiError::bad_request(format!("invalid JSON patch: {e}")).into_response()
            }
        };
        if let Err(e) = json_patch::patch(&mut after, &ops) {
            return ApiError::invalid("Pod", &name, &[format!("patch: Invalid value: {e}")])
                .into_response();
        }
    } else if apply {
        // The applied configuration, defaulted, must describe the same spec.
        let mut applied = patch.clone();
        applied["metadata"]["uid"] = before["metadata"]["uid"].clone();
        applied["metadata"]["namespace"] = json!(key.namespace);
        match serde_json::from_value::<Pod>(applied.clone())
            .map_err(|e| e.to_string())
            .and_then(|p| build_plan(p).map_err(|e| e.to_string()))
        {
            Ok(plan) => {
                let mut spec = serde_json::to_value(&plan.pod.spec).unwrap_or(Value::Null);
                spec["nodeName"] = before["spec"]["nodeName"].clone();
                after["spec"] = spec;
            }
            Err(e) => return ApiError::bad_request(e).into_response(),
        }
        for k in ["labels", "annotations"] {
            if let Some(v) = applied["metadata"].get(k) {
                merge(&mut after["metadata"][k], v);
            }
        }
    } else if ct.starts_with("application/strategic-merge-patch+json") {
        crate::smp::apply(&mut after, &patch);
    } else {
        merge(&mut after, &patch);
    }
    if after.get("spec") != before.get("spec") {
        return ApiError::invalid("Pod", &name, &["spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative) (podvisor: delete and re-create the pod to change it)".to_string()]).into_response();
    }
    let meta = |k: &str| -> Option<BTreeMap<String, String>> {
        serde_json::from_value(after["metadata"][k].clone()).ok()
    };
    let (labels, annotations) = (meta("labels"), meta("annotations"));
    if let Err(e) = st
        .engine
        .update_metadata(&key, labels.clone(), annotations.clone())
    {
        return ApiError::not_found("pods", &e.to_string()).into_response();
    }
    // The worker publishes on its next turn; answer with the patched object.
    let mut out = pod;
    out.metadata.labels = labels;
    out.metadata.annotations = annotations;
    for _ in 0..50 {
        if let Some(p) = st.engine.store().pod(&key) {
            if p.metadata.labels == out.metadata.labels
                && p.metadata.annotations == out.metadata.annotations
            {
                out = p;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    json_response(
        StatusCode::OK,
        &with_kind(serde_json::to_value(&out).unwrap_or(Value::Null), "Pod"),
    )
}

/// A new uid (version 4 layout).
pub fn new_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(jiff::Timestamp::now().as_nanosecond().unsigned_abs());
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    let b = h2.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn container_restart(pod: &Pod, container: &str) -> Option<(i32, bool)> {
    let st = pod.status.as_ref()?;
    st.container_statuses
        .iter()
        .flatten()
        .chain(st.init_container_statuses.iter().flatten())
        .find(|s| s.name == container)
        .map(|s| {
            (
                s.restart_count,
                s.state.as_ref().is_some_and(|x| x.running.is_some()),
            )
        })
}

fn tail_lines(data: &[u8], n: usize) -> &[u8] {
    let mut count = 0;
    let end = if data.ends_with(b"\n") {
        data.len() - 1
    } else {
        data.len()
    };
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            count += 1;
            if count == n {
                return &data[i + 1..];
            }
        }
    }
    data
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub async fn log<R: Runtime>(
    State(st): State<Shared<R>>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let key = PodKey {
        namespace: ns.clone(),
        name: name.clone(),
    };
    let Some(pod) = st.engine.store().pod(&key) else {
        return ApiError::not_found("pods", &name).into_response();
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let all: Vec<String> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    let container = match q.get("container") {
        Some(c) if all.contains(c) => c.clone(),
        Some(c) => {
            return ApiError::bad_request(format!("container {c} is not valid for pod {name}"))
                .into_response()
        }
        None if spec.containers.len() == 1 => spec.containers[0].name.clone(),
        None => {
            return ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))
            .into_response()
        }
    };
    let previous = q.get("previous").is_some_and(|v| v == "true");
    let Some((restarts, running)) = container_restart(&pod, &container) else {
        return ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        ))
        .into_response();
    };
    let instance = if previous { restarts - 1 } else { restarts };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let path: PathBuf = st
        .engine
        .log_dir(&ns, &name, &uid)
        .join(&container)
        .join(format!("{instance}.log"));
    if instance < 0 || !path.exists() {
        if previous {
            return ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ))
            .into_response();
        }
        return ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        ))
        .into_response();
    }
    let mut data = std::fs::read(&path).unwrap_or_default();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        data = tail_lines(&data, n).to_vec();
    }
    if let Some(limit) = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        data.truncate(limit);
    }
    let follow = q.get("follow").is_some_and(|v| v == "true") && !previous && running;
    if !follow {
        return (StatusCode::OK, [("content-type", "text/plain")], data).into_response();
    }
    let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let store = st.engine.store().clone();
    let first = Bytes::from(data);
    let s = stream::unfold(
        (Some(first), offset, false),
        move |(first, mut offset, done)| {
            let path = path.clone();
            let store = store.clone();
            let key = key.clone();
            let container = container.clone();
            async move {
                if let Some(b) = first {
                    return Some((Ok::<_, std::io::Error>(b), (None, offset, done)));
                }
                if done {
                    return None;
                }
                loop {
                    let mut buf = Vec::new();
                    if let Ok(mut f) = std::fs::File::open(&path) {
                        if f.seek(SeekFrom::Start(offset)).is_ok() {
                            let _ = f.read_to_end(&mut buf);
                        }
                    }
                    let still_running = store
                        .pod(&key)
                        .and_then(|p| container_restart(&p, &container))
                        .is_some_and(|(r, run)| r == instance && run);
                    if !buf.is_empty() {
                        offset += buf.len() as u64;
                        return Some((Ok(Bytes::from(buf)), (None, offset, !still_running)));
                    }
                    if !still_running {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        },
    );
    stream_response("text/plain", s)
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "involvedObject.kind",
    "involvedObject.apiVersion",
    "involvedObject.fieldPath",
    "reason",
    "type",
    "metadata.namespace",
    "metadata.name",
];

fn event_field(e: &Event, k: &str) -> Option<String> {
    let o = &e.involved_object;
    match k {
        "involvedObject.name" => o.name.clone(),
        "involvedObject.namespace" => o.namespace.clone(),
        "involvedObject.uid" => o.uid.clone(),
        "involvedObject.kind" => o.kind.clone(),
        "involvedObject.apiVersion" => o.api_version.clone(),
        "involvedObject.fieldPath" => o.field_path.clone(),
        "reason" => e.reason.clone(),
        "type" => e.type_.clone(),
        "metadata.namespace" => e.metadata.namespace.clone(),
        "metadata.name" => e.metadata.name.clone(),
        _ => None,
    }
}

fn list_events<R: Runtime>(
    st: &Shared<R>,
    ns: Option<String>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let mut sel = match Selector::from(q, EVENT_FIELDS) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if let Some(ns) = ns {
        sel.fields.push(("metadata.namespace".into(), ns, true));
    }
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch_events(st, sel, q, wants_table(headers));
    }
    let events: Vec<Event> = st
        .engine
        .store()
        .events()
        .into_iter()
        .filter(|e| sel.matches(|k| event_field(e, k), &e.metadata.labels))
        .collect();
    if wants_table(headers) {
        return json_response(StatusCode::OK, &event_table(&events));
    }
    let items: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": st.engine.store().resource_version().to_string()}, "items": items}),
    )
}

/// Events as they are recorded (no resume from an older resourceVersion: events are not kept
/// in the watch history; a watch from 0 starts with every current event as `ADDED`).
fn watch_events<R: Runtime>(
    st: &Shared<R>,
    sel: Selector,
    q: &HashMap<String, String>,
    table: bool,
) -> Response {
    let store = st.engine.store().clone();
    let rx = store.subscribe();
    let requested: u64 = q
        .get("resourceVersion")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let initial: VecDeque<Event> = if requested == 0 {
        store.events().into()
    } else {
        VecDeque::new()
    };
    let deadline = watch_deadline(q);
    let render = move |e: &Event, first: bool| -> Bytes {
        let object = if table {
            let mut t = event_table(std::slice::from_ref(e));
            if !first {
                t["columnDefinitions"] = json!([]);
            }
            t
        } else {
            with_kind(serde_json::to_value(e).unwrap_or(Value::Null), "Event")
        };
        let kind = if e.count.unwrap_or(1) > 1 {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        Bytes::from(line)
    };
    let s = stream::unfold(
        (initial, rx, true),
        move |(mut initial, mut rx, mut first)| {
            let sel = sel.clone();
            async move {
                loop {
                    if let Some(e) = initial.pop_front() {
                        if sel.matches(|k| event_field(&e, k), &e.metadata.labels) {
                            let b = render(&e, first);
                            first = false;
                            return Some((Ok::<_, std::io::Error>(b), (initial, rx, first)));
                        }
                        continue;
                    }
                    let next = match deadline {
                        Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                        None => Some(rx.recv().await),
                    };
                    match next {
                        None | Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                            return None
                        }
                        Some(Ok(StoreChange::Event(e))) => initial.push_back(*e),
                        Some(_) => {}
                    }
                }
            }
        },
    );
    stream_response("application/json", s)
}

/// `GET /api/v1/events`.
pub async fn events_all<R: Runtime>(
    State(st): State<Shared<R>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    list_events(&st, None, &q, &headers)
}

/// `GET /api/v1/namespaces/{ns}/events`.
pub async fn events<R: Runtime>(
    State(st): State<Shared<R>>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    list_events(&st, Some(ns), &q, &headers)
}
