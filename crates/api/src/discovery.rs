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

/// The OpenAPI v3 documents: `(path, document)` per served group version, the path as
/// `/openapi/v3` lists it (`api/v1`, `apis/<group>/<version>`).
pub fn openapi_v3_documents(served: &[Resource]) -> Vec<(String, Value)> {
    let mut gvs: Vec<(&str, &str)> = Vec::new();
    for r in served {
        if !gvs.contains(&(r.group, r.version)) {
            gvs.push((r.group, r.version));
        }
    }
    gvs.into_iter()
        .map(|(group, version)| {
            let path = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            (path, openapi_v3_group(served, group, version))
        })
        .collect()
}

/// A short content hash for `?hash=` (kubectl caches documents by it).
pub fn content_hash(doc: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// `GET /openapi/v3`: every group version's document, by content hash.
pub fn openapi_v3_root(documents: &[(String, Value)]) -> Value {
    let paths: serde_json::Map<String, Value> = documents
        .iter()
        .map(|(path, doc)| {
            let url = format!("/openapi/v3/{path}?hash={}", content_hash(doc));
            (path.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// One group version's OpenAPI v3 document: a patch operation per patchable kind advertising
/// `fieldValidation` (so `kubectl apply` validates server-side), and the kinds' schemas from
/// the k8s-openapi types with `x-kubernetes-group-version-kind` (so `kubectl explain` works).
pub fn openapi_v3_group(served: &[Resource], group: &str, version: &str) -> Value {
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut kinds = Vec::new();
    for r in served
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        if let Some(schema) = r.schema {
            let reference = schema(&mut generator);
            if let Some(name) = reference
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|s| s.rsplit('/').next())
            {
                kinds.push((name.to_string(), r.kind));
            }
        }
        if !r.verbs.contains(&"patch") {
            continue;
        }
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
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
    let mut schemas = generator.take_definitions(true);
    for (name, kind) in kinds {
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            s.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "version": version, "kind": kind}]),
            );
        }
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"},
           "paths": paths, "components": {"schemas": schemas}})
}
