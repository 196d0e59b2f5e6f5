//! The request and response plumbing every resource handler shares: JSON bodies, the body
//! size limit, content types, warnings, streaming responses (the apiserver's
//! `handlers/responsewriters` and `handlers/rest.go` request decoding, reduced to JSON).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{ApiError, MAX_BODY};

/// Query parameters.
pub type Params = Query<HashMap<String, String>>;

/// What a handler returns.
pub type ApiResult = Result<Response, ApiError>;

/// A JSON response.
pub fn json_response(code: StatusCode, v: &Value) -> Response {
    (code, [("content-type", "application/json")], v.to_string()).into_response()
}

/// A typed object as a JSON response, with its `kind` and `apiVersion` set.
pub fn object_response<T: serde::Serialize>(
    code: StatusCode,
    kind: &str,
    api_version: &str,
    v: &T,
) -> Response {
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    v["kind"] = json!(kind);
    v["apiVersion"] = json!(api_version);
    json_response(code, &v)
}

/// A `*List` of `items` read at `resource_version`.
pub fn list_response(
    kind: &str,
    api_version: &str,
    items: Vec<Value>,
    resource_version: u64,
) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": resource_version.to_string()}, "items": items}),
    )
}

/// Whether the client asked for a Table (`kubectl get` without `-o`).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

/// Whether `?watch=true`.
pub fn wants_watch(q: &HashMap<String, String>) -> bool {
    q.get("watch").is_some_and(|w| w == "true" || w == "1")
}

/// The request body, up to [`MAX_BODY`] (413 beyond).
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY))
}

/// The request's content type (`application/json` when absent).
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

/// 415 for bodies that are not JSON (kubectl's generators send protobuf, which podvisor does
/// not decode: the command then fails cleanly, as kubectl-api.md §4 describes).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = content_type(headers);
    if ct.starts_with("application/json") || ct.starts_with("application/yaml") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(&ct))
    }
}

/// A JSON body (or a protobuf one of the kinds [`crate::protobuf`] decodes).
pub async fn json_body(headers: &HeaderMap, body: Body, kind: &str) -> Result<Value, ApiError> {
    if content_type(headers).starts_with(crate::protobuf::PROTOBUF) {
        return crate::protobuf::decode(&read_body(body).await?);
    }
    require_json(headers)?;
    let bytes = read_body(body).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("decoding {kind}: {e}")))
}

/// Adds `Warning: 299 - "..."` headers, as the apiserver does for warnings.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = format!("299 - \"{}\"", w.replace('"', "'")).parse() {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// A 200 response streaming `s` (watch events, followed logs), flushed chunk by chunk.
pub fn stream_response<S>(content_type: &'static str, s: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    ([("content-type", content_type)], Body::from_stream(s)).into_response()
}

/// `metadata.creationTimestamp` for an object created now (whole seconds, as the apiserver).
pub fn creation_timestamp() -> Value {
    let now = jiff::Timestamp::now();
    json!(jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string())
}

/// 409 when the client's `metadata.resourceVersion` is set and is not the stored one (an
/// update based on a stale read); an unset one is an unconditional update.
pub fn check_resource_version(
    object: &Value,
    stored: Option<&str>,
    resource: &str,
    name: &str,
) -> Result<(), ApiError> {
    match object["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != stored => Err(ApiError::conflict(resource, name)),
        _ => Ok(()),
    }
}

/// `DeleteOptions` from a DELETE body (empty: all defaults).
pub fn delete_options(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))
}

/// The stored pod `ns/name`, or 404.
pub fn stored_pod(
    st: &crate::Shared,
    ns: &str,
    name: &str,
) -> Result<k8s_openapi::api::core::v1::Pod, ApiError> {
    st.engine
        .store()
        .pod(&key(ns, name))
        .ok_or_else(|| ApiError::not_found("pods", name))
}

/// The key of pod `ns/name`.
pub fn key(ns: &str, name: &str) -> podvisor_lifecycle::plan::PodKey {
    podvisor_lifecycle::plan::PodKey {
        namespace: ns.to_string(),
        name: name.to_string(),
    }
}
