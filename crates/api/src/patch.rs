//! PATCH bodies: the four patch types the apiserver accepts (JSON patch, merge patch, strategic
//! merge patch, server-side apply) decoded and applied to an object as JSON (the apiserver's
//! `handlers/patch.go` patchMechanism implementations; strategic merge in [`crate::smp`]).

use axum::http::HeaderMap;
use podvisor_lifecycle::field::{FieldError, Rendered};
use serde_json::Value;

use crate::http::content_type;
use crate::ApiError;

/// A JSON patch body (the kinds whose PATCH takes JSON only).
pub async fn json_patch_body(body: axum::body::Body) -> Result<Value, ApiError> {
    let bytes = crate::http::read_body(body).await?;
    PatchType::Merge.decode(&bytes)
}

/// Which patch a request carries (its content type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// From the request's content type (415 for anything else).
    pub fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let ct = content_type(headers);
        if ct.starts_with("application/json-patch+json") {
            Ok(PatchType::Json)
        } else if ct.starts_with("application/merge-patch+json") {
            Ok(PatchType::Merge)
        } else if ct.starts_with("application/strategic-merge-patch+json") {
            Ok(PatchType::Strategic)
        } else if ct.starts_with("application/apply-patch+yaml") {
            Ok(PatchType::Apply)
        } else {
            Err(ApiError::unsupported_media_type(&ct))
        }
    }

    /// Decodes the body (YAML or JSON for apply, JSON otherwise).
    pub fn decode(self, bytes: &[u8]) -> Result<Value, ApiError> {
        if self == PatchType::Apply {
            return std::str::from_utf8(bytes)
                .ok()
                .and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid apply configuration: not YAML or JSON")
                });
        }
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid patch: {e}")))
    }

    /// Applies a JSON, merge or strategic merge patch to `target` (server-side apply is the
    /// resource's own: it needs the kind's defaulting). `kind`/`name` name the object in a 422.
    pub fn apply(
        self,
        target: &mut Value,
        patch: &Value,
        kind: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        match self {
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                json_patch::patch(target, &ops).map_err(|e| {
                    ApiError::invalid(
                        kind,
                        name,
                        &[FieldError::invalid("patch", Rendered(e.to_string()), "")],
                    )
                })
            }
            PatchType::Merge => {
                merge(target, patch);
                Ok(())
            }
            PatchType::Strategic | PatchType::Apply => {
                crate::smp::apply(target, patch);
                Ok(())
            }
        }
    }
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
