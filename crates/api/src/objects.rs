//! ConfigMaps and Secrets: create, get, list, patch and delete, stored durably and handed to
//! the engine for pods' environment and volumes (the apiserver's configmap/secret registries).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use podvisor_engine::runtime::Runtime;
use serde_json::{json, Value};

use crate::pods::new_uid;
use crate::table::human_duration;
use crate::{wants_table, ApiError, Shared, MAX_BODY};

/// Which kind a route serves.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// ConfigMap.
    ConfigMap,
    /// Secret.
    Secret,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }
    fn resource(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        }
    }
}

fn respond(code: StatusCode, v: &Value) -> Response {
    (code, [("content-type", "application/json")], v.to_string()).into_response()
}

/// Decodes, normalises (a Secret's `stringData` goes into `data`) and validates an object.
fn normalise(kind: Kind, v: Value) -> Result<Value, ApiError> {
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !valid {
        return Err(ApiError::invalid(kind.name(), &name, &[format!("metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")]));
    }
    let mut out = match kind {
        Kind::ConfigMap => {
            let c: ConfigMap = serde_json::from_value(v)
                .map_err(|e| ApiError::bad_request(format!("decoding ConfigMap: {e}")))?;
            serde_json::to_value(c).unwrap_or(Value::Null)
        }
        Kind::Secret => {
            let mut s: Secret = serde_json::from_value(v)
                .map_err(|e| ApiError::bad_request(format!("decoding Secret: {e}")))?;
            if let Some(sd) = s.string_data.take() {
                let data = s.data.get_or_insert_with(Default::default);
                for (k, v) in sd {
                    data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
                }
            }
            s.type_.get_or_insert_with(|| "Opaque".into());
            serde_json::to_value(s).unwrap_or(Value::Null)
        }
    };
    out["kind"] = json!(kind.name());
    out["apiVersion"] = json!("v1");
    Ok(out)
}

fn sync_engine<R: Runtime>(st: &Shared<R>) {
    st.engine.set_objects(st.engine.store().config_objects());
}

fn table(kind: Kind, items: &[Value]) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let count = o["data"].as_object().map_or(0, |m| m.len()) + o["binaryData"].as_object().map_or(0, |m| m.len());
            let age = o["metadata"]["creationTimestamp"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map_or("<unknown>".into(), |t| human_duration(jiff::Timestamp::now().as_second() - t.as_second()));
            let mut cells = vec![o["metadata"]["name"].clone()];
            if matches!(kind, Kind::Secret) {
                cells.push(o["type"].clone());
            }
            cells.push(json!(count));
            cells.push(json!(age));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}})
        })
        .collect();
    let mut cols = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    if matches!(kind, Kind::Secret) {
        cols.push(json!({"name": "Type", "type": "string", "format": "", "description": "Type", "priority": 0}));
    }
    cols.push(json!({"name": "Data", "type": "integer", "format": "", "description": "Data", "priority": 0}));
    cols.push(
        json!({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0}),
    );
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": cols, "rows": rows})
}

/// `GET /api/v1/namespaces/{ns}/{configmaps|secrets}`.
pub async fn list<R: Runtime>(
    kind: Kind,
    st: Shared<R>,
    ns: Option<String>,
    headers: HeaderMap,
) -> Response {
    let items = st.engine.store().objects(kind.name(), ns.as_deref());
    if wants_table(&headers) {
        return respond(StatusCode::OK, &table(kind, &items));
    }
    respond(
        StatusCode::OK,
        &json!({"kind": format!("{}List", kind.name()), "apiVersion": "v1",
        "metadata": {"resourceVersion": st.engine.store().resource_version().to_string()}, "items": items}),
    )
}

/// `GET .../{name}`.
pub async fn get<R: Runtime>(
    kind: Kind,
    st: Shared<R>,
    ns: String,
    name: String,
    headers: HeaderMap,
) -> Response {
    match st.engine.store().object(kind.name(), &ns, &name) {
        Some(o) if wants_table(&headers) => respond(StatusCode::OK, &table(kind, &[o])),
        Some(o) => respond(StatusCode::OK, &o),
        None => ApiError::not_found(kind.resource(), &name).into_response(),
    }
}

