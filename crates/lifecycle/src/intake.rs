//! Minimal manifest intake (parsing, defaulting, building a `PodPlan`) used until the full
//! validation lands. Mirrors the API server's decoding + `SetDefaults_Pod`.

use k8s_openapi::api::core::v1::{ConfigMap, Container, LifecycleHandler, Pod, Probe, Secret};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::{FieldError, Rendered};
use crate::plan::*;
use crate::signal::Signal;

/// What a set of documents held.
#[derive(Debug, Default)]
pub struct Intake {
    /// Pods.
    pub pods: Vec<Pod>,
    /// ConfigMaps.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets.
    pub secrets: Vec<Secret>,
    /// Warnings, as the API server words them (`f.yaml: document 1: unknown field "spec.x"`):
    /// skipped kinds and unknown fields.
    pub warnings: Vec<String>,
    /// The unknown fields among the warnings, with the known field each was probably meant
    /// to be.
    pub unknown_fields: Vec<UnknownField>,
    /// Valid fields podvisor does not honour (a cluster would): said, never an error, also
    /// under strict field validation.
    pub unsupported: Vec<String>,
}

impl Intake {
    /// The warnings for a person at a terminal: each unknown field followed by
    /// ` (did you mean "command"?)` when one known field is close to it.
    pub fn warnings_with_hints(&self) -> Vec<String> {
        let mut unknown = self.unknown_fields.iter().peekable();
        self.warnings
            .iter()
            .map(|w| match unknown.peek() {
                Some(u) if u.warning() == *w => {
                    let hinted = u.to_string();
                    unknown.next();
                    hinted
                }
                _ => w.clone(),
            })
            .collect()
    }
}

/// A key of a document that its kind does not have (kubectl's strict decoding warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Where: `f.yaml: document 1`.
    pub document: String,
    /// The field's path, e.g. `spec.containers[0].comand`.
    pub path: String,
    /// The one known field close to it (same but for case, or an edit distance of at most 2).
    pub suggestion: Option<String>,
}

impl UnknownField {
    /// The warning without the hint: `f.yaml: document 1: unknown field "spec.x"`.
    pub fn warning(&self) -> String {
        format!("{}: unknown field \"{}\"", self.document, self.path)
    }
}

impl std::fmt::Display for UnknownField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.warning())?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean \"{s}\"?)")?;
        }
        Ok(())
    }
}

/// Errors of the minimal intake.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// YAML/JSON syntax.
    #[error("{source_name}: {message}")]
    Syntax {
        /// File (`<stdin>` for standard input).
        source_name: String,
        /// Parser message with its location, and the offending lines when known, naming
        /// `source_name`.
        message: String,
    },
    /// A document of a known kind did not decode: every value of the wrong type, with its path.
    #[error(
        "{source_name}: document {index}: {kind} is invalid: {}",
        crate::field::join(errors)
    )]
    Decode {
        /// File.
        source_name: String,
        /// 1-based document index.
        index: usize,
        /// The document's kind, e.g. `Pod`.
        kind: String,
        /// Field errors, in document order.
        errors: Vec<FieldError>,
    },
    /// The pod is invalid.
    #[error("Pod {pod:?} is invalid: {}", crate::field::join(errors))]
    Invalid {
        /// Pod name.
        pod: String,
        /// Field errors, in the order validation found them.
        errors: Vec<FieldError>,
    },
}

/// serde-saphyr's message naming `source_name` instead of `<input>`, without its own
/// `error: ` heading (the caller prints one).
fn syntax_message(e: &serde_saphyr::Error, source_name: &str) -> String {
    let rendered = e.render_with_options(serde_saphyr::render_options! {
        source_name: Some(source_name),
    });
    rendered
        .strip_prefix("error: ")
        .unwrap_or(&rendered)
        .to_string()
}

fn decode_doc<T: serde::de::DeserializeOwned>(
    d: &serde_json::Value,
    source_name: &str,
    index: usize,
    kind: &str,
) -> Result<T, IntakeError> {
    crate::decode::decode(d).map_err(|errors| IntakeError::Decode {
        source_name: source_name.into(),
        index,
        kind: kind.into(),
        errors,
    })
}

