//! Events: list and watch, with field selectors on the involved object (the apiserver's event
//! registry; events come from the pods' workers as the kubelet's recorder would send them).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use k8s_openapi::api::core::v1::Event;
use podvisor_engine::store::StoreChange;
use serde_json::{json, Value};

use crate::http::{json_response, list_response, wants_table, wants_watch, ApiResult, Params};
use crate::resource::{schema, Resource};
use crate::selectors::Selector;
use crate::table::event_table;
use crate::watch::{watch, WatchKind};
use crate::Shared;

/// `events` in the core group.
pub const RESOURCE: Resource = Resource {
    group: "",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    verbs: &["get", "list", "watch"],
    short_names: &["ev"],
    categories: &[],
    subresources: &[],
    schema: Some(schema::<k8s_openapi::api::core::v1::Event>),
};

/// The routes of events.
pub fn routes() -> axum::Router<Shared> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/v1/events", get(events_all))
        .route("/api/v1/namespaces/{ns}/events", get(events))
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "involvedObject.kind",
    "involvedObject.apiVersion",
    "involvedObject.fieldPath",
    "reason",
    "type",
    "metadata.namespace",
    "metadata.name",
];

fn event_field(e: &Event, k: &str) -> Option<String> {
    let o = &e.involved_object;
    match k {
        "involvedObject.name" => o.name.clone(),
        "involvedObject.namespace" => o.namespace.clone(),
        "involvedObject.uid" => o.uid.clone(),
        "involvedObject.kind" => o.kind.clone(),
        "involvedObject.apiVersion" => o.api_version.clone(),
        "involvedObject.fieldPath" => o.field_path.clone(),
        "reason" => e.reason.clone(),
        "type" => e.type_.clone(),
        "metadata.namespace" => e.metadata.namespace.clone(),
        "metadata.name" => e.metadata.name.clone(),
        _ => None,
    }
}

fn list_events(
    st: &Shared,
    ns: Option<String>,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult {
    let sel = Selector::from(q, EVENT_FIELDS)?.in_namespace(ns.as_deref());
    let table = wants_table(headers);
    let store = st.engine.store();
    let (events, rv) = store.list_events();
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| sel.matches(|k| event_field(e, k), &e.metadata.labels))
        .collect();
    if wants_watch(q) {
        // Events are not kept in the watch history: a watch from a later resourceVersion
        // gets new events only.
        return watch(
            store,
            q,
            WatchKind {
                initial: events,
                initial_rv: rv,
                resumable: false,
                select: move |c: &StoreChange| match c {
                    StoreChange::Event(e)
                        if sel.matches(|k| event_field(e, k), &e.metadata.labels) =>
                    {
                        let kind = if e.count.unwrap_or(1) > 1 {
                            "MODIFIED"
                        } else {
                            "ADDED"
                        };
                        Some((kind, (**e).clone()))
                    }
                    _ => None,
                },
                render: move |e: &Event, first: bool| {
                    if table {
                        let rv = e.metadata.resource_version.as_deref().unwrap_or("0");
                        let mut t = event_table(std::slice::from_ref(e), rv.parse().unwrap_or(0));
                        if !first {
                            t["columnDefinitions"] = json!([]);
                        }
                        t
                    } else {
                        let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                        v["kind"] = json!("Event");
                        v["apiVersion"] = json!("v1");
                        v
                    }
                },
            },
        );
    }
    if table {
        return Ok(json_response(
            axum::http::StatusCode::OK,
            &event_table(&events, rv),
        ));
    }
    let items: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(list_response("EventList", "v1", items, rv))
}

/// `GET /api/v1/events`.
pub async fn events_all(
    State(st): State<Shared>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult {
    list_events(&st, None, &q, &headers)
}

/// `GET /api/v1/namespaces/{ns}/events`.
pub async fn events(
    State(st): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> ApiResult {
    list_events(&st, Some(ns), &q, &headers)
}
