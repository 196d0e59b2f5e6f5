//! The resource table: what each served kind tells discovery (`APIResourceList`) and the
//! router. A new kind joins by adding a module with a [`Resource`] and its routes, and one
//! line in [`crate::served`] (mirrors the apiserver's `APIGroupInfo` /
//! `VersionedResourcesStorageMap` registration).

use serde_json::{json, Value};

/// One served resource, as discovery describes it.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// API group ("" for the core group).
    pub group: &'static str,
    /// Version, e.g. `v1`.
    pub version: &'static str,
    /// Plural name used in URLs, e.g. `pods`.
    pub plural: &'static str,
    /// `singularName`.
    pub singular: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// `verbs`.
    pub verbs: &'static [&'static str],
    /// `shortNames` (`kubectl get po`).
    pub short_names: &'static [&'static str],
    /// `categories` (`kubectl get all`).
    pub categories: &'static [&'static str],
    /// Subresources: (name, kind, verbs), e.g. `("log", "Pod", &["get"])`.
    pub subresources: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// The kind's OpenAPI schema (from the k8s-openapi type), for `kubectl explain`.
    pub schema: Option<SchemaFn>,
}

/// Adds a kind's schema (and what it references) to a generator; returns its reference.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The [`SchemaFn`] of a k8s-openapi type.
pub fn schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// The verbs of a kind served without `update`.
pub const CRUD: &[&str] = &["create", "delete", "get", "list", "patch", "watch"];
/// The verbs of a fully served kind (`update` is `PUT`: `kubectl replace`, `kubectl edit`).
pub const CRUD_UPDATE: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

impl Resource {
    /// `group/version` (`v1` for the core group).
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `APIResource` entries: the resource and its subresources.
    pub fn discovery(&self) -> Vec<Value> {
        let mut r = json!({"name": self.plural, "singularName": self.singular,
            "namespaced": self.namespaced, "kind": self.kind, "verbs": self.verbs});
        if !self.short_names.is_empty() {
            r["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            r["categories"] = json!(self.categories);
        }
        let mut out = vec![r];
        for (sub, kind, verbs) in self.subresources {
            out.push(
                json!({"name": format!("{}/{sub}", self.plural), "singularName": "",
                "namespaced": self.namespaced, "kind": kind, "verbs": verbs}),
            );
        }
        out
    }
}
