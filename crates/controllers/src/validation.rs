//! Deployment defaults and validation as the apiserver applies them: `SetDefaults_Deployment`
//! (pkg/apis/apps/v1/defaults.go) and `ValidateDeploymentSpec`, `ValidateDeploymentStrategy`,
//! `ValidateRollingUpdateDeployment`, `ValidatePodTemplateSpecForReplicaSet`,
//! `ValidateDeploymentUpdate` (pkg/apis/apps/validation/validation.go). Spec §1.1–§1.2.
//!
//! Only the workload rules are here; the pod template's own validation (containers, volumes,
//! ...) is the lifecycle core's. Bad values render as `field.ErrorBody` does: pointers are
//! dereferenced, numbers plain, maps and structs without a `String()` method as Go's `%#v`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podvisor_lifecycle::field::{FieldError, Rendered};
use podvisor_lifecycle::labels::Selector;

const NEGATIVE: &str = "must be greater than or equal to 0";
const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')";

/// `SetDefaults_Deployment`: replicas 1, RollingUpdate with 25%/25%, revisionHistoryLimit 10,
/// progressDeadlineSeconds 600 (minReadySeconds stays absent = 0).
pub fn set_defaults_deployment(d: &mut Deployment) {
    let spec = d.spec.get_or_insert_with(Default::default);
    spec.replicas.get_or_insert(1);
    let strategy = spec
        .strategy
        .get_or_insert_with(DeploymentStrategy::default);
    let t = strategy
        .type_
        .get_or_insert_with(|| "RollingUpdate".to_string())
        .clone();
    if t == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        ru.max_unavailable
            .get_or_insert_with(|| IntOrString::String("25%".into()));
        ru.max_surge
            .get_or_insert_with(|| IntOrString::String("25%".into()));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
}

/// Go's `%q`.
fn q(s: &str) -> String {
    format!("{s:?}")
}

/// `%#v` of a `map[string]string` (keys sorted, as fmt prints maps).
fn go_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let body: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", q(k), q(v)))
                .collect();
            format!("map[string]string{{{}}}", body.join(", "))
        }
    }
}

