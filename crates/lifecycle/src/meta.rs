//! Name and object-metadata validation as the API server does it. Mirrors
//! k8s.io/apimachinery `pkg/util/validation` (`IsDNS1123Label`, `IsDNS1123Subdomain`,
//! `MaxLenError`, `RegexError`), `pkg/api/validate/content` (`IsLabelKey` — the "qualified name"
//! of label and annotation keys — and `IsLabelValue`), `pkg/api/validation`
//! (`ValidateObjectMeta`, `ValidateAnnotations`, `NameIsDNSSubdomain`, `maskTrailingDash`) and
//! `pkg/apis/meta/v1/validation` (`ValidateLabels`), plus the kubelet's
//! `truncatePodHostnameIfNeeded` (pkg/kubelet/kubelet_pods.go).
//!
//! Every check works on bytes as Go does: a NUL byte, or any other byte outside the allowed
//! characters, fails the character-set check, and lengths are byte lengths.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::field::FieldError;

/// Longest DNS (RFC 1123) label: 63.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS (RFC 1123) subdomain: 253.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest name part of a label key, and longest label value: 63.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Largest total size of an object's annotations (keys plus values): 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;
/// Longest pod hostname the kubelet hands to the runtime: 63.
pub const HOSTNAME_MAX_LENGTH: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Which `MaxLenError` wording applies: `pkg/util/validation` says "characters", the newer
/// `pkg/api/validate/content` (label keys and values) says "bytes".
#[derive(Clone, Copy)]
enum Unit {
    Characters,
    Bytes,
}

fn max_len_error(max: usize, unit: Unit) -> String {
    match unit {
        Unit::Characters => format!("must be no more than {max} characters"),
        Unit::Bytes => format!("must be no more than {max} bytes"),
    }
}

/// `RegexError`: the message, the examples and the regular expression.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => alnum(f) && alnum(l) && b.iter().all(|&c| alnum(c) || c == b'-'),
        _ => false,
    }
}

/// `^label(\.label)*$` (no length limit per label).
fn matches_dns_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns_label)
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `IsDNS1123Label`: the reasons `value` is not a DNS label (empty when it is one).
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH, Unit::Characters));
    }
    if !matches_dns_label(value) {
        if matches_dns_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn dns1123_subdomain(value: &str, unit: Unit) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH, unit));
    }
    if !matches_dns_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1123Subdomain`: the reasons `value` is not a DNS subdomain (empty when it is one).
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain(value, Unit::Characters)
}

/// `IsQualifiedName` / `content.IsLabelKey`: the reasons `value` is not a valid label or
/// annotation key (an optional DNS-subdomain prefix and `/`, then a name of at most 63 bytes).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix, Unit::Bytes)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_VALUE_MAX_LENGTH, Unit::Bytes)
        ));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue` / `content.IsLabelValue`: the reasons `value` is not a valid label value.
pub fn is_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH, Unit::Bytes));
    }
    if !(value.is_empty() || matches_label_key_name(value)) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `maskTrailingDash`: a generateName may end in `-` (a suffix follows), so its last
/// character is replaced before the name check.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// `ValidateNameFunc`: the reasons a name (or, with `prefix`, a generateName) is invalid.
pub type NameFn = fn(&str) -> Vec<String>;

