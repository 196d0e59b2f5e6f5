//! Every API error as a `metav1.Status` with the right HTTP code: the one place where errors
//! become HTTP (mirrors apiserver's `errors.StatusError` constructors).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use podvisor_engine::EngineError;
use podvisor_lifecycle::field::FieldError;
use serde_json::{json, Value};

/// An API error rendered as a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }
    /// 404 `pods "web" not found`.
    pub fn not_found(resource: &str, name: &str) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{resource} \"{name}\" not found"));
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }
    /// 404 for an unknown path (the apiserver's wording; the path is logged, not echoed).
    pub fn no_route(path: &str) -> Self {
        tracing::debug!(path, "no route");
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }
    /// 409 `pods "web" already exists`.
    pub fn already_exists(resource: &str, name: &str) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        );
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }
    /// 409 `Operation cannot be fulfilled on pods "web": the object has been modified; ...`
    /// (a stale `metadata.resourceVersion`).
    pub fn conflict(resource: &str, name: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"),
        );
        e.details = Some(json!({"name": name, "kind": resource}));
        e
    }

    /// 403 `namespaces "default" is forbidden: ...`.
    pub fn forbidden(resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{resource} \"{name}\" is forbidden: {why}"),
        )
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }
    /// 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }
    /// 410 `too old resource version`.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }
    /// 415.
    pub fn unsupported_media_type(ct: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/strategic-merge-patch+json, application/merge-patch+json (got {ct:?})"))
    }
    /// 422 with field causes: `Pod "web" is invalid: <causes>`; each cause carries the
    /// field error's reason, message and field path (`StatusCause`).
    pub fn invalid(kind: &str, name: &str, causes: &[FieldError]) -> Self {
        let text: Vec<String> = causes.iter().map(ToString::to_string).collect();
        let mut e = Self::new(
            422,
            "Invalid",
            // The apiserver's ErrorList: one error as is, several in brackets.
            if text.len() == 1 {
                format!("{kind} \"{name}\" is invalid: {}", text[0])
            } else {
                format!("{kind} \"{name}\" is invalid: [{}]", text.join(", "))
            },
        );
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason(), "message": c.message(), "field": c.field}))
            .collect();
        e.details =
            Some(json!({"name": name, "kind": kind.to_lowercase() + "s", "causes": causes}));
        e
    }
    /// The Status object.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        // The apiserver always sends `details` (empty when it names nothing): clients such as
        // `kubectl debug` read `details.name` without checking for it.
        v["details"] = self.details.clone().unwrap_or_else(|| json!({}));
        v
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::AlreadyExists { resource, name, .. } => {
                ApiError::already_exists(&resource, &name)
            }
            EngineError::NotFound { resource, name, .. } => ApiError::not_found(&resource, &name),
            EngineError::Forbidden {
                resource,
                name,
                why,
            } => ApiError::forbidden(&resource, &name, &why),
            EngineError::Stopped => ApiError::new(503, "ServiceUnavailable", e.to_string()),
            other @ (EngineError::Connect { .. } | EngineError::NotRunning { .. }) => {
                ApiError::bad_request(other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            code,
            [("content-type", "application/json")],
            self.to_status().to_string(),
        )
            .into_response()
    }
}
