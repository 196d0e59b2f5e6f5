//! Typed field-level validation errors. Mirrors `field.Error` / `field.ErrorType` and their
//! constructors (`field.Required`, `field.Invalid`, `field.NotSupported`, `field.Forbidden`,
//! `field.NotFound`, `field.Duplicate`, `field.TooLong`, `field.TooMany`, `field.InternalError`,
//! `field.TypeInvalid`)
//! of k8s.io/apimachinery/pkg/util/validation/field (errors.go), including `Error()` /
//! `ErrorBody()` rendering; the type's `reason()` is the `StatusCause.reason` of an Invalid
//! Status (k8s.io/apimachinery/pkg/api/errors `NewInvalid`).

use std::fmt;

/// `field.ErrorType`: why a field is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A required value is missing (`field.Required`).
    Required,
    /// A malformed value (`field.Invalid`).
    Invalid,
    /// A value outside an enumeration (`field.NotSupported`).
    NotSupported,
    /// A value not permitted in this context (`field.Forbidden`).
    Forbidden,
    /// A reference that does not resolve (`field.NotFound`).
    NotFound,
    /// A value that must be unique is repeated (`field.Duplicate`).
    Duplicate,
    /// A value is too long (`field.TooLong`); the value is never shown.
    TooLong,
    /// A list has too many items (`field.TooMany`).
    TooMany,
    /// An error not caused by the input (`field.InternalError`).
    Internal,
    /// A value of the wrong JSON type (`field.TypeInvalid`).
    TypeInvalid,
}

