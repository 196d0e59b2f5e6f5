//! podvisor's kubectl-compatible API: Kubernetes REST over the engine's store and handle.
//! Reads come from the store; writes go through the engine. Nothing here touches a runtime.
//! See kubectl-api.md for what kubectl 1.32 sends and expects.

pub mod discovery;
pub mod exec;
pub mod objects;
pub mod pods;
pub mod portforward;
pub mod server;
pub mod smp;
pub mod spdy;
pub mod status;
pub mod table;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use podvisor_engine::runtime::Runtime;
use podvisor_engine::Engine;

pub use status::ApiError;

/// Largest accepted request body (the apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What every handler sees.
pub struct ApiState<R: Runtime> {
    /// The engine (writes) and its store (reads).
    pub engine: Arc<Engine<R>>,
    /// The bearer token every request must carry (`None`: loopback http without auth).
    pub token: Option<String>,
    /// `host:port` the server answers on.
    pub address: String,
}

/// Shared state handle.
pub type Shared<R> = Arc<ApiState<R>>;

async fn auth<R: Runtime>(State(st): State<Shared<R>>, req: Request, next: Next) -> Response {
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
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the client asked for a Table (`kubectl get` without `-o`).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

/// The routing table.
pub fn router<R: Runtime>(state: Shared<R>) -> Router {
    let addr = state.address.clone();
    Router::new()
        .route("/version", get(|| async { Json(discovery::version()) }))
        .route("/version/", get(|| async { Json(discovery::version()) }))
        .route(
            "/api",
            get(move || async move { Json(discovery::api(&addr)) }),
        )
        .route("/apis", get(|| async { Json(discovery::apis()) }))
        .route("/api/v1", get(|| async { Json(discovery::api_v1()) }))
        .route(
            "/openapi/v3",
            get(|| async { Json(discovery::openapi_v3_root()) }),
        )
        .route(
            "/openapi/v3/api/v1",
            get(|| async { Json(discovery::openapi_v3_core()) }),
        )
        .route(
            "/api/v1/namespaces",
            get(pods::list_namespaces::<R>).post(pods::create_namespace::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}",
            get(pods::get_namespace::<R>)
                .delete(pods::delete_namespace::<R>)
                .patch(pods::patch_namespace::<R>),
        )
        .route("/api/v1/pods", get(pods::list_all::<R>))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            get(pods::list::<R>).post(pods::create::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            get(pods::get_one::<R>)
                .delete(pods::delete::<R>)
                .patch(pods::patch::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/status",
            get(pods::get_one::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/log",
            get(pods::log::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/exec",
            get(exec::exec::<R>).post(exec::exec::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/portforward",
            get(portforward::portforward::<R>).post(portforward::portforward::<R>),
        )
        .route(
            "/api/v1/configmaps",
            get(objects::config_maps::list_all::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/configmaps",
            get(objects::config_maps::list_ns::<R>).post(objects::config_maps::create::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/configmaps/{name}",
            get(objects::config_maps::get_one::<R>)
                .patch(objects::config_maps::patch::<R>)
                .delete(objects::config_maps::delete::<R>),
        )
        .route("/api/v1/secrets", get(objects::secrets::list_all::<R>))
        .route(
            "/api/v1/namespaces/{ns}/secrets",
            get(objects::secrets::list_ns::<R>).post(objects::secrets::create::<R>),
        )
        .route(
            "/api/v1/namespaces/{ns}/secrets/{name}",
            get(objects::secrets::get_one::<R>)
                .patch(objects::secrets::patch::<R>)
                .delete(objects::secrets::delete::<R>),
        )
        .route("/api/v1/events", get(pods::events_all::<R>))
        .route("/api/v1/namespaces/{ns}/events", get(pods::events::<R>))
        .fallback(|req: Request<Body>| async move { ApiError::no_route(req.uri().path()) })
        .method_not_allowed_fallback(|req: Request<Body>| async move {
            ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                req.method(),
                req.uri().path()
            ))
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth::<R>))
        .with_state(state)
}
