//! `labelSelector` and `fieldSelector` of list and watch requests: the whole label grammar
//! (`podvisor_lifecycle::labels`, apimachinery's `labels.Parse`) and field equality terms
//! (`fields.ParseSelector`: `k=v`, `k==v`, `k!=v`). A selector that does not parse is a 400.

use std::collections::{BTreeMap, HashMap};

use podvisor_lifecycle::labels::Selector as LabelSelector;

use crate::ApiError;

/// A parsed `fieldSelector` and `labelSelector`.
#[derive(Debug, Default, Clone)]
pub struct Selector {
    /// `fieldSelector` terms: (field, value, equal).
    pub fields: Vec<(String, String, bool)>,
    /// `labelSelector`.
    pub labels: LabelSelector,
}

fn parse_terms(s: &str) -> Vec<(String, String, bool)> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .filter_map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Some((k.trim().to_string(), v.trim().to_string(), false))
            } else {
                let (k, v) = t.split_once("==").or_else(|| t.split_once('='))?;
                Some((k.trim().to_string(), v.trim().to_string(), true))
            }
        })
        .collect()
}

impl Selector {
    /// Adds `metadata.namespace=ns` (a namespaced request).
    pub fn in_namespace(mut self, ns: Option<&str>) -> Self {
        if let Some(ns) = ns {
            self.fields
                .push(("metadata.namespace".into(), ns.to_string(), true));
        }
        self
    }

    /// The selectors of a list or watch request; `supported` are the fields of the kind.
    pub fn from(q: &HashMap<String, String>, supported: &[&str]) -> Result<Self, ApiError> {
        let fields = parse_terms(q.get("fieldSelector").map_or("", String::as_str));
        for (k, _, _) in &fields {
            if !supported.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
        }
        let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Selector { fields, labels })
    }

    /// Whether an object with these fields and labels is selected.
    pub fn matches(
        &self,
        field: impl Fn(&str) -> Option<String>,
        labels: &Option<BTreeMap<String, String>>,
    ) -> bool {
        self.fields
            .iter()
            .all(|(k, v, eq)| (field(k).as_deref() == Some(v.as_str())) == *eq)
            && self.labels.matches(labels.as_ref())
    }
}