/// `ValidateObjectMeta` for an object being created: generateName and name with `name_fn`
/// (`NameIsDNSSubdomain` for pods), the namespace as a DNS label when `namespaced`,
/// generation, labels, annotations and finalizers, in the API server's order. Errors are at
/// `{fld}.name`, `{fld}.labels`, `{fld}.annotations`, ...
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameFn,
    fld: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(g) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in name_fn(&mask_trailing_dash(g)) {
            errs.push(FieldError::invalid(format!("{fld}.generateName"), g, msg));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(
            format!("{fld}.name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in name_fn(name) {
                errs.push(FieldError::invalid(format!("{fld}.name"), name, msg));
            }
        }
    }
    if namespaced {
        match meta.namespace.as_deref().filter(|n| !n.is_empty()) {
            None => errs.push(FieldError::required(format!("{fld}.namespace"), "")),
            Some(ns) => {
                for msg in is_dns1123_label(ns) {
                    errs.push(FieldError::invalid(format!("{fld}.namespace"), ns, msg));
                }
            }
        }
    } else if meta.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
        errs.push(FieldError::forbidden(
            format!("{fld}.namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            format!("{fld}.generation"),
            g,
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(validate_labels(
        meta.labels.iter().flatten(),
        &format!("{fld}.labels"),
    ));
    errs.extend(validate_annotations(
        meta.annotations.iter().flatten(),
        &format!("{fld}.annotations"),
    ));
    for f in meta.finalizers.iter().flatten() {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(format!("{fld}.finalizers"), f, msg));
        }
    }
    errs
}

/// `ValidateLabels`: every key a qualified name, every value a label value; the errors are at
/// `fld` itself (not at the key), the key or the value shown.
pub fn validate_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    fld: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(fld, k, msg));
        }
        for msg in is_label_value(v) {
            errs.push(FieldError::invalid(fld, v, msg));
        }
    }
    errs
}