impl ErrorType {
    /// The machine-readable value: the Status cause's `reason`, e.g. `FieldValueRequired`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human phrase (`ErrorType.String()`), e.g. `Required value`.
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::NotFound => "Not found",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }

    /// Whether `ErrorBody()` leaves the bad value out whatever it is.
    fn omits_value(self) -> bool {
        matches!(
            self,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal
        )
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// A value as `ErrorBody()` renders it: numbers plain (`90`), strings quoted (`"foo"`).
pub trait BadValue {
    /// The rendered value.
    fn render(&self) -> String;
}

/// Quotes a string value as Go's `%q` does: `"` and `\\` escaped, `\n`, `\t`, `\r` and the other
/// C escapes by name, the remaining ASCII controls (NUL, DEL, ...) as `\xNN`, other
/// non-printable characters as `\uNNNN`; printable text (including non-ASCII) is kept.
pub(crate) fn quote(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl BadValue for str {
    fn render(&self) -> String {
        quote(self)
    }
}

impl BadValue for String {
    fn render(&self) -> String {
        quote(self)
    }
}

impl<T: BadValue + ?Sized> BadValue for &T {
    fn render(&self) -> String {
        (**self).render()
    }
}

macro_rules! plain_bad_value {
    ($($t:ty),*) => {
        $(impl BadValue for $t {
            fn render(&self) -> String {
                self.to_string()
            }
        })*
    };
}
plain_bad_value!(i32, i64, u16, u32, u64, usize, bool);

/// A value rendered by the caller, used as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered(pub String);

impl BadValue for Rendered {
    fn render(&self) -> String {
        self.0.clone()
    }
}

/// One field-level validation error (`field.Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Why the field is invalid.
    pub type_: ErrorType,
    /// The field path, e.g. `spec.containers[0].command`.
    pub field: String,
    /// The offending value as Kubernetes renders it (`90`, `"foo"`); `None` when there is none
    /// to show.
    pub bad_value: Option<String>,
    /// The detail ("" for none), e.g. `must be 1`.
    pub detail: String,
}

impl FieldError {
    fn new(
        type_: ErrorType,
        field: impl Into<String>,
        bad_value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            type_,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `field.Required`: a required value is missing; `detail` may be "".
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }

    /// `field.Invalid`: a malformed value.
    pub fn invalid(
        field: impl Into<String>,
        value: impl BadValue,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.render()), detail)
    }

    /// `field.NotSupported`: a value outside an enumeration; the detail lists the supported
    /// values quoted, in the given order: `supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl BadValue,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value.render()), detail)
    }

    /// `field.Forbidden`: a value not permitted here.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, None, detail)
    }

    /// `field.NotFound`: a reference that does not resolve.
    pub fn not_found(field: impl Into<String>, value: impl BadValue) -> Self {
        Self::new(ErrorType::NotFound, field, Some(value.render()), "")
    }

    /// `field.Duplicate`: a value that must be unique is repeated.
    pub fn duplicate(field: impl Into<String>, value: impl BadValue) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.render()), "")
    }

    /// `field.TooLong`: `may not be more than {max_bytes} bytes` (`byte` for 1); the value is
    /// never shown. The wording of Kubernetes 1.34 and later.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self::new(
            ErrorType::TooLong,
            field,
            None,
            format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// `field.TypeInvalid`: a value of the wrong type, e.g. a string where an integer belongs.
    pub fn type_invalid(
        field: impl Into<String>,
        value: impl BadValue,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(ErrorType::TypeInvalid, field, Some(value.render()), detail)
    }

    /// `field.TooMany`: `must have at most {max} items`, showing the actual count.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            field,
            Some(actual.to_string()),
            format!("must have at most {max} items"),
        )
    }

    /// `field.InternalError`: an error not caused by the input; `detail` is its message.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, field, None, detail)
    }

    /// The Status cause's `reason`, e.g. `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.type_.reason()
    }

    /// `ErrorBody()`: everything after `{field}: `, i.e. what a Status cause's `message` holds,
    /// e.g. `Invalid value: 90: must be less than or equal to ...`.
    pub fn message(&self) -> String {
        let mut s = self.type_.phrase().to_string();
        if let Some(v) = self
            .bad_value
            .as_deref()
            .filter(|_| !self.type_.omits_value())
        {
            s.push_str(": ");
            s.push_str(v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

impl std::error::Error for FieldError {}

/// The errors joined with `, ` (as `IntakeError::Invalid` shows them).
pub(crate) fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_shows_the_detail_only_when_there_is_one() {
        let e = FieldError::required("spec.containers", "");
        assert_eq!(e.to_string(), "spec.containers: Required value");
        assert_eq!(e.reason(), "FieldValueRequired");
        let e = FieldError::required("metadata.name", "name or generateName is required");
        assert_eq!(
            e.to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            e.message(),
            "Required value: name or generateName is required"
        );
    }

    #[test]
    fn invalid_renders_numbers_plain_and_strings_quoted() {
        let e = FieldError::invalid("spec.x.sleep.seconds", 90_i64, "must be small");
        assert_eq!(
            e.to_string(),
            "spec.x.sleep.seconds: Invalid value: 90: must be small"
        );
        assert_eq!(e.bad_value.as_deref(), Some("90"));
        assert_eq!(e.reason(), "FieldValueInvalid");
        let e = FieldError::invalid("metadata.namespace", "Bad_NS", "a lowercase RFC 1123 label");
        assert_eq!(
            e.to_string(),
            "metadata.namespace: Invalid value: \"Bad_NS\": a lowercase RFC 1123 label"
        );
        assert_eq!(
            e.message(),
            "Invalid value: \"Bad_NS\": a lowercase RFC 1123 label"
        );
    }

    #[test]
    fn not_supported_lists_the_supported_values_quoted_in_order() {
        let e = FieldError::not_supported(
            "spec.restartPolicy",
            "Sometimes",
            &["Always", "Never", "OnFailure"],
        );
        assert_eq!(
            e.to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""
        );
        assert_eq!(e.reason(), "FieldValueNotSupported");
        let e = FieldError::not_supported("f", "x", &[]);
        assert_eq!(e.to_string(), "f: Unsupported value: \"x\"");
    }

    #[test]
    fn forbidden_never_shows_a_value() {
        let e = FieldError::forbidden("spec.x.livenessProbe", "may not be set");
        assert_eq!(
            e.to_string(),
            "spec.x.livenessProbe: Forbidden: may not be set"
        );
        assert_eq!(e.reason(), "FieldValueForbidden");
        assert_eq!(e.message(), "Forbidden: may not be set");
    }

    #[test]
    fn not_found_and_duplicate_show_the_value_without_detail() {
        let e = FieldError::not_found("spec.x.volumeMounts[0].name", "v");
        assert_eq!(
            e.to_string(),
            "spec.x.volumeMounts[0].name: Not found: \"v\""
        );
        assert_eq!(e.reason(), "FieldValueNotFound");
        let e = FieldError::duplicate("spec.containers[1].name", "a");
        assert_eq!(
            e.to_string(),
            "spec.containers[1].name: Duplicate value: \"a\""
        );
        assert_eq!(e.reason(), "FieldValueDuplicate");
    }

    #[test]
    fn too_long_too_many_and_internal() {
        let e = FieldError::too_long("metadata.annotations", 262_144);
        assert_eq!(
            e.to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_long("f", 1).to_string(),
            "f: Too long: may not be more than 1 byte"
        );
        assert_eq!(e.reason(), "FieldValueTooLong");
        let e = FieldError::too_many("spec.x.restartPolicyRules", 21, 20);
        assert_eq!(
            e.to_string(),
            "spec.x.restartPolicyRules: Too many: 21: must have at most 20 items"
        );
        assert_eq!(e.reason(), "FieldValueTooMany");
        let e = FieldError::internal("spec.x.port", "unknown type: 2");
        assert_eq!(
            e.to_string(),
            "spec.x.port: Internal error: unknown type: 2"
        );
        assert_eq!(e.reason(), "InternalError");
    }

    #[test]
    fn type_invalid_shows_the_value_with_the_invalid_value_phrase() {
        let e = FieldError::type_invalid("spec.x.containerPort", "8080", "must be of type integer");
        assert_eq!(
            e.to_string(),
            "spec.x.containerPort: Invalid value: \"8080\": must be of type integer"
        );
        assert_eq!(e.reason(), "FieldValueTypeInvalid");
    }

    #[test]
    fn strings_are_quoted_as_go_quotes_them() {
        assert_eq!(quote("a\u{0}b"), "\"a\\x00b\"");
        assert_eq!(quote("tab\there \"q\" \\"), "\"tab\\there \\\"q\\\" \\\\\"");
        assert_eq!(quote("\u{7f}\u{85}é"), "\"\\x7f\\u0085é\"");
        assert_eq!(
            FieldError::invalid("metadata.name", "a\u{0}", "bad").to_string(),
            "metadata.name: Invalid value: \"a\\x00\": bad"
        );
    }

    #[test]
    fn a_value_given_to_a_type_that_omits_it_is_not_shown() {
        let mut e = FieldError::required("f", "d");
        e.bad_value = Some("\"x\"".into());
        assert_eq!(e.to_string(), "f: Required value: d");
    }

    #[test]
    fn phrases_are_the_error_type_strings() {
        let all = [
            (ErrorType::Required, "Required value"),
            (ErrorType::Invalid, "Invalid value"),
            (ErrorType::NotSupported, "Unsupported value"),
            (ErrorType::Forbidden, "Forbidden"),
            (ErrorType::NotFound, "Not found"),
            (ErrorType::Duplicate, "Duplicate value"),
            (ErrorType::TooLong, "Too long"),
            (ErrorType::TooMany, "Too many"),
            (ErrorType::Internal, "Internal error"),
            (ErrorType::TypeInvalid, "Invalid value"),
        ];
        for (t, phrase) in all {
            assert_eq!(t.phrase(), phrase);
            assert_eq!(t.to_string(), phrase);
        }
    }
}
