//! Discovery and OpenAPI: `/version` (v1.32.x, which makes the kubectl dispatcher run
//! kubectl 1.32), legacy `/api`, `/apis`, `/api/v1`, and the minimal OpenAPI v3 document that
//! lets `kubectl apply` use server-side field validation (kubectl-api.md §1–§3).

use serde_json::{json, Value};

use crate::resource::Resource;

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

/// The named groups served, each with its versions (first = preferred), in table order.
fn groups(served: &[Resource]) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in served.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// `GET /apis`: the named groups of the resource table.
pub fn apis(served: &[Resource]) -> Value {
    let groups: Vec<Value> = groups(served)
        .into_iter()
        .map(|(name, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                .collect();
            json!({"name": name, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}` (an `APIGroup`), `None` when not served.
pub fn api_group(served: &[Resource], group: &str) -> Option<Value> {
    let apis = apis(served);
    let mut g = apis["groups"]
        .as_array()?
        .iter()
        .find(|g| g["name"] == group)?
        .clone();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

/// `GET /apis/{group}/{version}`: that group version's resources, `None` when not served.
pub fn group_version(served: &[Resource], group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = served
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .flat_map(Resource::discovery)
        .collect();
    (!resources.is_empty()).then(|| {
        json!({"kind": "APIResourceList", "apiVersion": "v1",
               "groupVersion": format!("{group}/{version}"), "resources": resources})
    })
}

/// `GET /api/v1`: the core group's resources, from the resource table.
pub fn api_v1(served: &[Resource]) -> Value {
    let resources: Vec<Value> = served
        .iter()
        .filter(|r| r.group.is_empty())
        .flat_map(Resource::discovery)
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources})
}

/// `GET /openapi/v3`.
pub fn openapi_v3_root() -> Value {
    json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=podvisor1"}}})
}

/// `GET /openapi/v3/api/v1`: one patch operation per patchable kind advertising
/// `fieldValidation` (so `kubectl apply` validates server-side).
pub fn openapi_v3_core(served: &[Resource]) -> Value {
    let mut paths = serde_json::Map::new();
    for r in served
        .iter()
        .filter(|r| r.group.is_empty() && r.verbs.contains(&"patch"))
    {
        let path = if r.namespaced {
            format!("/api/v1/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("/api/v1/{}/{{name}}", r.plural)
        };
        paths.insert(
            path,
            json!({"patch": {
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths, "components": {"schemas": {}}})
}