/// `POST .../{configmaps|secrets}`.
pub async fn create<R: Runtime>(
    kind: Kind,
    st: Shared<R>,
    ns: String,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    if let Err(e) = crate::pods::require_json(headers) {
        return e.into_response();
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large(MAX_BODY).into_response(),
    };
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return ApiError::bad_request(format!("decoding {}: {e}", kind.name())).into_response()
        }
    };
    let mut o = match normalise(kind, v) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if st.engine.store().object(kind.name(), &ns, &name).is_some() {
        return ApiError::already_exists(kind.resource(), &name).into_response();
    }
    o["metadata"]["namespace"] = json!(ns);
    o["metadata"]["uid"] = json!(new_uid());
    o["metadata"]["creationTimestamp"] = json!(jiff::Timestamp::from_second(
        jiff::Timestamp::now().as_second()
    )
    .unwrap_or(jiff::Timestamp::now())
    .to_string());
    let stored = st.engine.store().put_object(kind.name(), &ns, &name, o);
    sync_engine(&st);
    respond(StatusCode::CREATED, &stored)
}

/// `PATCH .../{name}` (strategic-merge or merge patch: the same for these kinds, which have no
/// lists with merge keys).
pub async fn patch<R: Runtime>(
    kind: Kind,
    st: Shared<R>,
    ns: String,
    name: String,
    body: Body,
) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large(MAX_BODY).into_response(),
    };
    let patch: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return ApiError::bad_request(format!("invalid patch: {e}")).into_response(),
    };
    let Some(mut o) = st.engine.store().object(kind.name(), &ns, &name) else {
        return ApiError::not_found(kind.resource(), &name).into_response();
    };
    crate::smp::apply(&mut o, &patch);
    let mut o = match normalise(kind, o) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    o["metadata"]["namespace"] = json!(ns);
    let stored = st.engine.store().put_object(kind.name(), &ns, &name, o);
    sync_engine(&st);
    respond(StatusCode::OK, &stored)
}

/// `DELETE .../{name}`.
pub async fn delete<R: Runtime>(kind: Kind, st: Shared<R>, ns: String, name: String) -> Response {
    match st.engine.store().delete_object(kind.name(), &ns, &name) {
        Some(_) => {
            sync_engine(&st);
            respond(
                StatusCode::OK,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": kind.resource()}}),
            )
        }
        None => ApiError::not_found(kind.resource(), &name).into_response(),
    }
}

type P = Query<HashMap<String, String>>;

macro_rules! routes_for {
    ($modname:ident, $kind:expr) => {
        /// Handlers for one kind.
        pub mod $modname {
            use super::*;
            /// List in a namespace.
            pub async fn list_ns<R: Runtime>(
                State(st): State<Shared<R>>,
                Path(ns): Path<String>,
                _q: P,
                h: HeaderMap,
            ) -> Response {
                super::list($kind, st, Some(ns), h).await
            }
            /// List everywhere.
            pub async fn list_all<R: Runtime>(
                State(st): State<Shared<R>>,
                _q: P,
                h: HeaderMap,
            ) -> Response {
                super::list($kind, st, None, h).await
            }
            /// Get one.
            pub async fn get_one<R: Runtime>(
                State(st): State<Shared<R>>,
                Path((ns, name)): Path<(String, String)>,
                h: HeaderMap,
            ) -> Response {
                super::get($kind, st, ns, name, h).await
            }
            /// Create.
            pub async fn create<R: Runtime>(
                State(st): State<Shared<R>>,
                Path(ns): Path<String>,
                h: HeaderMap,
                body: Body,
            ) -> Response {
                super::create($kind, st, ns, &h, body).await
            }
            /// Patch.
            pub async fn patch<R: Runtime>(
                State(st): State<Shared<R>>,
                Path((ns, name)): Path<(String, String)>,
                body: Body,
            ) -> Response {
                super::patch($kind, st, ns, name, body).await
            }
            /// Delete.
            pub async fn delete<R: Runtime>(
                State(st): State<Shared<R>>,
                Path((ns, name)): Path<(String, String)>,
            ) -> Response {
                super::delete($kind, st, ns, name).await
            }
        }
    };
}

routes_for!(config_maps, Kind::ConfigMap);
routes_for!(secrets, Kind::Secret);
