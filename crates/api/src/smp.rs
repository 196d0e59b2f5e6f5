//! Strategic merge patch (`application/strategic-merge-patch+json`) for the fields pods,
//! ConfigMaps and Secrets use: maps merge recursively, `null` deletes, lists with a patch merge
//! key merge element by element, other lists are replaced; the directives `$patch`
//! (`delete`/`replace`/`merge`), `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`
//! and `$retainKeys` are honoured. Mirrors apimachinery's `strategicpatch.StrategicMergePatch`
//! with the merge keys of `k8s.io/api` (kubectl-api.md §7.1). No crate implements it.

use serde_json::{Map, Value};

/// The patch merge key of a list field, by field name (the same name means the same key
/// wherever it appears in the kinds served).
pub fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "imagePullSecrets"
        | "volumes"
        | "env"
        | "resourceClaims"
        | "schedulingGates" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "podIPs" | "hostIPs" => "ip",
        _ => return None,
    })
}

/// Lists of scalars merged as sets (rather than replaced).
fn merged_primitive_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies `patch` to `target`.
pub fn apply(target: &mut Value, patch: &Value) {
    if let (Value::Object(t), Value::Object(p)) = (&mut *target, patch) {
        merge_map(t, p);
    } else {
        *target = patch.clone();
    }
}

fn merge_map(t: &mut Map<String, Value>, p: &Map<String, Value>) {
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        *t = p.clone();
        t.remove("$patch");
        return;
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k.starts_with('$') {
            if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(Value::Array(items)), Value::Array(del)) = (t.get_mut(list), v) {
                    items.retain(|i| !del.contains(i));
                }
            }
            continue;
        }
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(po) => match t.get_mut(k) {
                Some(Value::Object(to)) => merge_map(to, po),
                _ => {
                    let mut fresh = Map::new();
                    merge_map(&mut fresh, po);
                    t.insert(k.clone(), Value::Object(fresh));
                }
            },
            Value::Array(pa) => {
                let order = p
                    .get(&format!("$setElementOrder/{k}"))
                    .and_then(Value::as_array);
                let merged = match (merge_key(k), t.get(k)) {
                    (Some(key), Some(Value::Array(ta))) => merge_list(ta, pa, key, order),
                    (Some(key), _) => merge_list(&[], pa, key, order),
                    (None, Some(Value::Array(ta))) if merged_primitive_list(k) => {
                        let mut out = ta.clone();
                        out.extend(pa.iter().filter(|x| !ta.contains(x)).cloned());
                        out
                    }
                    _ => pa.clone(),
                };
                t.insert(k.clone(), Value::Array(merged));
            }
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
}

fn key_of<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|o| o.get(key))
}

fn merge_list(
    target: &[Value],
    patch: &[Value],
    key: &str,
    order: Option<&Vec<Value>>,
) -> Vec<Value> {
    if patch
        .iter()
        .any(|e| key_of(e, "$patch").and_then(Value::as_str) == Some("replace"))
    {
        return patch
            .iter()
            .filter(|e| key_of(e, "$patch").is_none())
            .cloned()
            .collect();
    }
    let mut out: Vec<Value> = target.to_vec();
    for pe in patch {
        let Some(id) = key_of(pe, key) else {
            out.push(pe.clone());
            continue;
        };
        let delete = key_of(pe, "$patch").and_then(Value::as_str) == Some("delete");
        match out.iter().position(|te| key_of(te, key) == Some(id)) {
            Some(i) if delete => {
                out.remove(i);
            }
            Some(i) => apply(&mut out[i], pe),
            None if delete => {}
            None => {
                let mut fresh = Value::Object(Map::new());
                apply(&mut fresh, pe);
                out.push(fresh);
            }
        }
    }
    if let Some(order) = order {
        let rank = |v: &Value| {
            let id = key_of(v, key);
            order
                .iter()
                .position(|o| key_of(o, key) == id)
                .unwrap_or(usize::MAX)
        };
        out.sort_by_key(rank);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::apply;
    use serde_json::json;

    fn patched(target: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
        let mut t = target;
        apply(&mut t, &patch);
        t
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let t = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let p = json!({"metadata": {"labels": {"a": null, "c": "3"}}});
        assert_eq!(
            patched(t, p),
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}})
        );
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name_in_the_given_order() {
        let t = json!({"spec": {"containers": [
            {"name": "api", "image": "a:1", "env": [{"name": "MODE", "value": "one"}, {"name": "EXTRA", "value": "x"}]},
            {"name": "sidecar", "image": "s:1"}]}});
        // The patch kubectl sends when EXTRA and the sidecar are removed and MODE changes.
        let p = json!({"spec": {
            "$setElementOrder/containers": [{"name": "api"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "MODE"}], "env": [{"name": "MODE", "value": "two"}, {"$patch": "delete", "name": "EXTRA"}], "name": "api"},
                {"$patch": "delete", "name": "sidecar"}]}});
        assert_eq!(
            patched(t, p),
            json!({"spec": {"containers": [
            {"name": "api", "image": "a:1", "env": [{"name": "MODE", "value": "two"}]}]}})
        );
    }

    #[test]
    fn lists_without_a_merge_key_are_replaced_and_finalizers_are_a_set() {
        let t = json!({"spec": {"containers": [{"name": "a", "command": ["x", "y"]}]}, "metadata": {"finalizers": ["f1"]}});
        let p = json!({"spec": {"containers": [{"name": "a", "command": ["z"]}]}, "metadata": {"finalizers": ["f2", "f1"]}});
        assert_eq!(
            patched(t, p),
            json!({"spec": {"containers": [{"name": "a", "command": ["z"]}]}, "metadata": {"finalizers": ["f1", "f2"]}})
        );
    }

    #[test]
    fn replace_and_retain_keys_directives() {
        let t =
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}], "x": {"a": 1, "b": 2}}});
        let p = json!({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/p"}, "$retainKeys": ["name", "hostPath"]}], "x": {"$patch": "replace", "c": 3}}});
        assert_eq!(
            patched(t, p),
            json!({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/p"}}], "x": {"c": 3}}})
        );
    }

    #[test]
    fn delete_from_primitive_list() {
        let t = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let p = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}});
        assert_eq!(
            patched(t, p),
            json!({"metadata": {"finalizers": ["a", "c"]}})
        );
    }
}
