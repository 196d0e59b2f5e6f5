//! Typed decoding of a manifest document with Kubernetes-style errors, and the known fields of
//! every object in it (for "did you mean" hints on unknown fields).
//!
//! serde stops at the first mistyped value and names no field; here every mistyped value of a
//! document is reported with its path (`spec.containers[0].ports[0].containerPort`), its value
//! and the type the schema wants, as a `field.TypeInvalid` error worded after the API server's
//! schema validation (`must be of type integer`). The path comes from `serde_path_to_error`;
//! after each error the offending value is removed (an object member: every k8s-openapi field
//! is optional on the wire) or replaced by the zero value of the wanted type (an array item, so
//! that later indices stay right), and the decode is tried again.

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess};
use serde::Deserializer;
use serde_json::Value;

use crate::field::{quote, FieldError, Rendered};

/// At most this many errors are reported for one document.
const MAX_ERRORS: usize = 100;

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn render_path(steps: &[Step]) -> String {
    let mut s = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Step::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

fn lookup<'a>(v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn lookup_mut<'a>(v: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    steps.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// A JSON value as `field.Error.ErrorBody()` shows it: strings quoted, numbers and booleans
/// plain, arrays and objects as JSON.
fn render_value(v: &Value) -> Rendered {
    Rendered(match v {
        Value::String(s) => quote(s),
        other => other.to_string(),
    })
}

/// The OpenAPI type serde's "expected ..." names, and the zero value of that type.
fn wanted_type(expected: &str) -> Option<(&'static str, Value)> {
    let e = expected.trim();
    Some(match e {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "isize"
        | "usize" => ("integer", Value::from(0)),
        "f32" | "f64" => ("number", Value::from(0)),
        "a string" | "a borrowed string" | "a character" | "a base64-encoded string" => {
            ("string", Value::from(""))
        }
        "a boolean" => ("boolean", Value::Bool(false)),
        "a sequence" => ("array", Value::Array(Vec::new())),
        "a map" => ("object", Value::Object(Default::default())),
        "IntOrString" => ("integer or string", Value::from(0)),
        // k8s-openapi's struct visitors expect their type's name (`ContainerPort`).
        _ if e.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && e.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            ("object", Value::Object(Default::default()))
        }
        _ => return None,
    })
}

/// The field error for serde's message `msg` about `value` at `path`, and the value that lets
/// the decode go on (when one is known).
fn field_error(path: &str, value: Option<&Value>, msg: &str) -> (FieldError, Option<Value>) {
    let shown = value.map_or(Rendered("null".into()), render_value);
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        if let Some((_, expected)) = rest.rsplit_once(", expected ") {
            if let Some((ty, zero)) = wanted_type(expected) {
                return (
                    FieldError::type_invalid(path, shown, format!("must be of type {ty}")),
                    Some(zero),
                );
            }
            return (
                FieldError::type_invalid(path, shown, format!("expected {expected}")),
                None,
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        if let Some((_, expected)) = rest.rsplit_once(", expected ") {
            return (
                FieldError::invalid(path, shown, format!("expected {expected}")),
                wanted_type(expected).map(|(_, z)| z),
            );
        }
    }
    (FieldError::invalid(path, shown, msg), None)
}

/// Decodes `doc` into `T`, or reports every value of `doc` that does not fit `T`, in document
/// order, each with its path (no path for the document itself: `field` is "").
pub fn decode<T: DeserializeOwned>(doc: &Value) -> Result<T, Vec<FieldError>> {
    let mut work = doc.clone();
    let mut errors: Vec<FieldError> = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(work.clone()) {
            Ok(t) if errors.is_empty() => return Ok(t),
            Ok(_) => return Err(errors),
            Err(e) => e,
        };
        let mut steps = Vec::new();
        let mut exact = true;
        for seg in err.path().iter() {
            match seg {
                serde_path_to_error::Segment::Map { key } => steps.push(Step::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => steps.push(Step::Index(*index)),
                serde_path_to_error::Segment::Enum { .. } => {}
                serde_path_to_error::Segment::Unknown => {
                    exact = false;
                    break;
                }
            }
        }
        let msg = err.into_inner().to_string();
        let path = render_path(&steps);
        let (error, zero) = field_error(&path, lookup(&work, &steps), &msg);
        errors.push(error);
        if !exact || steps.is_empty() || errors.len() >= MAX_ERRORS {
            return Err(errors);
        }
        // Take the offending value out of the way and try again.
        let (last, parent) = match steps.split_last() {
            Some((last, parent)) => (last.clone(), parent),
            None => return Err(errors),
        };
        let Some(container) = lookup_mut(&mut work, parent) else {
            return Err(errors);
        };
        match (last, container) {
            (Step::Key(k), Value::Object(o)) => {
                o.remove(&k);
            }
            (Step::Index(i), Value::Array(a)) => match (zero, a.get_mut(i)) {
                (Some(z), Some(slot)) if *slot != z => *slot = z,
                _ => return Err(errors),
            },
            _ => return Err(errors),
        }
    }
}

/// The field names of every struct met while decoding `doc` as `T`, by path (`""` for the
/// document, `spec.containers[0]` for a container): what serde's `deserialize_struct` is told.
/// Empty when `doc` does not decode.
pub fn known_fields<T: DeserializeOwned>(doc: &Value) -> BTreeMap<String, &'static [&'static str]> {
    let mut out = BTreeMap::new();
    let probe = Probe {
        value: doc.clone(),
        path: String::new(),
        out: &mut out,
    };
    if T::deserialize(probe).is_err() {
        return BTreeMap::new();
    }
    out
}

/// A deserializer over a JSON value that records the field lists of the structs it fills.
struct Probe<'o> {
    value: Value,
    path: String,
    out: &'o mut BTreeMap<String, &'static [&'static str]>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

struct ProbeMap<'o> {
    entries: std::vec::IntoIter<(String, Value)>,
    pending: Option<(String, Value)>,
    path: String,
    out: &'o mut BTreeMap<String, &'static [&'static str]>,
}

impl<'de> MapAccess<'de> for ProbeMap<'_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.entries.next() {
            Some((k, v)) => {
                let key = seed.deserialize(k.clone().into_deserializer())?;
                self.pending = Some((k, v));
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (k, v) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("value without a key"))?;
        seed.deserialize(Probe {
            value: v,
            path: child(&self.path, &k),
            out: self.out,
        })
    }
}

