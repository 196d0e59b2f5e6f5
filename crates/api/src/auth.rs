//! Who may do what: podvisor is a single-user cluster (whoever holds the token, or any local
//! client of `--insecure-http`, has every right), so `kubectl auth can-i` always answers yes and
//! `kubectl auth whoami` names that one user. Serves the apiserver's
//! `SelfSubjectAccessReview` / `SelfSubjectRulesReview` (authorization.k8s.io/v1) and
//! `SelfSubjectReview` (authentication.k8s.io/v1) as their registries answer them.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::http::{json_response, read_body, ApiResult};
use crate::resource::Resource;
use crate::Shared;

/// The one user.
pub const USER: &str = "podvisor-admin";
/// Its groups (cluster-admin rights, as `system:masters` has on a cluster).
pub const GROUPS: [&str; 2] = ["system:masters", "system:authenticated"];

const WHY: &str = "podvisor is a single-user cluster: every request is allowed";

/// `selfsubjectaccessreviews` (authorization.k8s.io/v1).
pub const ACCESS_REVIEWS: Resource = Resource {
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    kind: "SelfSubjectAccessReview",
    namespaced: false,
    verbs: &["create"],
    short_names: &[],
    categories: &[],
    subresources: &[],
    schema: None,
};

/// `selfsubjectrulesreviews` (authorization.k8s.io/v1).
pub const RULES_REVIEWS: Resource = Resource {
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    kind: "SelfSubjectRulesReview",
    ..ACCESS_REVIEWS
};

/// `selfsubjectreviews` (authentication.k8s.io/v1).
pub const SELF_REVIEWS: Resource = Resource {
    group: "authentication.k8s.io",
    plural: "selfsubjectreviews",
    singular: "selfsubjectreview",
    kind: "SelfSubjectReview",
    ..ACCESS_REVIEWS
};

/// The routes of the three reviews.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::post;
    axum::Router::new()
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            post(rules_review),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            post(self_review),
        )
}

/// The request's `spec` when it is JSON (typed clients may send protobuf: the answer does not
/// depend on the spec, so it is then left out of the reply).
async fn spec(body: Body) -> Value {
    let bytes = read_body(body).await.unwrap_or_default();
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .map_or(Value::Null, |v| v["spec"].clone())
}

/// `POST .../selfsubjectaccessreviews`: allowed.
pub async fn access_review(State(_): State<Shared>, body: Body) -> ApiResult {
    let spec = spec(body).await;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {}, "spec": spec, "status": {"allowed": true, "reason": WHY}}),
    ))
}

/// `POST .../selfsubjectrulesreviews`: every verb on every resource and URL.
pub async fn rules_review(State(_): State<Shared>, body: Body) -> ApiResult {
    let spec = spec(body).await;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {}, "spec": spec, "status": {
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": false}}),
    ))
}

/// `POST .../selfsubjectreviews`: the one user.
pub async fn self_review(State(_): State<Shared>) -> ApiResult {
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "status": {"userInfo": {"username": USER, "groups": GROUPS}}}),
    ))
}