/// `%#v` of a `metav1.LabelSelector` value.
fn go_label_selector(s: &LabelSelector) -> String {
    let exprs = match s.match_expressions.as_ref() {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(es) => {
            let items: Vec<String> = es
                .iter()
                .map(|e| {
                    let values = match e.values.as_ref() {
                        None => "[]string(nil)".to_string(),
                        Some(v) => format!(
                            "[]string{{{}}}",
                            v.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        q(&e.key),
                        q(&e.operator)
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_map(s.match_labels.as_ref())
    )
}

/// `%#v` of an `intstr.IntOrString` value.
fn go_int_or_string(v: Option<&IntOrString>) -> String {
    match v {
        None | Some(IntOrString::Int(_)) => {
            let i = match v {
                Some(IntOrString::Int(i)) => *i,
                _ => 0,
            };
            format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}")
        }
        Some(IntOrString::String(s)) => {
            format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", q(s))
        }
    }
}

fn nonnegative(errs: &mut Vec<FieldError>, path: &str, v: i64) {
    if v < 0 {
        errs.push(FieldError::invalid(path, v, NEGATIVE));
    }
}

fn is_valid_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `getIntOrPercentValue`: the percentage number, or the int (an invalid string reads as 0).
fn int_or_percent_value(v: Option<&IntOrString>) -> i64 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => i64::from(*i),
        Some(IntOrString::String(s)) if is_valid_percent(s) => {
            s.trim_end_matches('%').parse().unwrap_or(i64::MAX)
        }
        Some(IntOrString::String(_)) => 0,
    }
}

fn validate_positive_int_or_percent(
    errs: &mut Vec<FieldError>,
    v: Option<&IntOrString>,
    path: &str,
) {
    match v {
        Some(IntOrString::String(s)) if !is_valid_percent(s) => {
            errs.push(FieldError::invalid(
                path,
                Rendered(go_int_or_string(v)),
                PERCENT_MSG,
            ));
        }
        Some(IntOrString::String(_)) => {}
        Some(IntOrString::Int(i)) => nonnegative(errs, path, i64::from(*i)),
        None => {}
    }
}

/// `ValidateRollingUpdateDeployment`.
fn validate_rolling_update(errs: &mut Vec<FieldError>, ru: &RollingUpdateDeployment, path: &str) {
    let mu = format!("{path}.maxUnavailable");
    validate_positive_int_or_percent(errs, ru.max_unavailable.as_ref(), &mu);
    validate_positive_int_or_percent(errs, ru.max_surge.as_ref(), &format!("{path}.maxSurge"));
    if int_or_percent_value(ru.max_unavailable.as_ref()) == 0
        && int_or_percent_value(ru.max_surge.as_ref()) == 0
    {
        errs.push(FieldError::invalid(
            mu.clone(),
            Rendered(go_int_or_string(ru.max_unavailable.as_ref())),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    if let Some(IntOrString::String(s)) = ru.max_unavailable.as_ref() {
        if is_valid_percent(s) && int_or_percent_value(ru.max_unavailable.as_ref()) > 100 {
            errs.push(FieldError::invalid(
                mu,
                Rendered(go_int_or_string(ru.max_unavailable.as_ref())),
                "must not be greater than 100%",
            ));
        }
    }
}

/// `ValidateDeploymentStrategy`.
fn validate_strategy(errs: &mut Vec<FieldError>, s: Option<&DeploymentStrategy>, path: &str) {
    let default = DeploymentStrategy::default();
    let s = s.unwrap_or(&default);
    match s.type_.as_deref().unwrap_or("") {
        "Recreate" => {
            if s.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    format!("{path}.rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match s.rolling_update.as_ref() {
            None => errs.push(FieldError::required(
                format!("{path}.rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => validate_rolling_update(errs, ru, &format!("{path}.rollingUpdate")),
        },
        other => errs.push(FieldError::not_supported(
            format!("{path}.type"),
            other.to_string(),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// `ValidateDeploymentSpec` (the workload rules; `spec` is the field path of the spec).
pub fn validate_deployment(d: &Deployment) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let default = Default::default();
    let spec = d.spec.as_ref().unwrap_or(&default);
    let path = "spec";
    nonnegative(
        &mut errs,
        &format!("{path}.replicas"),
        i64::from(spec.replicas.unwrap_or(1)),
    );

    // An absent selector decodes to the zero LabelSelector here; upstream's nil pointer is
    // "Required" and selects nothing.
    let sel = &spec.selector;
    let selector_empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty());
    let selector = if sel.match_labels.is_none() && sel.match_expressions.is_none() {
        errs.push(FieldError::required(format!("{path}.selector"), ""));
        None
    } else {
        if selector_empty {
            errs.push(FieldError::invalid(
                format!("{path}.selector"),
                Rendered(go_label_selector(sel)),
                "empty selector is invalid for deployment",
            ));
        }
        match Selector::from_label_selector(sel) {
            Ok(s) => Some(s),
            Err(_) => {
                errs.push(FieldError::invalid(
                    format!("{path}.selector"),
                    Rendered(go_label_selector(sel)),
                    "invalid label selector",
                ));
                return finish(errs, d, spec, path);
            }
        }
    };
    // ValidatePodTemplateSpecForReplicaSet: a nil selector is labels.Nothing() (matches
    // nothing, not Empty); an empty one is Everything (Empty: no check).
    let tlabels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let matches = match &selector {
        None => false,
        Some(s) => s.is_empty() || s.matches(tlabels),
    };
    if !matches {
        errs.push(FieldError::invalid(
            format!("{path}.template.metadata.labels"),
            Rendered(go_map(tlabels)),
            "`selector` does not match template `labels`",
        ));
    }
    finish(errs, d, spec, path)
}

fn finish(
    mut errs: Vec<FieldError>,
    _d: &Deployment,
    spec: &k8s_openapi::api::apps::v1::DeploymentSpec,
    path: &str,
) -> Vec<FieldError> {
    if let Some(pod) = spec.template.spec.as_ref() {
        let rp = pod.restart_policy.as_deref().unwrap_or("Always");
        if rp != "Always" {
            errs.push(FieldError::not_supported(
                format!("{path}.template.spec.restartPolicy"),
                rp.to_string(),
                &["Always"],
            ));
        }
        if pod.active_deadline_seconds.is_some() {
            errs.push(FieldError::forbidden(
                format!("{path}.template.spec.activeDeadlineSeconds"),
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            ));
        }
    }
    validate_strategy(
        &mut errs,
        spec.strategy.as_ref(),
        &format!("{path}.strategy"),
    );
    let mrs = spec.min_ready_seconds.unwrap_or(0);
    nonnegative(
        &mut errs,
        &format!("{path}.minReadySeconds"),
        i64::from(mrs),
    );
    if let Some(l) = spec.revision_history_limit {
        nonnegative(
            &mut errs,
            &format!("{path}.revisionHistoryLimit"),
            i64::from(l),
        );
    }
    if let Some(p) = spec.progress_deadline_seconds {
        nonnegative(
            &mut errs,
            &format!("{path}.progressDeadlineSeconds"),
            i64::from(p),
        );
        if p <= mrs {
            errs.push(FieldError::invalid(
                format!("{path}.progressDeadlineSeconds"),
                p,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// `ValidateDeploymentUpdate`: the spec rules plus an immutable `spec.selector`.
pub fn validate_deployment_update(new: &Deployment, old: &Deployment) -> Vec<FieldError> {
    let mut errs = validate_deployment(new);
    let ns = new
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let os = old
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let norm = |s: &LabelSelector| {
        (
            s.match_labels.clone().unwrap_or_default(),
            s.match_expressions.clone().unwrap_or_default(),
        )
    };
    if norm(&ns) != norm(&os) {
        errs.push(FieldError::invalid(
            "spec.selector",
            Rendered(go_label_selector(&ns)),
            "field is immutable",
        ));
    }
    errs
}
