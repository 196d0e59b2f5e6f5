//! ConfigMaps and Secrets: create, get, list, patch and delete, stored durably and handed to
//! the engine for pods' environment and volumes (the apiserver's configmap/secret registries).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podvisor_engine::ids::new_uid;
use podvisor_engine::WriteMode;
use podvisor_lifecycle::field::FieldError;
use podvisor_lifecycle::meta::{is_dns1123_subdomain, validate_object_meta};
use serde_json::{json, Value};

use crate::http::{creation_timestamp, json_body, json_response, wants_table, ApiResult};
use crate::resource::{schema, Resource, CRUD_UPDATE};
use crate::table::human_duration;
use crate::{ApiError, Shared};

/// Which kind a route serves.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// ConfigMap.
    ConfigMap,
    /// Secret.
    Secret,
}

/// `configmaps` in the core group.
pub const CONFIG_MAPS: Resource = Resource {
    group: "",
    version: "v1",
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    verbs: CRUD_UPDATE,
    short_names: &["cm"],
    categories: &[],
    subresources: &[],
    schema: Some(schema::<k8s_openapi::api::core::v1::ConfigMap>),
};

/// `secrets` in the core group.
pub const SECRETS: Resource = Resource {
    group: "",
    version: "v1",
    plural: "secrets",
    singular: "secret",
    kind: "Secret",
    namespaced: true,
    verbs: CRUD_UPDATE,
    short_names: &[],
    categories: &[],
    subresources: &[],
    schema: Some(schema::<k8s_openapi::api::core::v1::Secret>),
};