/// `ValidateAnnotations`: every key a qualified name (case does not matter), and keys plus
/// values at most [`TOTAL_ANNOTATION_SIZE_LIMIT_BYTES`] in all.
pub fn validate_annotations<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
    fld: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(fld, k, msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(FieldError::too_long(fld, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
    }
    errs
}

/// `truncatePodHostnameIfNeeded`: a hostname longer than 63 bytes is cut to 63 and then loses
/// its trailing `-` and `.`; a shorter one is kept as is. `None` when nothing is left (the
/// kubelet's "hostname for pod was invalid", which a validated name cannot reach).
pub fn truncate_pod_hostname(hostname: &str) -> Option<String> {
    if hostname.len() <= HOSTNAME_MAX_LENGTH {
        return Some(hostname.to_string());
    }
    let mut cut = HOSTNAME_MAX_LENGTH;
    while !hostname.is_char_boundary(cut) {
        cut -= 1;
    }
    let truncated = hostname[..cut].trim_end_matches(['-', '.']);
    (!truncated.is_empty()).then(|| truncated.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_and_subdomains() {
        assert!(is_dns1123_label("my-name").is_empty());
        assert_eq!(
            is_dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
        assert_eq!(
            is_dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert_eq!(
            is_dns1123_label("Bad_NS"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        // A subdomain has no limit per label, only 253 in all.
        assert!(is_dns1123_subdomain(&"a".repeat(64)).is_empty());
        assert!(is_dns1123_subdomain(&"a".repeat(253)).is_empty());
        assert_eq!(
            is_dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 characters".to_string()]
        );
        assert_eq!(
            is_dns1123_subdomain("a..b"),
            vec!["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]
        );
        assert_eq!(is_dns1123_subdomain("a\u{0}").len(), 1);
        assert_eq!(
            is_dns1123_subdomain(&format!("{}-", "a".repeat(253))).len(),
            2
        );
    }

    #[test]
    fn qualified_names() {
        for ok in ["app", "example.com/MyName", "a_b.c-d", "x/y"] {
            assert!(is_qualified_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_qualified_name("/x"),
            vec!["prefix part must be non-empty".to_string()]
        );
        assert_eq!(
            is_qualified_name("a/"),
            vec![
                "name part must be non-empty".to_string(),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()
            ]
        );
        assert_eq!(
            is_qualified_name(&"k".repeat(64)),
            vec!["name part must be no more than 63 bytes".to_string()]
        );
        assert_eq!(
            is_qualified_name("Bad.Prefix/x"),
            vec!["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]
        );
        assert_eq!(
            is_qualified_name("a/b/c"),
            vec!["a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_string()]
        );
        assert_eq!(is_qualified_name("a\u{0}b").len(), 1);
    }

    #[test]
    fn label_values() {
        assert!(is_label_value("").is_empty());
        assert!(is_label_value("my_value.1").is_empty());
        assert_eq!(
            is_label_value(&"v".repeat(64)),
            vec!["must be no more than 63 bytes".to_string()]
        );
        assert_eq!(
            is_label_value("-x"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string()]
        );
        assert_eq!(is_label_value("\u{0}").len(), 1);
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        }
    }

    #[test]
    fn object_meta_names_the_field_and_shows_the_value() {
        let long = "a".repeat(254);
        let errs = validate_object_meta(&meta(&long), true, is_dns1123_subdomain, "metadata");
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            format!(
                "metadata.name: Invalid value: \"{long}\": must be no more than 253 characters"
            )
        );
        assert!(validate_object_meta(
            &meta(&"a".repeat(64)),
            true,
            is_dns1123_subdomain,
            "metadata"
        )
        .is_empty());
        let mut m = meta("x");
        m.namespace = Some("a".repeat(64));
        let errs = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata");
        assert_eq!(
            errs[0].to_string(),
            format!(
                "metadata.namespace: Invalid value: \"{}\": must be no more than 63 characters",
                "a".repeat(64)
            )
        );
        let mut m = meta("x");
        m.name = None;
        m.namespace = None;
        let errs: Vec<String> = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Required value"
            ]
        );
    }

    #[test]
    fn labels_and_annotations() {
        let mut m = meta("x");
        m.labels = Some(
            [
                ("bad key".to_string(), "ok".to_string()),
                ("k".to_string(), "v\u{0}".to_string()),
            ]
            .into(),
        );
        m.annotations = Some([("Example.COM/Key".to_string(), "fine".to_string())].into());
        let errs = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with(
                "metadata.labels: Invalid value: \"bad key\": name part must consist of"
            ),
            "{shown:?}"
        );
        assert!(
            shown[1]
                .starts_with("metadata.labels: Invalid value: \"v\\x00\": a valid label must be"),
            "{shown:?}"
        );
        // Annotation keys are checked lower-cased, but shown as given.
        let mut m = meta("x");
        m.annotations = Some([("Bad_/x".to_string(), String::new())].into());
        let errs = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata");
        assert!(errs[0].to_string().starts_with("metadata.annotations: Invalid value: \"Bad_/x\": prefix part a lowercase RFC 1123 subdomain"), "{errs:?}");
        // 256 KiB in all: keys count too.
        let mut m = meta("x");
        m.annotations = Some(
            [(
                "a".to_string(),
                "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES - 1),
            )]
            .into(),
        );
        assert!(validate_object_meta(&m, true, is_dns1123_subdomain, "metadata").is_empty());
        m.annotations = Some(
            [(
                "ab".to_string(),
                "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES - 1),
            )]
            .into(),
        );
        let errs = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata");
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn generate_name_may_end_in_a_dash() {
        let mut m = meta("web-abcde");
        m.generate_name = Some("web-".into());
        assert!(validate_object_meta(&m, true, is_dns1123_subdomain, "metadata").is_empty());
        m.generate_name = Some("Web-".into());
        let errs = validate_object_meta(&m, true, is_dns1123_subdomain, "metadata");
        assert_eq!(errs[0].field, "metadata.generateName");
        assert_eq!(errs[0].bad_value.as_deref(), Some("\"Web-\""));
    }

    #[test]
    fn hostnames_are_truncated_only_when_too_long() {
        assert_eq!(truncate_pod_hostname("web").as_deref(), Some("web"));
        let exact = "a".repeat(63);
        assert_eq!(
            truncate_pod_hostname(&exact).as_deref(),
            Some(exact.as_str())
        );
        let long = format!("{}-b", "a".repeat(63));
        assert_eq!(
            truncate_pod_hostname(&long).as_deref(),
            Some(exact.as_str())
        );
        // Cut to 63, then the trailing '-' and '.' go.
        let dashed = format!("{}.-{}", "a".repeat(61), "b".repeat(10));
        assert_eq!(truncate_pod_hostname(&dashed), Some("a".repeat(61)));
        assert_eq!(truncate_pod_hostname(&"-".repeat(70)), None);
    }
}