/// The fields of a pod that podvisor accepts but does not honour, each as a warning: a
/// container's `tty` (its main process gets no terminal; `kubectl exec -t` does get one).
pub fn unsupported_fields(pod: &Pod, doc: &str) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let lists = [
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("containers", spec.containers.as_slice()),
    ];
    let mut out = Vec::new();
    for (list, containers) in lists {
        for (i, c) in containers.iter().enumerate() {
            if c.tty == Some(true) {
                out.push(format!("{doc}: spec.{list}[{i}].tty: podvisor does not give a container's main process a terminal: it runs without one (kubectl exec -t and attach still work)"));
            }
        }
    }
    out
}

/// Parses multi-document YAML or JSON. `source_name` names the input in every message (the
/// file given, `<stdin>` for standard input).
pub fn parse(text: &str, source_name: &str) -> Result<Intake, IntakeError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| IntakeError::Syntax {
            source_name: source_name.into(),
            message: syntax_message(&e, source_name),
        })?;
    let mut out = Intake::default();
    let mut flat = Vec::new();
    for d in docs {
        if d.get("kind").and_then(|k| k.as_str()) == Some("List") {
            flat.extend(
                d.get("items")
                    .and_then(|i| i.as_array())
                    .cloned()
                    .unwrap_or_default(),
            );
        } else if !d.is_null() {
            flat.push(d);
        }
    }
    for (i, d) in flat.into_iter().enumerate() {
        let kind = d
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let api = d
            .get("apiVersion")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let doc = format!("{source_name}: document {}", i + 1);
        match (api.as_str(), kind.as_str()) {
            ("v1", "Pod") => {
                let p: Pod = decode_doc(&d, source_name, i + 1, &kind)?;
                out.note_unknown_fields::<Pod>(&d, &p, &doc);
                out.unsupported.extend(unsupported_fields(&p, &doc));
                out.pods.push(p);
            }
            ("v1", "ConfigMap") => {
                let c: ConfigMap = decode_doc(&d, source_name, i + 1, &kind)?;
                out.note_unknown_fields::<ConfigMap>(&d, &c, &doc);
                out.config_maps.push(c);
            }
            ("v1", "Secret") => {
                let mut s: Secret = decode_doc(&d, source_name, i + 1, &kind)?;
                out.note_unknown_fields::<Secret>(&d, &s, &doc);
                if let Some(sd) = s.string_data.take() {
                    let data = s.data.get_or_insert_with(Default::default);
                    for (k, v) in sd {
                        data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
                    }
                }
                out.secrets.push(s);
            }
            _ => out.warnings.push(format!("{source_name}: document {}: kind {kind:?} ({api}) is not supported by podvisor; skipped", i + 1)),
        }
    }
    for p in &mut out.pods {
        p.metadata.namespace.get_or_insert_with(|| "default".into());
    }
    Ok(out)
}

impl Intake {
    /// Records the unknown fields of `input` (decoded as `typed`) as warnings.
    fn note_unknown_fields<T: serde::de::DeserializeOwned + serde::Serialize>(
        &mut self,
        input: &serde_json::Value,
        typed: &T,
        doc: &str,
    ) {
        let mut paths = Vec::new();
        unknown_fields(
            input,
            &serde_json::to_value(typed).unwrap_or_default(),
            "",
            &mut paths,
        );
        if paths.is_empty() {
            return;
        }
        let known = crate::decode::known_fields::<T>(input);
        for (parent, key) in paths {
            let path = if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            };
            let suggestion = known
                .get(&parent)
                .and_then(|fields| crate::decode::suggest(&key, fields))
                .map(str::to_string);
            let u = UnknownField {
                document: doc.to_string(),
                path,
                suggestion,
            };
            self.warnings.push(u.warning());
            self.unknown_fields.push(u);
        }
    }
}

