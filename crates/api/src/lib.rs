//! podvisor's kubectl-compatible API: Kubernetes REST over the engine's store and handle.
//! Reads come from the store; writes are commands through the [`EngineHandle`]. Nothing here
//! touches a runtime or writes the store. Served kinds are listed once, in [`served`].
//! See kubectl-api.md for what kubectl 1.32 sends and expects.

pub mod attach;
pub mod auth;
pub mod discovery;
pub mod events;
pub mod exec;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod namespaces;
pub mod nodes;
pub mod objects;
pub mod patch;
pub mod pods;
pub mod portforward;
pub mod protobuf;
pub mod resource;
pub mod selectors;
pub mod server;
pub mod smp;
pub mod spdy;
pub mod status;
pub mod table;
pub mod watch;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use podvisor_engine::EngineHandle;
use serde_json::Value;

pub use http::wants_table;
pub use resource::Resource;
pub use status::ApiError;

/// Largest accepted request body (the apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What every handler sees.
pub struct ApiState {
    /// The engine (writes, through commands) and its store (reads).
    pub engine: EngineHandle,
    /// The bearer token every request must carry (`None`: loopback http without auth).
    pub token: Option<String>,
    /// `host:port` the server answers on.
    pub address: String,
}

/// Shared state handle.
pub type Shared = Arc<ApiState>;

/// Every served resource with its routes: the one table discovery and the router read. A new
/// kind is a module with a [`Resource`] and a `routes()` function, and a line here.
pub fn served() -> Vec<(Resource, Router<Shared>)> {
    vec![
        (pods::RESOURCE, pods::routes()),
        (
            objects::CONFIG_MAPS,
            objects::routes(objects::Kind::ConfigMap),
        ),
        (objects::SECRETS, objects::routes(objects::Kind::Secret)),
        (events::RESOURCE, events::routes()),
        (namespaces::RESOURCE, namespaces::routes()),
        (nodes::RESOURCE, nodes::routes()),
        (nodes::LEASES, axum::Router::new()),
        (metrics::POD_METRICS, metrics::routes()),
        (metrics::NODE_METRICS, axum::Router::new()),
        (auth::ACCESS_REVIEWS, auth::routes()),
        (auth::RULES_REVIEWS, axum::Router::new()),
        (auth::SELF_REVIEWS, axum::Router::new()),
    ]
}

async fn auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(token) = &st.token {
        let ok = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !ok {
            return ApiError::unauthorized().into_response();
        }
    }
    // A body announced larger than the limit is refused before it is read (a client waiting
    // for `100 Continue` then never sends it, and none is cut off mid-send).
    let announced = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_BODY) {
        return ApiError::too_large(MAX_BODY).into_response();
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `/healthz`, `/livez`, `/readyz`: `ok` (with `?verbose`, the checks as the apiserver lists
/// them). The daemon answering is the whole check: the engine and the store live in it.
async fn health(Query(q): Query<std::collections::HashMap<String, String>>) -> String {
    if q.contains_key("verbose") {
        "[+]ping ok\n[+]log ok\n[+]etcd ok\nhealthz check passed\n".into()
    } else {
        "ok".into()
    }
}

/// The routing table: discovery, then every served resource's routes.
pub fn router(state: Shared) -> Router {
    let addr = state.address.clone();
    let served = served();
    let resources: Vec<Resource> = served.iter().map(|(r, _)| *r).collect();
    let core = discovery::api_v1(&resources);
    let groups = discovery::apis(&resources);
    let table = std::sync::Arc::new(resources.clone());
    let table2 = table.clone();
    let documents = discovery::openapi_v3_documents(&resources);
    let openapi_root = discovery::openapi_v3_root(&documents);
    let documents: std::sync::Arc<std::collections::HashMap<String, Value>> =
        std::sync::Arc::new(documents.into_iter().collect());
    let mut app = Router::new()
        .route("/version", get(|| async { Json(discovery::version()) }))
        .route("/version/", get(|| async { Json(discovery::version()) }))
        .route(
            "/api",
            get(move || async move { Json(discovery::api(&addr)) }),
        )
        .route("/apis", get(move || async move { Json(groups) }))
        .route(
            "/apis/{group}",
            get(move |Path(group): Path<String>| async move {
                discovery::api_group(&table, &group)
                    .map(Json)
                    .ok_or_else(|| ApiError::no_route(&format!("/apis/{group}")))
            }),
        )
        .route(
            "/apis/{group}/{version}",
            get(
                move |Path((group, version)): Path<(String, String)>| async move {
                    discovery::group_version(&table2, &group, &version)
                        .map(Json)
                        .ok_or_else(|| ApiError::no_route(&format!("/apis/{group}/{version}")))
                },
            ),
        )
        .route("/healthz", get(health))
        .route("/livez", get(health))
        .route("/readyz", get(health))
        .route("/api/v1", get(move || async move { Json(core) }))
        .route(
            "/openapi/v3",
            get(move || async move { Json(openapi_root) }),
        )
        .route(
            "/openapi/v3/{*path}",
            get(move |Path(path): Path<String>| async move {
                documents
                    .get(&path)
                    .cloned()
                    .map(|d| ([("cache-control", "public, immutable")], Json(d)))
                    .ok_or_else(|| ApiError::no_route(&format!("/openapi/v3/{path}")))
            }),
        );
    for (_, routes) in served {
        app = app.merge(routes);
    }
    app.fallback(|req: Request<Body>| async move { ApiError::no_route(req.uri().path()) })
        .method_not_allowed_fallback(|req: Request<Body>| async move {
            ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                req.method(),
                req.uri().path()
            ))
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}
