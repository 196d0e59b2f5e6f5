//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`): the `k8s\0`
//! magic, the `runtime.Unknown` envelope and the object inside, decoded with the k8s-pb types
//! and turned into the JSON the handlers take (the apiserver's protobuf serializer,
//! `k8s.io/apimachinery/pkg/runtime/serializer/protobuf`). client-go's typed clients send
//! protobuf for built-in kinds, which is what `kubectl create namespace|configmap|secret`
//! use; every other command sends JSON. Answers stay JSON (kubectl accepts them).

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as pb;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{json, Map, Value};

use crate::ApiError;

/// The protobuf media type.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf body of one of the kinds served to its JSON form.
pub fn decode(bytes: &[u8]) -> Result<Value, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("decoding protobuf body: {why}"));
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("missing the k8s protobuf prefix".into()))?;
    let unknown = Unknown::decode(body).map_err(|e| bad(e.to_string()))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let (metadata, mut rest) = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let ns = pb::Namespace::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            (ns.metadata, Map::new())
        }
        ("v1", "ConfigMap") => {
            let cm = pb::ConfigMap::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let mut rest = Map::new();
            if !cm.data.is_empty() {
                rest.insert("data".into(), json!(cm.data));
            }
            if !cm.binary_data.is_empty() {
                rest.insert("binaryData".into(), json!(base64_map(&cm.binary_data)));
            }
            if let Some(i) = cm.immutable {
                rest.insert("immutable".into(), json!(i));
            }
            (cm.metadata, rest)
        }
        ("v1", "Secret") => {
            let s = pb::Secret::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let mut rest = Map::new();
            if !s.data.is_empty() {
                rest.insert("data".into(), json!(base64_map(&s.data)));
            }
            if !s.string_data.is_empty() {
                rest.insert("stringData".into(), json!(s.string_data));
            }
            if let Some(t) = s.r#type {
                rest.insert("type".into(), json!(t));
            }
            if let Some(i) = s.immutable {
                rest.insert("immutable".into(), json!(i));
            }
            (s.metadata, rest)
        }
        _ => {
            return Err(ApiError::unsupported_media_type(&format!(
                "{PROTOBUF} for {kind} ({api_version}); send it as JSON"
            )))
        }
    };
    rest.insert("apiVersion".into(), json!(api_version));
    rest.insert("kind".into(), json!(kind));
    rest.insert(
        "metadata".into(),
        metadata_json(metadata.unwrap_or_default()),
    );
    Ok(Value::Object(rest))
}

/// Bytes as the API's JSON has them (base64, through k8s-openapi's `ByteString`).
fn base64_map(m: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, k8s_openapi::ByteString> {
    m.iter()
        .map(|(k, v)| (k.clone(), k8s_openapi::ByteString(v.clone())))
        .collect()
}

/// The metadata a client sets on create (the server sets the rest).
fn metadata_json(m: ObjectMeta) -> Value {
    let mut out = Map::new();
    for (k, v) in [
        ("name", m.name),
        ("generateName", m.generate_name),
        ("namespace", m.namespace),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), json!(v));
        }
    }
    if !m.labels.is_empty() {
        out.insert("labels".into(), json!(m.labels));
    }
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), json!(m.annotations));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    #[test]
    fn a_config_map_body_decodes_to_its_json_form() {
        let cm = pb::ConfigMap {
            metadata: Some(ObjectMeta {
                name: Some("settings".into()),
                labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }),
            data: [("mode".to_string(), "fast".to_string())].into(),
            binary_data: [("blob".to_string(), vec![0u8, 1, 2])].into(),
            immutable: None,
        };
        let v = decode(&envelope("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(v["kind"], "ConfigMap");
        assert_eq!(v["metadata"]["name"], "settings");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["data"]["mode"], "fast");
        assert_eq!(v["binaryData"]["blob"], "AAEC");
    }

    #[test]
    fn a_secret_and_a_namespace_decode_and_other_kinds_are_415() {
        let s = pb::Secret {
            metadata: Some(ObjectMeta {
                name: Some("token".into()),
                ..Default::default()
            }),
            data: [("k".to_string(), b"v".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&envelope("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!(v["data"]["k"], "dg==");
        assert_eq!(v["type"], "Opaque");
        let ns = pb::Namespace {
            metadata: Some(ObjectMeta {
                name: Some("team-a".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = decode(&envelope("v1", "Namespace", ns.encode_to_vec())).unwrap();
        assert_eq!(v["metadata"]["name"], "team-a");
        let e = decode(&envelope("apps/v1", "Deployment", vec![])).unwrap_err();
        assert_eq!(e.code, 415);
        assert_eq!(decode(b"{}").unwrap_err().code, 400);
    }
}