/// Finds the keys of the input that the typed object does not know (kubectl's strict
/// decoding: `unknown field "spec.containers[0].foo"`): every key present in the input but
/// absent after a round trip through the k8s-openapi type, as (parent path, key).
fn unknown_fields(
    input: &serde_json::Value,
    typed: &serde_json::Value,
    path: &str,
    out: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(tv) => unknown_fields(v, tv, &p, out),
                    // Nulls and empty values legitimately vanish in the round trip.
                    None if v.is_null()
                        || v.as_object().is_some_and(|o| o.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty()) => {}
                    None => out.push((path.to_string(), k.clone())),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                unknown_fields(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn port_of(p: &IntOrString, ports: &[(Option<String>, u16)]) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok().filter(|n| *n > 0),
        IntOrString::String(s) => ports
            .iter()
            .find(|(n, _)| n.as_deref() == Some(s.as_str()))
            .map(|(_, p)| *p)
            .or_else(|| s.parse().ok()),
    }
}

fn handler(
    h: &LifecycleHandler,
    ports: &[(Option<String>, u16)],
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Option<HandlerPlan> {
    if let Some(e) = &h.exec {
        return Some(HandlerPlan::Exec {
            command: e.command.clone().unwrap_or_default(),
        });
    }
    if let Some(g) = &h.http_get {
        let Some(port) = port_of(&g.port, ports) else {
            errs.push(FieldError::invalid(
                format!("{path}.httpGet.port"),
                Rendered(format!("{:?}", g.port)),
                "must be a valid port",
            ));
            return None;
        };
        return Some(HandlerPlan::HttpGet(HttpGetPlan {
            scheme: if g.scheme.as_deref() == Some("HTTPS") {
                HttpScheme::Https
            } else {
                HttpScheme::Http
            },
            host: g.host.clone(),
            port,
            path: g.path.clone().unwrap_or_else(|| "/".into()),
            headers: g
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }));
    }
    if let Some(s) = &h.sleep {
        return Some(HandlerPlan::Sleep { seconds: s.seconds });
    }
    if let Some(t) = &h.tcp_socket {
        return Some(HandlerPlan::TcpSocket {
            host: t.host.clone(),
            port: port_of(&t.port, ports).unwrap_or(0),
        });
    }
    errs.push(FieldError::required(path, "must specify a handler type"));
    None
}

fn probe(
    p: &Probe,
    ports: &[(Option<String>, u16)],
    path: &str,
    env: &[(String, String)],
    errs: &mut Vec<FieldError>,
) -> Option<ProbePlan> {
    let h = if let Some(e) = &p.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let cmd = cmd
            .iter()
            .map(|c| {
                crate::env::expand_var_refs(c, |n| {
                    env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
                })
            })
            .collect();
        HandlerPlan::Exec { command: cmd }
    } else if let Some(g) = &p.grpc {
        HandlerPlan::Grpc {
            port: u16::try_from(g.port).unwrap_or(0),
            service: g.service.clone().unwrap_or_default(),
        }
    } else {
        let lh = LifecycleHandler {
            exec: None,
            http_get: p.http_get.clone(),
            sleep: None,
            tcp_socket: p.tcp_socket.clone(),
        };
        handler(&lh, ports, path, errs)?
    };
    let d = |v: Option<i32>, def: i64| v.filter(|v| *v > 0).map_or(def, i64::from);
    Some(ProbePlan {
        handler: h,
        initial_delay_seconds: p.initial_delay_seconds.map_or(0, i64::from),
        timeout_seconds: d(p.timeout_seconds, 1),
        period_seconds: d(p.period_seconds, 10),
        success_threshold: d(p.success_threshold, 1),
        failure_threshold: d(p.failure_threshold, 3),
        termination_grace_period_seconds: p.termination_grace_period_seconds,
    })
}