struct ProbeSeq<'o> {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    path: String,
    out: &'o mut BTreeMap<String, &'static [&'static str]>,
}

impl<'de> SeqAccess<'de> for ProbeSeq<'_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.items.next() {
            Some((i, v)) => seed
                .deserialize(Probe {
                    value: v,
                    path: format!("{}[{i}]", self.path),
                    out: self.out,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

impl<'o> Probe<'o> {
    fn map(self) -> Option<ProbeMap<'o>> {
        match self.value {
            Value::Object(o) => Some(ProbeMap {
                entries: o.into_iter().collect::<Vec<_>>().into_iter(),
                pending: None,
                path: self.path,
                out: self.out,
            }),
            _ => None,
        }
    }
}

macro_rules! forward_to_value {
    ($($method:ident)*) => {
        $(fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.value.$method(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = serde_json::Error;

    forward_to_value! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
        deserialize_ignored_any
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(a) => visitor.visit_seq(ProbeSeq {
                items: a.into_iter().enumerate(),
                path: self.path,
                out: self.out,
            }),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: de::Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_map<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.value.is_object() {
            match self.map() {
                Some(m) => visitor.visit_map(m),
                None => Err(de::Error::custom("not an object")),
            }
        } else {
            self.value.deserialize_map(visitor)
        }
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if self.value.is_object() {
            self.out.insert(self.path.clone(), fields);
            match self.map() {
                Some(m) => visitor.visit_map(m),
                None => Err(de::Error::custom("not an object")),
            }
        } else {
            self.value.deserialize_struct(name, fields, visitor)
        }
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_enum(name, variants, visitor)
    }
}

/// The one known field `unknown` was probably meant to be: the only one equal to it ignoring
/// case, or else the only one within an edit distance of 2.
pub fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = unknown.to_lowercase();
    let same_case: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| k.to_lowercase() == lower)
        .collect();
    if let [only] = same_case.as_slice() {
        return Some(only);
    }
    if !same_case.is_empty() {
        return None;
    }
    let near: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| strsim::levenshtein(unknown, k) <= 2)
        .collect();
    match near.as_slice() {
        [only] => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn every_mistyped_value_is_reported_with_its_path_and_value() {
        let doc = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {"a": 1}},
            "spec": {"containers": [
                {"name": "a", "ports": [{"containerPort": "8080"}, {"containerPort": 1.5}], "command": ["x", 2, "y"]},
                {"name": 7, "tty": "yes"}
            ], "terminationGracePeriodSeconds": "30"}
        });
        let errs: Vec<String> = decode::<Pod>(&doc)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        for want in [
            "metadata.labels.a: Invalid value: 1: must be of type string",
            "spec.containers[0].ports[0].containerPort: Invalid value: \"8080\": must be of type integer",
            "spec.containers[0].ports[1].containerPort: Invalid value: 1.5: must be of type integer",
            "spec.containers[0].command[1]: Invalid value: 2: must be of type string",
            "spec.containers[1].name: Invalid value: 7: must be of type string",
            "spec.containers[1].tty: Invalid value: \"yes\": must be of type boolean",
            "spec.terminationGracePeriodSeconds: Invalid value: \"30\": must be of type integer",
        ] {
            assert!(errs.iter().any(|e| e == want), "{want} not in {errs:#?}");
        }
        assert_eq!(errs.len(), 7, "{errs:#?}");
    }

    #[test]
    fn objects_and_arrays_of_the_wrong_kind() {
        let doc = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": 5, "volumes": [{"name": "v", "hostPath": "x"}]}});
        let errs: Vec<String> = decode::<Pod>(&doc)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.containers: Invalid value: 5: must be of type array",
                "spec.volumes[0].hostPath: Invalid value: \"x\": must be of type object",
            ]
        );
        let errs = decode::<Pod>(&json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": true}}}]}})).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: true: must be of type integer or string"
        );
    }

    #[test]
    fn a_good_document_decodes() {
        let doc = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "a"}]}});
        let p: Pod = decode(&doc).unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("x"));
    }

    #[test]
    fn known_fields_are_recorded_by_path() {
        let doc = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a", "comand": ["x"]}]}});
        let known = known_fields::<Pod>(&doc);
        assert!(known[""].contains(&"spec"));
        assert!(known["spec"].contains(&"restartPolicy"));
        assert!(known["spec.containers[0]"].contains(&"command"));
    }

    #[test]
    fn suggestions_need_one_close_field() {
        let known = ["command", "args", "image", "imagePullPolicy", "name"];
        assert_eq!(suggest("comand", &known), Some("command"));
        assert_eq!(suggest("Image", &known), Some("image"));
        assert_eq!(suggest("imagepullpolicy", &known), Some("imagePullPolicy"));
        assert_eq!(suggest("xyz", &known), None);
        // Two as close: no guess.
        assert_eq!(suggest("nam", &["name", "nap"]), None);
    }
}