/// The routes of one of these kinds.
pub fn routes(kind: Kind) -> axum::Router<Shared> {
    use axum::routing::get;
    let plural = kind.resource();
    axum::Router::new()
        .route(
            &format!("/api/v1/{plural}"),
            get(move |st: State<Shared>, h: HeaderMap| list(kind, st, None, h)),
        )
        .route(
            &format!("/api/v1/namespaces/{{ns}}/{plural}"),
            get(
                move |st: State<Shared>, Path(ns): Path<String>, h: HeaderMap| {
                    list(kind, st, Some(ns), h)
                },
            )
            .post(
                move |st: State<Shared>, Path(ns): Path<String>, h: HeaderMap, body: Body| {
                    create(kind, st, ns, h, body)
                },
            ),
        )
        .route(
            &format!("/api/v1/namespaces/{{ns}}/{plural}/{{name}}"),
            get(
                move |st: State<Shared>, Path((ns, name)): Path<(String, String)>, h: HeaderMap| {
                    get_one(kind, st, ns, name, h)
                },
            )
            .patch(
                move |st: State<Shared>, Path((ns, name)): Path<(String, String)>, body: Body| {
                    patch(kind, st, ns, name, body)
                },
            )
            .put(
                move |st: State<Shared>,
                      Path((ns, name)): Path<(String, String)>,
                      h: HeaderMap,
                      body: Body| { replace(kind, st, ns, name, h, body) },
            )
            .delete(
                move |st: State<Shared>, Path((ns, name)): Path<(String, String)>| {
                    delete(kind, st, ns, name)
                },
            ),
        )
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

/// The apiserver's limit on a ConfigMap's or Secret's data (`MaxSecretSize`, 1 MiB).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Decodes, normalises (a Secret's `stringData` goes into `data`) and validates an object.
fn normalise(kind: Kind, v: Value) -> Result<Value, ApiError> {
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // ValidateObjectMeta with the name a DNS subdomain (the namespace comes from the URL).
    let meta: ObjectMeta = serde_json::from_value(v["metadata"].clone())
        .map_err(|e| ApiError::bad_request(format!("decoding {}: {e}", kind.name())))?;
    let errors = validate_object_meta(&meta, false, is_dns1123_subdomain, "metadata")
        .into_iter()
        .filter(|e| e.field != "metadata.namespace")
        .collect::<Vec<_>>();
    if !errors.is_empty() {
        return Err(ApiError::invalid(kind.name(), &name, &errors));
    }
    let mut out = match kind {
        Kind::ConfigMap => {
            let c: ConfigMap = serde_json::from_value(v)
                .map_err(|e| ApiError::bad_request(format!("decoding ConfigMap: {e}")))?;
            // ValidateConfigMap: keys and values together at most 1 MiB.
            let size: usize = c
                .data
                .iter()
                .flatten()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                + c.binary_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| k.len() + v.0.len())
                    .sum::<usize>();
            if size > MAX_DATA_SIZE {
                return Err(ApiError::invalid(
                    kind.name(),
                    &name,
                    &[FieldError::too_long("data", MAX_DATA_SIZE)],
                ));
            }
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
            // ValidateSecret: keys and values together at most 1 MiB.
            let size: usize = s
                .data
                .iter()
                .flatten()
                .map(|(k, v)| k.len() + v.0.len())
                .sum();
            if size > MAX_DATA_SIZE {
                return Err(ApiError::invalid(
                    kind.name(),
                    &name,
                    &[FieldError::too_long("data", MAX_DATA_SIZE)],
                ));
            }
            // SetDefaults_Secret: an empty type is Opaque.
            if s.type_.as_deref().is_none_or(str::is_empty) {
                s.type_ = Some("Opaque".into());
            }
            serde_json::to_value(s).unwrap_or(Value::Null)
        }
    };
    out["kind"] = json!(kind.name());
    out["apiVersion"] = json!("v1");
    Ok(out)
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

/// `GET /api/v1/[namespaces/{ns}/]{configmaps|secrets}`.
pub async fn list(
    kind: Kind,
    State(st): State<Shared>,
    ns: Option<String>,
    headers: HeaderMap,
) -> ApiResult {
    let (items, rv) = st.engine.store().list_objects(kind.name(), ns.as_deref());
    if wants_table(&headers) {
        return Ok(json_response(StatusCode::OK, &table(kind, &items)));
    }
    Ok(crate::http::list_response(
        &format!("{}List", kind.name()),
        "v1",
        items,
        rv,
    ))
}

/// `GET .../{name}`.
pub async fn get_one(
    kind: Kind,
    State(st): State<Shared>,
    ns: String,
    name: String,
    headers: HeaderMap,
) -> ApiResult {
    let o = st
        .engine
        .store()
        .object(kind.name(), &ns, &name)
        .ok_or_else(|| ApiError::not_found(kind.resource(), &name))?;
    if wants_table(&headers) {
        return Ok(json_response(StatusCode::OK, &table(kind, &[o])));
    }
    Ok(json_response(StatusCode::OK, &o))
}

/// `POST .../{configmaps|secrets}`.
pub async fn create(
    kind: Kind,
    State(st): State<Shared>,
    ns: String,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let v = json_body(&headers, body, kind.name()).await?;
    let mut o = normalise(kind, v)?;
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if st.engine.store().object(kind.name(), &ns, &name).is_some() {
        return Err(ApiError::already_exists(kind.resource(), &name));
    }
    o["metadata"]["namespace"] = json!(ns);
    o["metadata"]["uid"] = json!(new_uid());
    o["metadata"]["creationTimestamp"] = creation_timestamp();
    let stored = st
        .engine
        .put_object(kind.resource(), WriteMode::Create, o)
        .await?;
    Ok(json_response(StatusCode::CREATED, &stored))
}

/// `PATCH .../{name}` (strategic-merge or merge patch: the same for these kinds, which have no
/// lists with merge keys).
pub async fn patch(
    kind: Kind,
    State(st): State<Shared>,
    ns: String,
    name: String,
    body: Body,
) -> ApiResult {
    let patch = crate::patch::json_patch_body(body).await?;
    let mut o = st
        .engine
        .store()
        .object(kind.name(), &ns, &name)
        .ok_or_else(|| ApiError::not_found(kind.resource(), &name))?;
    crate::smp::apply(&mut o, &patch);
    let mut o = normalise(kind, o)?;
    o["metadata"]["namespace"] = json!(ns);
    let stored = st
        .engine
        .put_object(kind.resource(), WriteMode::Update, o)
        .await?;
    Ok(json_response(StatusCode::OK, &stored))
}

/// `PUT .../{name}` (`kubectl replace`, `kubectl edit`): the whole object; the server keeps
/// uid and creationTimestamp; a stale `metadata.resourceVersion` is a 409.
pub async fn replace(
    kind: Kind,
    State(st): State<Shared>,
    ns: String,
    name: String,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let v = json_body(&headers, body, kind.name()).await?;
    let old = st
        .engine
        .store()
        .object(kind.name(), &ns, &name)
        .ok_or_else(|| ApiError::not_found(kind.resource(), &name))?;
    if v["metadata"]["name"].as_str() != Some(name.as_str()) {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let stored_rv = old["metadata"]["resourceVersion"].as_str();
    crate::http::check_resource_version(&v, stored_rv, kind.resource(), &name)?;
    let mut o = normalise(kind, v)?;
    o["metadata"]["namespace"] = json!(ns);
    for k in ["uid", "creationTimestamp"] {
        o["metadata"][k] = old["metadata"][k].clone();
    }
    let stored = st
        .engine
        .put_object(kind.resource(), WriteMode::Update, o)
        .await?;
    Ok(json_response(StatusCode::OK, &stored))
}

/// `DELETE .../{name}`.
pub async fn delete(kind: Kind, State(st): State<Shared>, ns: String, name: String) -> ApiResult {
    st.engine
        .delete_object(kind.name(), kind.resource(), &ns, &name)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "kind": kind.resource()}}),
    ))
}