fn container(
    c: &Container,
    r: ContainerRef,
    kind: ContainerKind,
    grace: i64,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> ContainerPlan {
    let ports: Vec<(Option<String>, u16)> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            u16::try_from(p.container_port)
                .ok()
                .map(|n| (p.name.clone(), n))
        })
        .collect();
    let static_env: Vec<(String, String)> = c
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect();
    if c.command.as_ref().is_none_or(Vec::is_empty) && c.args.as_ref().is_none_or(Vec::is_empty) {
        errs.push(FieldError::required(format!("{path}.command"), "podvisor runs the host's root filesystem, so the image entrypoint cannot be used; set command"));
    }
    let lc = c.lifecycle.clone().unwrap_or_default();
    let post_start = lc
        .post_start
        .as_ref()
        .and_then(|h| handler(h, &ports, &format!("{path}.lifecycle.postStart"), errs));
    let pre_stop = lc
        .pre_stop
        .as_ref()
        .and_then(|h| handler(h, &ports, &format!("{path}.lifecycle.preStop"), errs));
    for (name, h) in [("postStart", &post_start), ("preStop", &pre_stop)] {
        if let Some(HandlerPlan::Sleep { seconds }) = h {
            if *seconds < 0 || *seconds > grace {
                errs.push(FieldError::invalid(
                    format!("{path}.lifecycle.{name}.sleep.seconds"),
                    *seconds,
                    format!(
                        "must be less than or equal to terminationGracePeriodSeconds ({grace})"
                    ),
                ));
            }
        }
    }
    ContainerPlan {
        name: c.name.clone(),
        kind,
        container_ref: r,
        image: c.image.clone().unwrap_or_default(),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        post_start,
        pre_stop,
        stop_signal: lc
            .stop_signal
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        startup_probe: c.startup_probe.as_ref().and_then(|p| {
            probe(
                p,
                &ports,
                &format!("{path}.startupProbe"),
                &static_env,
                errs,
            )
        }),
        liveness_probe: c.liveness_probe.as_ref().and_then(|p| {
            probe(
                p,
                &ports,
                &format!("{path}.livenessProbe"),
                &static_env,
                errs,
            )
        }),
        readiness_probe: c.readiness_probe.as_ref().and_then(|p| {
            probe(
                p,
                &ports,
                &format!("{path}.readinessProbe"),
                &static_env,
                errs,
            )
        }),
        restart_policy: match c.restart_policy.as_deref() {
            Some("Always") => Some(RestartPolicy::Always),
            Some("OnFailure") => Some(RestartPolicy::OnFailure),
            Some("Never") => Some(RestartPolicy::Never),
            _ => None,
        },
        termination_message_path: c
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".into()),
        termination_message_policy: if c.termination_message_policy.as_deref()
            == Some("FallbackToLogsOnError")
        {
            TerminationMessagePolicy::FallbackToLogsOnError
        } else {
            TerminationMessagePolicy::File
        },
        volume_mounts: c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| VolumeMountPlan {
                volume: m.name.clone(),
                mount_path: m.mount_path.clone(),
                sub_path: m.sub_path.clone().unwrap_or_default(),
                read_only: m.read_only.unwrap_or(false),
            })
            .collect(),
        ports,
    }
}

