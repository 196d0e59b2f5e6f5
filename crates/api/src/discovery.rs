//! Discovery and OpenAPI: `/version` (v1.32.x, which makes the kubectl dispatcher run
//! kubectl 1.32), legacy `/api`, `/apis`, `/api/v1`, and the minimal OpenAPI v3 document that
//! lets `kubectl apply` use server-side field validation (kubectl-api.md §1–§3).

use serde_json::{json, Value};

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.4-podvisor",
        "gitCommit": "podvisor", "gitTreeState": "clean", "buildDate": "2026-11-22T00:00:00Z",
        "goVersion": "rust", "compiler": "rustc", "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub fn api(server: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]})
}

/// `GET /apis`: no groups besides the core one.
pub fn apis() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
}

fn resource(
    name: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    verbs: &[&str],
    short: &[&str],
) -> Value {
    let mut r = json!({"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs});
    if !short.is_empty() {
        r["shortNames"] = json!(short);
    }
    if name == "pods" {
        r["categories"] = json!(["all"]);
    }
    r
}

/// `GET /api/v1`.
pub fn api_v1() -> Value {
    let crud = ["create", "delete", "get", "list", "patch", "watch"];
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        resource("pods", "pod", "Pod", true, &crud, &["po"]),
        resource("pods/log", "", "Pod", true, &["get"], &[]),
        resource("pods/exec", "", "PodExecOptions", true, &["create", "get"], &[]),
        resource("pods/portforward", "", "PodPortForwardOptions", true, &["create", "get"], &[]),
        resource("pods/status", "", "Pod", true, &["get"], &[]),
        resource("configmaps", "configmap", "ConfigMap", true, &crud, &["cm"]),
        resource("secrets", "secret", "Secret", true, &crud, &[]),
        resource("events", "event", "Event", true, &["get", "list", "watch"], &["ev"]),
        resource("namespaces", "namespace", "Namespace", false, &["create", "delete", "get", "list"], &["ns"]),
    ]})
}

/// `GET /openapi/v3`.
pub fn openapi_v3_root() -> Value {
    json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=podvisor1"}}})
}

/// `GET /openapi/v3/api/v1`: one patch operation per kind advertising `fieldValidation`.
pub fn openapi_v3_core() -> Value {
    let mut paths = serde_json::Map::new();
    for (res, kind) in [
        ("pods", "Pod"),
        ("configmaps", "ConfigMap"),
        ("secrets", "Secret"),
    ] {
        paths.insert(
            format!("/api/v1/namespaces/{{namespace}}/{res}/{{name}}"),
            json!({"patch": {
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    paths.insert(
        "/api/v1/namespaces/{name}".to_string(),
        json!({"patch": {
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Namespace"},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        }}),
    );
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths, "components": {"schemas": {}}})
}
