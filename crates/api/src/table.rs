//! Server-side printing for `kubectl get` (meta.k8s.io/v1 Table): the kubelet-era pod columns
//! from `printPod` and the event columns (pkg/printers/internalversion/printers.go), with
//! `duration.HumanDuration` ages (kubectl-api.md §5).

use k8s_openapi::api::core::v1::{Event, Pod};
use podvisor_lifecycle::printer::pod_row;
use serde_json::{json, Value};

/// `duration.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        let r = s % 60;
        if r == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{r}s")
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        let r = m % 60;
        if r == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{r}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        let r = h % 24;
        if r == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{r}h")
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// `AGE` of a timestamp, as kubectl prints it.
pub fn age(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    match t {
        Some(t) => human_duration(jiff::Timestamp::now().as_second() - t.0.as_second()),
        None => "<unknown>".into(),
    }
}

/// A Table column definition.
pub fn column(name: &str, ty: &str, format: &str, priority: u8) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": name, "priority": priority})
}

/// A row's `object`: the metadata as `PartialObjectMetadata`.
pub fn row_object(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
}

/// The pod columns.
pub fn pod_columns() -> Value {
    json!([
        column("Name", "string", "name", 0),
        column("Ready", "string", "", 0),
        column("Status", "string", "", 0),
        column("Restarts", "string", "", 0),
        column("Age", "string", "", 0),
        column("IP", "string", "", 1),
        column("Node", "string", "", 1),
        column("Nominated Node", "string", "", 1),
        column("Readiness Gates", "string", "", 1),
    ])
}

/// One pod row.
pub fn pod_table_row(pod: &Pod) -> Value {
    let row = pod_row(pod);
    let restarts = match row.last_restart {
        Some(t) if row.restarts > 0 => format!(
            "{} ({} ago)",
            row.restarts,
            human_duration(jiff::Timestamp::now().as_second() - t.as_second())
        ),
        _ => row.restarts.to_string(),
    };
    let status = pod.status.clone().unwrap_or_default();
    let ip = status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map_or("<none>".to_string(), |i| i.ip.clone());
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "<none>".into());
    json!({
        "cells": [pod.metadata.name, row.ready, row.status, restarts, age(pod.metadata.creation_timestamp.as_ref()), ip, node, "<none>", "<none>"],
        "object": row_object(&pod.metadata),
    })
}

/// A Table of pods.
pub fn pod_table(pods: &[Pod], resource_version: u64, headers: bool) -> Value {
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": if headers { pod_columns() } else { json!([]) },
        "rows": pods.iter().map(pod_table_row).collect::<Vec<_>>(),
    })
}

/// A Table of events read at `resource_version` (a watch resumes from it).
pub fn event_table(events: &[Event], resource_version: u64) -> Value {
    let columns = json!([
        column("Last Seen", "string", "", 0),
        column("Type", "string", "", 0),
        column("Reason", "string", "", 0),
        column("Object", "string", "", 0),
        column("Subobject", "string", "", 1),
        column("Source", "string", "", 1),
        column("Message", "string", "", 0),
        column("First Seen", "string", "", 1),
        column("Count", "integer", "", 1),
        column("Name", "string", "", 1),
    ]);
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            let obj = format!(
                "{}/{}",
                e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
                e.involved_object.name.clone().unwrap_or_default()
            );
            let source = e.source.as_ref().map(|s| {
                [s.component.clone(), s.host.clone()].into_iter().flatten().collect::<Vec<_>>().join(", ")
            });
            json!({
                "cells": [age(e.last_timestamp.as_ref()), e.type_, e.reason, obj,
                          e.involved_object.field_path.clone().unwrap_or_default(), source.unwrap_or_default(),
                          e.message, age(e.first_timestamp.as_ref()), e.count.unwrap_or(1), e.metadata.name],
                "object": row_object(&e.metadata),
            })
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": resource_version.to_string()},
           "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn ages_print_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 120), "3h2m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(100 * 86400), "100d");
        assert_eq!(human_duration(-5), "<invalid>");
    }
}