fn validate_probe(p: &Probe, pp: &str, field: &str, errs: &mut Vec<FieldError>) {
    let handlers = [
        p.exec.is_some(),
        p.http_get.is_some(),
        p.tcp_socket.is_some(),
        p.grpc.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if handlers == 0 {
        errs.push(FieldError::required(pp, "must specify a handler type"));
    } else if handlers > 1 {
        errs.push(FieldError::forbidden(
            pp,
            "may not specify more than 1 handler type",
        ));
    }
    for (f, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(
                format!("{pp}.{f}"),
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
    if field != "readinessProbe" {
        if let Some(st) = p.success_threshold.filter(|v| *v > 1) {
            errs.push(FieldError::invalid(
                format!("{pp}.successThreshold"),
                st,
                "must be 1",
            ));
        }
    } else if let Some(g) = p.termination_grace_period_seconds {
        errs.push(FieldError::invalid(
            format!("{pp}.terminationGracePeriodSeconds"),
            g,
            "must not be set for readinessProbes",
        ));
    }
    if let Some(g) = p.termination_grace_period_seconds.filter(|g| *g <= 0) {
        errs.push(FieldError::invalid(
            format!("{pp}.terminationGracePeriodSeconds"),
            g,
            "must be greater than 0",
        ));
    }
}

fn validate_container(
    c: &Container,
    path: &str,
    init: bool,
    volumes: &[String],
    errs: &mut Vec<FieldError>,
) {
    if c.image.as_deref().is_none_or(str::is_empty) {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    let sidecar = init && c.restart_policy.as_deref() == Some("Always");
    match (init, c.restart_policy.as_deref()) {
        (_, None) | (true, Some("Always")) | (false, Some("Always" | "OnFailure" | "Never")) => {}
        (true, Some(other)) => errs.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            other,
            &["Always"],
        )),
        (false, Some(other)) => errs.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            other,
            &["Always", "Never", "OnFailure"],
        )),
    }
    if init && !sidecar {
        for (field, set) in [
            ("lifecycle", c.lifecycle.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
        ] {
            if set {
                errs.push(FieldError::forbidden(
                    format!("{path}.{field}"),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    }
    for (field, p) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        if let Some(p) = p {
            validate_probe(p, &format!("{path}.{field}"), field, errs);
        }
    }
    if let Some(lc) = &c.lifecycle {
        for (hook, h) in [("postStart", &lc.post_start), ("preStop", &lc.pre_stop)] {
            let Some(h) = h else { continue };
            let n = [
                h.exec.is_some(),
                h.http_get.is_some(),
                h.tcp_socket.is_some(),
                h.sleep.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if n > 1 {
                errs.push(FieldError::forbidden(
                    format!("{path}.lifecycle.{hook}"),
                    "may not specify more than 1 handler type",
                ));
            }
            if let Some(e) = &h.exec {
                if e.command.as_ref().is_none_or(Vec::is_empty) {
                    errs.push(FieldError::required(
                        format!("{path}.lifecycle.{hook}.exec.command"),
                        "",
                    ));
                }
            }
        }
        // `validateStopSignal` as for `spec.os.name: linux`. Kubernetes also forbids the field
        // without `spec.os.name`; podvisor (Linux only) does not require it.
        if let Some(sig) = &lc.stop_signal {
            if sig.parse::<Signal>().is_err() {
                errs.push(FieldError::not_supported(
                    format!("{path}.lifecycle.stopSignal"),
                    sig,
                    &Signal::supported_values(),
                ));
            }
        }
    }
    for (j, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mp = format!("{path}.volumeMounts[{j}]");
        if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(format!("{mp}.name"), &m.name));
        }
        if !m.mount_path.starts_with('/') {
            errs.push(FieldError::invalid(
                format!("{mp}.mountPath"),
                &m.mount_path,
                "must be an absolute path",
            ));
        }
    }
    for (j, e) in c.env.iter().flatten().enumerate() {
        if e.name.is_empty()
            || e.name.contains('=')
            || !e.name.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            errs.push(FieldError::invalid(
                format!("{path}.env[{j}].name"),
                &e.name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    for (j, p) in c.ports.iter().flatten().enumerate() {
        if !(1..=65535).contains(&p.container_port) {
            errs.push(FieldError::invalid(
                format!("{path}.ports[{j}].containerPort"),
                p.container_port,
                "must be between 1 and 65535, inclusive",
            ));
        }
    }
    if let Some(pol) = c.termination_message_policy.as_deref() {
        if pol != "File" && pol != "FallbackToLogsOnError" {
            errs.push(FieldError::not_supported(
                format!("{path}.terminationMessagePolicy"),
                pol,
                &["File", "FallbackToLogsOnError"],
            ));
        }
    }
}

/// The API server's pod validation (`ValidatePodCreate`) for the fields podvisor acts on.
fn validate(spec: &k8s_openapi::api::core::v1::PodSpec, errs: &mut Vec<FieldError>) {
    if let Some(g) = spec.termination_grace_period_seconds.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            "spec.terminationGracePeriodSeconds",
            g,
            "must be greater than or equal to 0",
        ));
    }
    let volumes: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.clone())
        .collect();
    for (i, v) in volumes.iter().enumerate() {
        for msg in crate::meta::is_dns1123_label(v) {
            errs.push(FieldError::invalid(
                format!("spec.volumes[{i}].name"),
                v,
                msg,
            ));
        }
        if volumes[..i].contains(v) {
            errs.push(FieldError::duplicate(format!("spec.volumes[{i}].name"), v));
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| (format!("spec.initContainers[{i}]"), c, true));
    let regular = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("spec.containers[{i}]"), c, false));
    for (path, c, is_init) in init.chain(regular) {
        if c.name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        } else if !crate::meta::is_dns1123_label(&c.name).is_empty() {
            for msg in crate::meta::is_dns1123_label(&c.name) {
                errs.push(FieldError::invalid(format!("{path}.name"), &c.name, msg));
            }
        } else if seen.contains(&c.name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), &c.name));
        }
        seen.push(c.name.clone());
        validate_container(c, &path, is_init, &volumes, errs);
    }
}

/// Builds a plan from a pod with defaults applied.
pub fn build_plan(mut pod: Pod) -> Result<PodPlan, IntakeError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    pod.metadata.namespace = Some(namespace.clone());
    // `ValidatePodCreate` starts with `ValidateObjectMeta(.., ValidatePodName, ..)`.
    let mut errs = crate::meta::validate_object_meta(
        &pod.metadata,
        true,
        crate::meta::is_dns1123_subdomain,
        "metadata",
    );
    // The caller normally assigns a uid (the API server does); a stable fallback otherwise.
    let uid = pod.metadata.uid.clone().unwrap_or_else(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("{namespace}/{name}").bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            (h >> 4) & 0xfff,
            h & 0xffff_ffff_ffff
        )
    });
    pod.metadata.uid = Some(uid.clone());
    pod.metadata.namespace = Some(namespace.clone());
    let mut spec = pod.spec.clone().unwrap_or_default();
    let grace = spec.termination_grace_period_seconds.unwrap_or(30);
    let restart_policy = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure,
        Some("Never") => RestartPolicy::Never,
        Some(other) => {
            errs.push(FieldError::not_supported(
                "spec.restartPolicy",
                other,
                &["Always", "Never", "OnFailure"],
            ));
            RestartPolicy::Always
        }
    };
    if spec.containers.is_empty() {
        errs.push(FieldError::required("spec.containers", ""));
    }
    let init: Vec<ContainerPlan> = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let kind = if c.restart_policy.as_deref() == Some("Always") {
                ContainerKind::Sidecar
            } else {
                ContainerKind::Init
            };
            container(
                c,
                ContainerRef::Init(i),
                kind,
                grace,
                &format!("spec.initContainers[{i}]"),
                &mut errs,
            )
        })
        .collect();
    let regular: Vec<ContainerPlan> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            container(
                c,
                ContainerRef::Regular(i),
                ContainerKind::Regular,
                grace,
                &format!("spec.containers[{i}]"),
                &mut errs,
            )
        })
        .collect();
    validate(&spec, &mut errs);
    if !errs.is_empty() {
        return Err(IntakeError::Invalid {
            pod: name,
            errors: errs,
        });
    }
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        c.termination_message_path
            .get_or_insert_with(|| "/dev/termination-log".into());
        c.termination_message_policy
            .get_or_insert_with(|| "File".into());
        for p in [
            &mut c.liveness_probe,
            &mut c.readiness_probe,
            &mut c.startup_probe,
        ]
        .into_iter()
        .flatten()
        {
            p.timeout_seconds.get_or_insert(1);
            p.period_seconds.get_or_insert(10);
            p.success_threshold.get_or_insert(1);
            p.failure_threshold.get_or_insert(3);
            if let Some(g) = p.http_get.as_mut() {
                g.path.get_or_insert_with(|| "/".into());
                g.scheme.get_or_insert_with(|| "HTTP".into());
            }
        }
        for port in c.ports.iter_mut().flatten() {
            port.protocol.get_or_insert_with(|| "TCP".into());
        }
        c.image_pull_policy.get_or_insert_with(|| {
            let img = c.image.clone().unwrap_or_default();
            if img.ends_with(":latest") || !img.rsplit('/').next().unwrap_or("").contains(':') {
                "Always".into()
            } else {
                "IfNotPresent".into()
            }
        });
    }
    pod.spec = Some(spec.clone());
    // `GeneratePodHostNameAndDomain`: spec.hostname or the pod's name, then
    // `truncatePodHostnameIfNeeded`.
    let hostname = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| name.clone());
    let hostname = crate::meta::truncate_pod_hostname(&hostname).unwrap_or(hostname);
    Ok(PodPlan {
        key: PodKey { namespace, name },
        uid,
        restart_policy,
        termination_grace_period_seconds: if grace < 0 { 1 } else { grace },
        init_containers: init,
        containers: regular,
        hostname,
        share_process_namespace: spec.share_process_namespace.unwrap_or(false),
        readiness_gates: spec
            .readiness_gates
            .iter()
            .flatten()
            .map(|g| g.condition_type.clone())
            .collect(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        pod,
    })
}
