//! A container's environment: `envFrom`, `env` (with `$(VAR)` expansion, downward API fields and
//! resources, ConfigMap and Secret keys) and the expansion of command and args. Mirrors the
//! kubelet's `makeEnvironmentVariables` and `podFieldSelectorRuntimeValue` (`kubelet_pods.go`),
//! `defaultPodLimitsForDownwardAPI` (`kubelet_resources.go`), `ExtractContainerResourceValue`
//! (`pkg/api/v1/resource/helpers.go`), `ExtractFieldPathAsString` (`pkg/fieldpath`) and
//! `expansion.Expand` (`third_party/forked/golang/expansion`); see kubelet-semantics.md §10.
//!
//! Every error's `Display` is the kubelet's exact message, because it becomes the
//! `CreateContainerConfigError` waiting message.
//!
//! # Caveats
//!
//! * **Order.** The kubelet builds the list from a Go map, so its order is unspecified. Here it
//!   is deterministic: variables appear in the order they are first defined (`envFrom` sources
//!   in order, each source's keys sorted, then `env` entries in order); a later definition
//!   replaces the value but keeps the first position.
//! * **Service links** (`<SVC>_SERVICE_HOST`, ...) are not generated: podvisor has no Services.
//! * **`HOSTNAME`** is not added; the runtime sets it, as containerd does.
//! * **`fileKeyRef`** (EnvFiles) needs the volume's host path, so it is rejected here.
//! * Namespaces: a pod or object without `metadata.namespace` is in `default`.
//! * Secrets are read from `data` with `stringData` merged over it, as the API server does on
//!   write; values are converted to UTF-8 lossily.
//! * `spec.nodeName` is the context's node name; `status.podIPs`/`status.hostIPs` hold the one
//!   address of the context (none when it is empty).
//! * Quantities are computed exactly in integers where the kubelet divides `float64`s; the
//!   results differ only beyond 2^53.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVarSource, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Everything outside the container spec that its environment (and its projected volumes) can
/// refer to.
#[derive(Debug, Clone, Copy)]
pub struct EnvContext<'a> {
    /// The pod (API object as given; API defaults that matter here are applied on the fly).
    pub pod: &'a Pod,
    /// The pod's IP (`status.podIP`); "" when it has none.
    pub pod_ip: &'a str,
    /// The node's IP (`status.hostIP`).
    pub host_ip: &'a str,
    /// The node's name (`spec.nodeName`).
    pub node_name: &'a str,
    /// ConfigMaps known to podvisor (all namespaces; matched by the pod's namespace).
    pub config_maps: &'a [ConfigMap],
    /// Secrets known to podvisor (all namespaces; matched by the pod's namespace).
    pub secrets: &'a [Secret],
    /// Node allocatable CPU in millicores: the default for a missing or zero CPU limit.
    pub node_allocatable_cpu_millis: i64,
    /// Node allocatable memory in bytes: the default for a missing or zero memory limit.
    pub node_allocatable_memory_bytes: i64,
}

impl EnvContext<'_> {
    /// The pod's namespace (`default` when unset).
    pub fn namespace(&self) -> &str {
        namespace_or_default(self.pod.metadata.namespace.as_deref())
    }

    /// The ConfigMap `name` in the pod's namespace.
    pub fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.config_maps.iter().find(|config_map| {
            config_map.metadata.name.as_deref() == Some(name)
                && namespace_or_default(config_map.metadata.namespace.as_deref())
                    == self.namespace()
        })
    }

    /// The Secret `name` in the pod's namespace.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.iter().find(|secret| {
            secret.metadata.name.as_deref() == Some(name)
                && namespace_or_default(secret.metadata.namespace.as_deref()) == self.namespace()
        })
    }
}

fn namespace_or_default(namespace: Option<&str>) -> &str {
    match namespace {
        Some(namespace) if !namespace.is_empty() => namespace,
        _ => "default",
    }
}

/// A Secret's data as the API server stores it: `data`, with `stringData` merged over it.
pub fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.0.clone()))
        .collect();
    for (key, value) in secret.string_data.iter().flatten() {
        data.insert(key.clone(), value.clone().into_bytes());
    }
    data
}

/// Why a container's environment cannot be built. `Display` is the kubelet's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A non-optional ConfigMap does not exist.
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound {
        /// The ConfigMap's name.
        name: String,
    },
    /// A non-optional `configMapKeyRef` names a key the ConfigMap's `data` lacks.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        /// The pod's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A non-optional Secret does not exist.
    #[error("secret \"{name}\" not found")]
    SecretNotFound {
        /// The Secret's name.
        name: String,
    },
    /// A non-optional `secretKeyRef` names a key the Secret lacks.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        /// The pod's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// `fieldRef.apiVersion` is not `v1`.
    #[error("unsupported pod version: {api_version}")]
    UnsupportedPodVersion {
        /// The given `apiVersion`.
        api_version: String,
    },
    /// A subscript on a field other than labels or annotations (env `fieldRef`).
    #[error("field label does not support subscript: {field_path}")]
    FieldLabelDoesNotSupportSubscript {
        /// The `fieldPath`.
        field_path: String,
    },
    /// A `fieldPath` outside the pod's selectable fields (env `fieldRef`).
    #[error("field label not supported: {field_path}")]
    FieldLabelNotSupported {
        /// The `fieldPath`.
        field_path: String,
    },
    /// A subscript on a field other than labels or annotations (volume `fieldRef`).
    #[error("fieldPath {} does not support subscript", go_quote(field_path))]
    FieldPathDoesNotSupportSubscript {
        /// The `fieldPath`.
        field_path: String,
    },
    /// A selectable field the downward API cannot resolve (e.g. `status.phase`).
    #[error("unsupported fieldPath: {field_path}")]
    UnsupportedFieldPath {
        /// The `fieldPath`.
        field_path: String,
    },
    /// `resourceFieldRef.resource` is not `limits|requests` × a supported resource.
    #[error("unsupported container resource : {resource}")]
    UnsupportedContainerResource {
        /// The `resource`.
        resource: String,
    },
    /// `resourceFieldRef.containerName` names no container of the pod.
    #[error("container {container} not found")]
    ContainerNotFound {
        /// The `containerName`.
        container: String,
    },
    /// A resource quantity (or divisor) cannot be used.
    #[error("invalid quantity for {field}")]
    InvalidQuantity {
        /// Which quantity and whose: `limits.cpu of container main`, `divisor of container main`,
        /// `pod-level limits.memory`.
        field: String,
        /// What is wrong with it.
        #[source]
        source: QuantityError,
    },
    /// `valueFrom.fileKeyRef` (EnvFiles) is not supported by podvisor.
    #[error("fileKeyRef is not supported (env var {name})")]
    FileKeyRefUnsupported {
        /// The variable's name.
        name: String,
    },
}

/// The environment of `container`, as the kubelet hands it to the runtime (without service
/// links and `HOSTNAME`), in the deterministic order described in the module docs.
pub fn container_environment(
    ctx: &EnvContext,
    container: &Container,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut env = EnvList::default();
    for env_from in container.env_from.iter().flatten() {
        let prefix = env_from.prefix.as_deref().unwrap_or("");
        if let Some(source) = &env_from.config_map_ref {
            match ctx.config_map(&source.name) {
                Some(config_map) => {
                    for (key, value) in config_map.data.iter().flatten() {
                        env.set(format!("{prefix}{key}"), value.clone());
                    }
                }
                None if source.optional == Some(true) => {}
                None => {
                    return Err(EnvError::ConfigMapNotFound {
                        name: source.name.clone(),
                    })
                }
            }
        } else if let Some(source) = &env_from.secret_ref {
            match ctx.secret(&source.name) {
                Some(secret) => {
                    for (key, value) in secret_data(secret) {
                        env.set(format!("{prefix}{key}"), lossy(value));
                    }
                }
                None if source.optional == Some(true) => {}
                None => {
                    return Err(EnvError::SecretNotFound {
                        name: source.name.clone(),
                    })
                }
            }
        }
    }

    for var in container.env.iter().flatten() {
        let value = var.value.as_deref().unwrap_or("");
        let resolved = if !value.is_empty() {
            Some(expand_var_refs(value, |name| {
                env.get(name).map(str::to_owned)
            }))
        } else if let Some(source) = &var.value_from {
            resolve_value_from(ctx, container, &var.name, source)?
        } else {
            Some(String::new())
        };
        // `None`: an optional source is missing, the variable is skipped.
        if let Some(resolved) = resolved {
            env.set(var.name.clone(), resolved);
        }
    }
    Ok(env.vars)
}

/// Expands `$(VAR)` references in command and args against the container's final environment
/// (`ExpandContainerCommandAndArgs`). Unknown variables stay verbatim.
pub fn expand_command(command_and_args: &[String], env: &[(String, String)]) -> Vec<String> {
    let values: HashMap<&str, &str> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    command_and_args
        .iter()
        .map(|arg| {
            expand_var_refs(arg, |name| {
                values.get(name).map(|value| (*value).to_owned())
            })
        })
        .collect()
}

/// Kubernetes `$(VAR)` expansion: `$(NAME)` becomes `lookup(NAME)` when it is known and stays
/// verbatim otherwise; `$$` becomes `$`; a `$` followed by anything else, an unterminated `$(`
/// and a trailing `$` are literal.
pub fn expand_var_refs(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            // `advance` counts the bytes consumed after the `$`.
            let advance = match bytes[cursor + 1] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(close) => {
                        let name = &rest[1..1 + close];
                        match lookup(name) {
                            Some(value) => out.push_str(&value),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // Go copies one byte here; we copy the whole character to stay valid UTF-8.
                    let next = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..next]);
                    next
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint..]);
    out
}

/// Variables in first-definition order; setting an existing name replaces its value in place.
#[derive(Default)]
struct EnvList {
    vars: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl EnvList {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&position) => self.vars[position].1 = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push((name, value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.index
            .get(name)
            .map(|&position| self.vars[position].1.as_str())
    }
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Resolves `valueFrom`; `Ok(None)` means an optional source is missing and the variable is not
/// set at all (an earlier definition, e.g. from `envFrom`, stays).
fn resolve_value_from(
    ctx: &EnvContext,
    container: &Container,
    var_name: &str,
    source: &EnvVarSource,
) -> Result<Option<String>, EnvError> {
    if let Some(selector) = &source.field_ref {
        return env_field_value(ctx, selector).map(Some);
    }
    if let Some(selector) = &source.resource_field_ref {
        return env_resource_value(ctx, container, selector).map(Some);
    }
    if let Some(selector) = &source.config_map_key_ref {
        let optional = selector.optional == Some(true);
        let Some(config_map) = ctx.config_map(&selector.name) else {
            if optional {
                return Ok(None);
            }
            return Err(EnvError::ConfigMapNotFound {
                name: selector.name.clone(),
            });
        };
        return match config_map
            .data
            .as_ref()
            .and_then(|data| data.get(&selector.key))
        {
            Some(value) => Ok(Some(value.clone())),
            None if optional => Ok(None),
            None => Err(EnvError::ConfigMapKeyNotFound {
                namespace: ctx.namespace().to_owned(),
                name: selector.name.clone(),
                key: selector.key.clone(),
            }),
        };
    }
    if let Some(selector) = &source.secret_key_ref {
        let optional = selector.optional == Some(true);
        let Some(secret) = ctx.secret(&selector.name) else {
            if optional {
                return Ok(None);
            }
            return Err(EnvError::SecretNotFound {
                name: selector.name.clone(),
            });
        };
        return match secret_data(secret).remove(&selector.key) {
            Some(value) => Ok(Some(lossy(value))),
            None if optional => Ok(None),
            None => Err(EnvError::SecretKeyNotFound {
                namespace: ctx.namespace().to_owned(),
                name: selector.name.clone(),
                key: selector.key.clone(),
            }),
        };
    }
    if source.file_key_ref.is_some() {
        return Err(EnvError::FileKeyRefUnsupported {
            name: var_name.to_owned(),
        });
    }
    Ok(Some(String::new()))
}

/// An env `fieldRef` (`podFieldSelectorRuntimeValue` after `ConvertDownwardAPIFieldLabel`).
fn env_field_value(ctx: &EnvContext, selector: &ObjectFieldSelector) -> Result<String, EnvError> {
    let api_version = selector.api_version.as_deref().unwrap_or("");
    if !api_version.is_empty() && api_version != "v1" {
        return Err(EnvError::UnsupportedPodVersion {
            api_version: api_version.to_owned(),
        });
    }
    let field_path = selector.field_path.as_str();
    if let Some((path, _)) = split_maybe_subscripted_path(field_path) {
        if path != "metadata.annotations" && path != "metadata.labels" {
            return Err(EnvError::FieldLabelDoesNotSupportSubscript {
                field_path: field_path.to_owned(),
            });
        }
        return extract_field_path(ctx.pod, field_path);
    }
    let field_path = match field_path {
        // Old v1 clients send `spec.host`.
        "spec.host" => "spec.nodeName",
        "metadata.annotations"
        | "metadata.labels"
        | "metadata.name"
        | "metadata.namespace"
        | "metadata.uid"
        | "spec.nodeName"
        | "spec.restartPolicy"
        | "spec.serviceAccountName"
        | "spec.schedulerName"
        | "status.phase"
        | "status.hostIP"
        | "status.hostIPs"
        | "status.podIP"
        | "status.podIPs" => field_path,
        _ => {
            return Err(EnvError::FieldLabelNotSupported {
                field_path: field_path.to_owned(),
            })
        }
    };
    Ok(match field_path {
        "spec.nodeName" => ctx.node_name.to_owned(),
        "spec.serviceAccountName" => ctx
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.to_owned(),
        "status.podIP" | "status.podIPs" => ctx.pod_ip.to_owned(),
        _ => return extract_field_path(ctx.pod, field_path),
    })
}

/// `ExtractFieldPathAsString`: the metadata fields the downward API can always select (env and
/// volumes). Whole label/annotation maps are rendered by [`format_map`].
pub(crate) fn extract_field_path(pod: &Pod, field_path: &str) -> Result<String, EnvError> {
    let metadata = &pod.metadata;
    if let Some((path, subscript)) = split_maybe_subscripted_path(field_path) {
        let map = match path {
            "metadata.annotations" => &metadata.annotations,
            "metadata.labels" => &metadata.labels,
            _ => {
                return Err(EnvError::FieldPathDoesNotSupportSubscript {
                    field_path: field_path.to_owned(),
                })
            }
        };
        return Ok(map
            .as_ref()
            .and_then(|map| map.get(subscript))
            .cloned()
            .unwrap_or_default());
    }
    Ok(match field_path {
        "metadata.annotations" => format_map(metadata.annotations.as_ref()),
        "metadata.labels" => format_map(metadata.labels.as_ref()),
        "metadata.name" => metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => namespace_or_default(metadata.namespace.as_deref()).to_owned(),
        "metadata.uid" => metadata.uid.clone().unwrap_or_default(),
        _ => {
            return Err(EnvError::UnsupportedFieldPath {
                field_path: field_path.to_owned(),
            })
        }
    })
}

/// Splits `metadata.labels['key']` into (`metadata.labels`, `key`) (`SplitMaybeSubscriptedPath`).
fn split_maybe_subscripted_path(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (path, subscript) = inner.split_once("['")?;
    (!path.is_empty()).then_some((path, subscript))
}

/// `FormatMap`: one `key="value"` line per entry, keys sorted, values quoted like Go's `%q`, no
/// trailing newline.
pub(crate) fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", go_quote(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `strconv.Quote`: double quotes, `\"` and `\\`, C escapes for control characters, `\xHH`
/// for other ASCII controls, `\uHHHH`/`\UHHHHHHHH` for non-printable characters.
///
/// Go's notion of printable comes from Unicode tables; this approximation treats controls,
/// spaces other than U+0020, format characters and private-use characters as non-printable and
/// everything else as printable (unassigned code points differ).
pub(crate) fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if u32::from(c) < 0x20 || u32::from(c) == 0x7f => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let code = u32::from(c);
    let format_or_private = matches!(
        code,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0xE000..=0xF8FF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xFFFE..=0xFFFF
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..
    );
    !(c.is_control() || c.is_whitespace() || format_or_private)
}

// ---------------------------------------------------------------------------------------------
// resourceFieldRef

/// Limits used where a container's limit is missing or zero (`MergeContainerResourceLimits`),
/// in milli-units (millicores; thousandths of a byte).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitDefaults {
    cpu: i128,
    memory: i128,
}

impl LimitDefaults {
    /// Node allocatable only: the volume path (`ExtractResourceValueByContainerNameAndNodeAllocatable`).
    pub(crate) fn node(ctx: &EnvContext) -> Self {
        LimitDefaults {
            cpu: i128::from(ctx.node_allocatable_cpu_millis),
            memory: i128::from(ctx.node_allocatable_memory_bytes) * 1000,
        }
    }

    /// Pod-level limits (PodLevelResources) where set and non-zero, else node allocatable: the
    /// env path (`defaultPodLimitsForDownwardAPI`).
    fn pod_then_node(ctx: &EnvContext) -> Result<Self, EnvError> {
        let mut defaults = Self::node(ctx);
        let pod_limits = ctx
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.resources.as_ref())
            .and_then(|resources| resources.limits.as_ref());
        for (name, slot) in [("cpu", &mut defaults.cpu), ("memory", &mut defaults.memory)] {
            if let Some(quantity) = pod_limits.and_then(|limits| limits.get(name)) {
                let millis = parse_quantity_millis(&quantity.0).map_err(|source| {
                    EnvError::InvalidQuantity {
                        field: format!("pod-level limits.{name}"),
                        source,
                    }
                })?;
                if millis != 0 {
                    *slot = millis;
                }
            }
        }
        Ok(defaults)
    }

    fn get(self, resource: &str) -> Option<i128> {
        match resource {
            "cpu" => Some(self.cpu),
            "memory" => Some(self.memory),
            // Node allocatable ephemeral storage is not known to podvisor: the limit stays unset.
            _ => None,
        }
    }
}

/// An env `resourceFieldRef`: `containerName` defaults to this container, which gets default
/// limits; a named regular container gets them too, a named init container does not (the
/// kubelet only defaults `spec.containers` of its pod copy).
fn env_resource_value(
    ctx: &EnvContext,
    container: &Container,
    selector: &ResourceFieldSelector,
) -> Result<String, EnvError> {
    let defaults = LimitDefaults::pod_then_node(ctx)?;
    match selector.container_name.as_deref() {
        None | Some("") => container_resource_value(selector, container, Some(defaults)),
        Some(name) => {
            let (target, regular) = find_container(ctx.pod, name)?;
            container_resource_value(selector, target, regular.then_some(defaults))
        }
    }
}

/// The container `name` of the pod and whether it is a regular container (`findContainerInPod`:
/// regular containers first, then init containers).
pub(crate) fn find_container<'p>(
    pod: &'p Pod,
    name: &str,
) -> Result<(&'p Container, bool), EnvError> {
    let spec = pod.spec.as_ref();
    let regular = spec
        .into_iter()
        .flat_map(|spec| spec.containers.iter())
        .map(|c| (c, true));
    let init = spec
        .into_iter()
        .flat_map(|spec| spec.init_containers.iter().flatten())
        .map(|c| (c, false));
    regular
        .chain(init)
        .find(|(candidate, _)| candidate.name == name)
        .ok_or_else(|| EnvError::ContainerNotFound {
            container: name.to_owned(),
        })
}

/// `ExtractContainerResourceValue` on a container whose limits are defaulted from `defaults`
/// when given. CPU is computed in millicores, everything else in whole units; the result is
/// `ceil(value / divisor)`.
pub(crate) fn container_resource_value(
    selector: &ResourceFieldSelector,
    container: &Container,
    defaults: Option<LimitDefaults>,
) -> Result<String, EnvError> {
    let unsupported = || EnvError::UnsupportedContainerResource {
        resource: selector.resource.clone(),
    };
    let (section, resource) = selector.resource.split_once('.').ok_or_else(unsupported)?;
    let supported = matches!(resource, "cpu" | "memory" | "ephemeral-storage")
        || resource.starts_with("hugepages-");
    if !supported || !matches!(section, "limits" | "requests") {
        return Err(unsupported());
    }

    let parse = |field: String, quantity: Option<&Quantity>| -> Result<Option<i128>, EnvError> {
        quantity
            .map(|quantity| {
                parse_quantity_millis(&quantity.0).map_err(|source| EnvError::InvalidQuantity {
                    field: format!("{field} of container {}", container.name),
                    source,
                })
            })
            .transpose()
    };
    let resources = container.resources.as_ref();
    let limit = resources
        .and_then(|r| r.limits.as_ref())
        .and_then(|limits| limits.get(resource));
    let request = resources
        .and_then(|r| r.requests.as_ref())
        .and_then(|requests| requests.get(resource));
    let millis = if section == "limits" {
        match parse(format!("limits.{resource}"), limit)? {
            Some(millis) if millis != 0 => millis,
            explicit => defaults
                .and_then(|d| d.get(resource))
                .or(explicit)
                .unwrap_or(0),
        }
    } else {
        // API defaulting: a missing request equals the container's own limit.
        let (field, quantity) = match request {
            Some(quantity) => (format!("requests.{resource}"), Some(quantity)),
            None => (format!("limits.{resource}"), limit),
        };
        parse(field, quantity)?.unwrap_or(0)
    };

    let divisor = match &selector.divisor {
        Some(quantity) => match parse("divisor".to_owned(), Some(quantity))? {
            Some(0) | None => 1000,
            Some(millis) => millis,
        },
        None => 1000,
    };
    let value = if resource == "cpu" {
        ceil_div(millis, divisor)
    } else {
        ceil_div(whole_units(millis), whole_units(divisor))
    };
    Ok(value.to_string())
}

/// Milli-units to whole units, rounded away from zero (`Quantity.Value`).
fn whole_units(millis: i128) -> i128 {
    let units = millis / 1000;
    match millis % 1000 {
        0 => units,
        _ if millis > 0 => units + 1,
        _ => units - 1,
    }
}

/// `ceil(a / b)`; `b` is never zero here (divisors are at least one milli-unit).
fn ceil_div(a: i128, b: i128) -> i128 {
    if b == 0 {
        // Unreachable by construction: a zero divisor is replaced by 1 before dividing.
        return 0;
    }
    let quotient = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) {
        quotient + 1
    } else {
        quotient
    }
}

// ---------------------------------------------------------------------------------------------
// Quantities

/// Why a quantity string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not of the form `<number><suffix>`.
    #[error("quantity {quantity:?} is malformed")]
    Malformed {
        /// The quantity string.
        quantity: String,
    },
    /// Too large to represent in milli-units.
    #[error("quantity {quantity:?} is out of range")]
    OutOfRange {
        /// The quantity string.
        quantity: String,
    },
}

/// Parses a Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`, `128M`, `1.5Ki`, `-2`) into
/// thousandths of its unit, rounded away from zero like `Quantity.MilliValue`.
///
/// Grammar: optional sign, digits with an optional fraction, then a suffix: none, a decimal SI
/// suffix (`n u m k M G T P E`), a binary one (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent
/// (`e`/`E` followed by an optionally signed integer).
pub fn parse_quantity_millis(quantity: &str) -> Result<i128, QuantityError> {
    let malformed = || QuantityError::Malformed {
        quantity: quantity.to_owned(),
    };
    let out_of_range = || QuantityError::OutOfRange {
        quantity: quantity.to_owned(),
    };

    let (negative, rest) = match quantity.as_bytes().first() {
        Some(b'-') => (true, &quantity[1..]),
        Some(b'+') => (false, &quantity[1..]),
        _ => (false, quantity),
    };
    let number_len = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (integer, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (integer.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(malformed());
    }

    let (mut exponent10, exponent2): (i64, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E']).ok_or_else(malformed)?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            // Parsed as i32 like Go; anything larger is out of range either way.
            (
                i64::from(exponent.parse::<i32>().map_err(|_| out_of_range())?),
                0,
            )
        }
    };

    // All digits as one integer mantissa; trailing fraction zeros carry no value.
    let fraction = fraction.trim_end_matches('0');
    let digits = format!("{integer}{fraction}");
    let digits = digits.trim_start_matches('0');
    exponent10 = exponent10 - i64::try_from(fraction.len()).map_err(|_| out_of_range())? + 3;
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| out_of_range())?
    };
    let scaled = mantissa
        .checked_mul(1u128 << exponent2)
        .ok_or_else(out_of_range)?;
    let magnitude = if scaled == 0 {
        0
    } else if exponent10 >= 0 {
        let factor = u32::try_from(exponent10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .ok_or_else(out_of_range)?;
        scaled.checked_mul(factor).ok_or_else(out_of_range)?
    } else {
        match u32::try_from(-exponent10)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
        {
            // Round up (away from zero) to the next milli-unit.
            Some(factor) => scaled.div_ceil(factor),
            // The divisor exceeds any u128: a non-zero value rounds up to one milli-unit.
            None => 1,
        }
    };
    let magnitude = i128::try_from(magnitude).map_err(|_| out_of_range())?;
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("test pod is valid")
    }

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).expect("test container is valid")
    }

    fn config_map(namespace: Option<&str>, name: &str, data: serde_json::Value) -> ConfigMap {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "data": data,
            "binaryData": {"binary": "AAE="},
        }))
        .expect("test configmap is valid")
    }

    fn secret(name: &str, data: serde_json::Value, string_data: serde_json::Value) -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "data": data,
            "stringData": string_data,
        }))
        .expect("test secret is valid")
    }

    fn sample_pod() -> Pod {
        pod(json!({
            "metadata": {
                "name": "web",
                "uid": "1234-abcd",
                "labels": {"app": "web", "tier": "front \"end\""},
                "annotations": {"note": "multi\nline"},
            },
            "spec": {
                "serviceAccountName": "robot",
                "nodeName": "ignored-node",
                "initContainers": [{"name": "init"}],
                "containers": [
                    {"name": "main", "resources": {
                        "limits": {"cpu": "500m", "memory": "128M", "hugepages-2Mi": "4Mi"},
                        "requests": {"cpu": "250m"},
                    }},
                    {"name": "side"},
                ],
            },
        }))
    }

    struct Fixture {
        pod: Pod,
        config_maps: Vec<ConfigMap>,
        secrets: Vec<Secret>,
    }

    impl Fixture {
        fn new(pod: Pod) -> Self {
            Fixture {
                pod,
                config_maps: vec![
                    config_map(None, "cfg", json!({"B": "2", "A": "1", "x.y": "dots"})),
                    config_map(Some("other"), "elsewhere", json!({"K": "v"})),
                ],
                secrets: vec![secret(
                    "creds",
                    // "hunter2" and invalid UTF-8 (0xff).
                    json!({"PASSWORD": "aHVudGVyMg==", "RAW": "/w==", "OVERRIDDEN": "b2xk"}),
                    json!({"OVERRIDDEN": "new", "PLAIN": "text"}),
                )],
            }
        }

        fn ctx(&self) -> EnvContext<'_> {
            EnvContext {
                pod: &self.pod,
                pod_ip: "10.0.0.7",
                host_ip: "192.168.1.2",
                node_name: "node-1",
                config_maps: &self.config_maps,
                secrets: &self.secrets,
                node_allocatable_cpu_millis: 4000,
                node_allocatable_memory_bytes: 8 * 1024 * 1024 * 1024,
            }
        }

        fn env(
            &self,
            container_json: serde_json::Value,
        ) -> Result<Vec<(String, String)>, EnvError> {
            container_environment(&self.ctx(), &container(container_json))
        }

        fn env_message(&self, container_json: serde_json::Value) -> String {
            match self.env(container_json) {
                Ok(env) => panic!("expected an error, got {env:?}"),
                Err(error) => error.to_string(),
            }
        }

        /// The value of one variable defined by `valueFrom` in the pod's first container.
        fn value_from(&self, value_from: serde_json::Value) -> Result<String, EnvError> {
            let first = self.pod.spec.as_ref().map(|spec| &spec.containers[0]);
            let first = serde_json::to_value(first.expect("test pod has a container"));
            self.value_from_in(first.expect("container serializes"), value_from)
        }

        fn value_from_in(
            &self,
            mut container_json: serde_json::Value,
            value_from: serde_json::Value,
        ) -> Result<String, EnvError> {
            container_json["env"] = json!([{"name": "V", "valueFrom": value_from}]);
            let env = self.env(container_json)?;
            assert_eq!(env.len(), 1, "{env:?}");
            Ok(env[0].1.clone())
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    // --- $(VAR) expansion -----------------------------------------------------------------

    #[test]
    fn expand_var_refs_table() {
        let lookup = |name: &str| match name {
            "A" => Some("a".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("$(A)", "a"),
            ("x$(A)y", "xay"),
            ("$(A)$(A)", "aa"),
            ("$(EMPTY)", ""),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$()", "$()"),
            ("$$", "$"),
            ("$$$$", "$$"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$a"),
            ("$(A", "$(A"),
            ("$(A $(B", "$(A $(B"),
            ("$($(A))", "$($(A))"),
            ("$((A))", "$((A))"),
            ("$", "$"),
            ("a$", "a$"),
            ("$(A)$", "a$"),
            ("$x", "$x"),
            ("$é$(A)", "$éa"),
            ("€$(A)€", "€a€"),
            ("100$ and $(A)", "100$ and a"),
        ];
        for (input, expected) in cases {
            assert_eq!(expand_var_refs(input, lookup), expected, "input {input:?}");
        }
    }

    #[test]
    fn expand_command_uses_the_final_environment_and_last_definition() {
        let env = pairs(&[("A", "first"), ("B", "b"), ("A", "last")]);
        let args = ["echo", "$(A)", "$(B)-$(C)", "$$(A)"].map(str::to_owned);
        assert_eq!(
            expand_command(&args, &env),
            ["echo", "last", "b-$(C)", "$(A)"]
        );
    }

    // --- envFrom and env order ------------------------------------------------------------

    #[test]
    fn env_from_then_env_with_first_position_and_last_value() {
        let fixture = Fixture::new(sample_pod());
        let env = fixture
            .env(json!({
                "name": "main",
                "envFrom": [
                    {"configMapRef": {"name": "cfg"}},
                    {"prefix": "S_", "secretRef": {"name": "creds"}},
                    {"prefix": "P_", "configMapRef": {"name": "cfg"}},
                ],
                "env": [
                    {"name": "Z", "value": "z"},
                    {"name": "A", "value": "$(A)+$(B)"},
                    {"name": "Z", "value": "$(Z)$(Z)"},
                ],
            }))
            .unwrap();
        assert_eq!(
            env,
            pairs(&[
                ("A", "1+2"),
                ("B", "2"),
                ("x.y", "dots"),
                ("S_OVERRIDDEN", "new"),
                ("S_PASSWORD", "hunter2"),
                ("S_PLAIN", "text"),
                ("S_RAW", "\u{fffd}"),
                ("P_A", "1"),
                ("P_B", "2"),
                ("P_x.y", "dots"),
                ("Z", "zz"),
            ])
        );
    }

    #[test]
    fn later_env_from_sources_overwrite_earlier_keys() {
        let mut fixture = Fixture::new(sample_pod());
        fixture
            .config_maps
            .push(config_map(None, "second", json!({"A": "override"})));
        let env = fixture
            .env(json!({"name": "main", "envFrom": [
                {"configMapRef": {"name": "cfg"}},
                {"configMapRef": {"name": "second"}},
            ]}))
            .unwrap();
        assert_eq!(
            env,
            pairs(&[("A", "override"), ("B", "2"), ("x.y", "dots")])
        );
    }

    #[test]
    fn env_values_only_see_variables_defined_before_them() {
        let fixture = Fixture::new(sample_pod());
        let env = fixture
            .env(json!({"name": "main", "env": [
                {"name": "X", "value": "$(Y)"},
                {"name": "Y", "value": "y"},
                {"name": "W", "value": "$(Y)"},
            ]}))
            .unwrap();
        assert_eq!(env, pairs(&[("X", "$(Y)"), ("Y", "y"), ("W", "y")]));
    }

    #[test]
    fn env_values_can_reference_value_from_results_but_are_not_expanded_themselves() {
        let fixture = Fixture::new(sample_pod());
        let env = fixture
            .env(json!({"name": "main", "env": [
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "REF", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "A"}}},
                {"name": "MSG", "value": "$(POD)/$(REF)"},
            ]}))
            .unwrap();
        assert_eq!(
            env,
            pairs(&[("POD", "web"), ("REF", "1"), ("MSG", "web/1")])
        );
    }

    #[test]
    fn empty_value_without_source_is_an_empty_variable() {
        let fixture = Fixture::new(sample_pod());
        let env = fixture
            .env(json!({"name": "main", "env": [
                {"name": "E"},
                {"name": "F", "value": ""},
                {"name": "G", "valueFrom": {}},
            ]}))
            .unwrap();
        assert_eq!(env, pairs(&[("E", ""), ("F", ""), ("G", "")]));
    }

    #[test]
    fn no_hostname_and_no_service_links_are_added() {
        let fixture = Fixture::new(sample_pod());
        assert_eq!(fixture.env(json!({"name": "main"})).unwrap(), Vec::new());
    }

    // --- ConfigMaps and Secrets -----------------------------------------------------------

    #[test]
    fn missing_sources_fail_with_the_kubelet_messages() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            (
                json!({"envFrom": [{"configMapRef": {"name": "nope"}}]}),
                "configmap \"nope\" not found",
            ),
            (
                json!({"envFrom": [{"secretRef": {"name": "nope"}}]}),
                "secret \"nope\" not found",
            ),
            (
                json!({"envFrom": [{"configMapRef": {"name": "elsewhere"}}]}),
                "configmap \"elsewhere\" not found",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}),
                "configmap \"nope\" not found",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}),
                "couldn't find key k in ConfigMap default/cfg",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "binary"}}}]}),
                "couldn't find key binary in ConfigMap default/cfg",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}),
                "secret \"s\" not found",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]}),
                "couldn't find key k in Secret default/creds",
            ),
            (
                json!({"env": [{"name": "V", "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "p", "key": "k"}}}]}),
                "fileKeyRef is not supported (env var V)",
            ),
        ];
        for (mut container_json, expected) in cases {
            container_json["name"] = json!("main");
            assert_eq!(
                fixture.env_message(container_json.clone()),
                expected,
                "{container_json}"
            );
        }
    }

    #[test]
    fn optional_missing_sources_are_skipped_and_keep_earlier_definitions() {
        let fixture = Fixture::new(sample_pod());
        let env = fixture
            .env(json!({
                "name": "main",
                "envFrom": [
                    {"configMapRef": {"name": "nope", "optional": true}},
                    {"secretRef": {"name": "nope", "optional": true}},
                    {"configMapRef": {"name": "cfg"}},
                ],
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": true}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k", "optional": true}}},
                    {"name": "D", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                    {"name": "E", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "B", "optional": true}}},
                ],
            }))
            .unwrap();
        assert_eq!(
            env,
            pairs(&[("A", "1"), ("B", "2"), ("x.y", "dots"), ("E", "2")])
        );
    }

    #[test]
    fn secret_key_ref_reads_decoded_data_and_string_data() {
        let fixture = Fixture::new(sample_pod());
        let get = |key: &str| {
            fixture
                .value_from(json!({"secretKeyRef": {"name": "creds", "key": key}}))
                .unwrap()
        };
        assert_eq!(get("PASSWORD"), "hunter2");
        assert_eq!(get("OVERRIDDEN"), "new");
        assert_eq!(get("PLAIN"), "text");
        assert_eq!(get("RAW"), "\u{fffd}");
    }

    #[test]
    fn objects_are_looked_up_in_the_pods_namespace() {
        let mut fixture = Fixture::new(pod(json!({
            "metadata": {"name": "p", "namespace": "other"},
            "spec": {"containers": [{"name": "main"}]},
        })));
        fixture
            .config_maps
            .push(config_map(Some("default"), "shadow", json!({"K": "wrong"})));
        let value =
            fixture.value_from(json!({"configMapKeyRef": {"name": "elsewhere", "key": "K"}}));
        assert_eq!(value.unwrap(), "v");
        let error = fixture.value_from(json!({"configMapKeyRef": {"name": "shadow", "key": "K"}}));
        assert_eq!(
            error.unwrap_err().to_string(),
            "configmap \"shadow\" not found"
        );
        let error =
            fixture.value_from(json!({"configMapKeyRef": {"name": "elsewhere", "key": "X"}}));
        assert_eq!(
            error.unwrap_err().to_string(),
            "couldn't find key X in ConfigMap other/elsewhere"
        );
    }

    // --- fieldRef -------------------------------------------------------------------------

    #[test]
    fn field_ref_paths() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            ("metadata.name", "web"),
            ("metadata.namespace", "default"),
            ("metadata.uid", "1234-abcd"),
            ("metadata.labels['app']", "web"),
            ("metadata.labels['missing']", ""),
            ("metadata.annotations['note']", "multi\nline"),
            ("metadata.labels", "app=\"web\"\ntier=\"front \\\"end\\\"\""),
            ("metadata.annotations", "note=\"multi\\nline\""),
            ("spec.nodeName", "node-1"),
            ("spec.host", "node-1"),
            ("spec.serviceAccountName", "robot"),
            ("status.podIP", "10.0.0.7"),
            ("status.podIPs", "10.0.0.7"),
            ("status.hostIP", "192.168.1.2"),
            ("status.hostIPs", "192.168.1.2"),
        ];
        for (field_path, expected) in cases {
            let value = fixture.value_from(json!({"fieldRef": {"fieldPath": field_path}}));
            assert_eq!(value.as_deref(), Ok(expected), "{field_path}");
        }
        let with_version = fixture
            .value_from(json!({"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}));
        assert_eq!(with_version.as_deref(), Ok("web"));
    }

    #[test]
    fn field_ref_errors() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            (
                json!({"apiVersion": "v2", "fieldPath": "metadata.name"}),
                "unsupported pod version: v2",
            ),
            (
                json!({"fieldPath": "spec.containers"}),
                "field label not supported: spec.containers",
            ),
            (
                json!({"fieldPath": "status.phase"}),
                "unsupported fieldPath: status.phase",
            ),
            (
                json!({"fieldPath": "spec.restartPolicy"}),
                "unsupported fieldPath: spec.restartPolicy",
            ),
            (
                json!({"fieldPath": "metadata.name['x']"}),
                "field label does not support subscript: metadata.name['x']",
            ),
        ];
        for (selector, expected) in cases {
            let error = fixture
                .value_from(json!({"fieldRef": selector}))
                .unwrap_err();
            assert_eq!(error.to_string(), expected, "{selector}");
        }
    }

    #[test]
    fn pod_ips_are_empty_without_an_address() {
        let fixture = Fixture::new(sample_pod());
        let ctx = EnvContext {
            pod_ip: "",
            ..fixture.ctx()
        };
        let env = container_environment(
            &ctx,
            &container(json!({"name": "main", "env": [
                {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            ]})),
        )
        .unwrap();
        assert_eq!(env, pairs(&[("IPS", "")]));
    }

    #[test]
    fn extract_field_path_rejects_subscripts_on_other_fields_like_the_volume_plugin() {
        let error = extract_field_path(&sample_pod(), "metadata.name['x']").unwrap_err();
        assert_eq!(
            error.to_string(),
            "fieldPath \"metadata.name['x']\" does not support subscript"
        );
        let error = extract_field_path(&sample_pod(), "spec.nodeName").unwrap_err();
        assert_eq!(error.to_string(), "unsupported fieldPath: spec.nodeName");
    }

    #[test]
    fn format_map_and_go_quote() {
        assert_eq!(format_map(None), "");
        let map: BTreeMap<String, String> = [("b", "2"), ("a", "x\"y\\z"), ("c", "")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(format_map(Some(&map)), "a=\"x\\\"y\\\\z\"\nb=\"2\"\nc=\"\"");

        let cases = [
            ("plain", r#""plain""#),
            ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
            ("\u{7}\u{8}\u{b}\u{c}", r#""\a\b\v\f""#),
            ("\u{1}\u{1b}\u{7f}", r#""\x01\x1b\x7f""#),
            ("é ü 日本 😀", "\"é ü 日本 😀\""),
            ("\u{a0}\u{85}\u{2028}", r#""\u00a0\u0085\u2028""#),
            ("\u{200b}\u{feff}\u{ad}", r#""\u200b\ufeff\u00ad""#),
            ("\u{e000}\u{f0000}", r#""\ue000\U000f0000""#),
        ];
        for (input, expected) in cases {
            assert_eq!(go_quote(input), expected, "{input:?}");
        }
    }

    // --- resourceFieldRef -----------------------------------------------------------------

    #[test]
    fn resource_field_ref_values() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            (json!({"resource": "limits.cpu"}), "1"),
            (json!({"resource": "limits.cpu", "divisor": "1m"}), "500"),
            (json!({"resource": "limits.cpu", "divisor": "0"}), "1"),
            (json!({"resource": "requests.cpu", "divisor": "1m"}), "250"),
            (json!({"resource": "requests.cpu"}), "1"),
            (json!({"resource": "limits.memory"}), "128000000"),
            (
                json!({"resource": "limits.memory", "divisor": "1Mi"}),
                "123",
            ),
            (json!({"resource": "limits.memory", "divisor": "1M"}), "128"),
            (
                json!({"resource": "limits.memory", "divisor": "1k"}),
                "128000",
            ),
            (json!({"resource": "limits.memory", "divisor": "1Gi"}), "1"),
            // A missing request is defaulted from the limit (API defaulting).
            (
                json!({"resource": "requests.memory", "divisor": "1M"}),
                "128",
            ),
            (json!({"resource": "requests.ephemeral-storage"}), "0"),
            // No ephemeral-storage allocatable is known: the limit stays unset.
            (json!({"resource": "limits.ephemeral-storage"}), "0"),
            (
                json!({"resource": "limits.hugepages-2Mi", "divisor": "1Mi"}),
                "4",
            ),
            (
                json!({"resource": "requests.hugepages-2Mi", "divisor": "1Mi"}),
                "4",
            ),
            (json!({"resource": "limits.hugepages-1Gi"}), "0"),
            // Another regular container without limits gets node allocatable.
            (
                json!({"resource": "limits.cpu", "containerName": "side"}),
                "4",
            ),
            (
                json!({"resource": "limits.memory", "containerName": "side", "divisor": "1Gi"}),
                "8",
            ),
            (
                json!({"resource": "requests.cpu", "containerName": "side"}),
                "0",
            ),
            (
                json!({"resource": "limits.cpu", "containerName": "main", "divisor": "1m"}),
                "500",
            ),
            // A named init container is not defaulted by the kubelet.
            (
                json!({"resource": "limits.cpu", "containerName": "init"}),
                "0",
            ),
        ];
        for (selector, expected) in cases {
            let value = fixture.value_from(json!({"resourceFieldRef": selector}));
            assert_eq!(value.as_deref(), Ok(expected), "{selector}");
        }
    }

    #[test]
    fn missing_or_zero_limits_default_to_node_allocatable() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            (
                json!({"name": "c"}),
                json!({"resource": "limits.cpu", "divisor": "1m"}),
                "4000",
            ),
            (
                json!({"name": "c", "resources": {"limits": {"cpu": "0", "memory": "0"}}}),
                json!({"resource": "limits.cpu", "divisor": "1m"}),
                "4000",
            ),
            (
                json!({"name": "c", "resources": {"limits": {"memory": "0"}}}),
                json!({"resource": "limits.memory", "divisor": "1Mi"}),
                "8192",
            ),
            (
                json!({"name": "c", "resources": {"limits": {"ephemeral-storage": "1Gi"}}}),
                json!({"resource": "limits.ephemeral-storage", "divisor": "1Mi"}),
                "1024",
            ),
        ];
        for (container_json, selector, expected) in cases {
            let value =
                fixture.value_from_in(container_json, json!({"resourceFieldRef": selector}));
            assert_eq!(value.as_deref(), Ok(expected), "{selector}");
        }
    }

    #[test]
    fn pod_level_limits_take_precedence_over_node_allocatable() {
        let fixture = Fixture::new(pod(json!({
            "metadata": {"name": "p"},
            "spec": {
                "resources": {"limits": {"cpu": "2", "memory": "0"}},
                "containers": [{"name": "main"}],
            },
        })));
        let cpu = fixture.value_from(json!({"resourceFieldRef": {"resource": "limits.cpu"}}));
        assert_eq!(cpu.as_deref(), Ok("2"));
        // A zero pod-level limit does not override node allocatable.
        let memory = fixture.value_from(
            json!({"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}}),
        );
        assert_eq!(memory.as_deref(), Ok("8"));
    }

    #[test]
    fn invalid_pod_level_limit_is_reported() {
        let fixture = Fixture::new(pod(json!({
            "metadata": {"name": "p"},
            "spec": {
                "resources": {"limits": {"memory": "lots"}},
                "containers": [{"name": "main"}],
            },
        })));
        let error = fixture
            .value_from(json!({"resourceFieldRef": {"resource": "limits.cpu"}}))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid quantity for pod-level limits.memory"
        );
        assert_eq!(
            std::error::Error::source(&error).map(ToString::to_string),
            Some("quantity \"lots\" is malformed".to_owned())
        );
    }

    #[test]
    fn resource_field_ref_errors() {
        let fixture = Fixture::new(sample_pod());
        let cases = [
            (
                json!({"resource": "limits.gpu"}),
                "unsupported container resource : limits.gpu",
            ),
            (
                json!({"resource": "cpu"}),
                "unsupported container resource : cpu",
            ),
            (
                json!({"resource": "usage.cpu"}),
                "unsupported container resource : usage.cpu",
            ),
            (
                json!({"resource": "limits.cpu", "containerName": "nope"}),
                "container nope not found",
            ),
            (
                json!({"resource": "limits.cpu", "divisor": "1x"}),
                "invalid quantity for divisor of container main",
            ),
        ];
        for (selector, expected) in cases {
            let error = fixture
                .value_from(json!({"resourceFieldRef": selector}))
                .unwrap_err();
            assert_eq!(error.to_string(), expected, "{selector}");
        }
    }

    // --- quantities -----------------------------------------------------------------------

    #[test]
    fn parse_quantity_millis_table() {
        let cases: [(&str, i128); 30] = [
            ("0", 0),
            ("1", 1000),
            ("2", 2000),
            ("500m", 500),
            ("0.5", 500),
            (".5", 500),
            ("5.", 5000),
            ("0.1", 100),
            ("1.0500", 1050),
            ("250m", 250),
            ("1n", 1),
            ("1u", 1),
            ("1500u", 2),
            ("1k", 1_000_000),
            ("128M", 128_000_000_000),
            ("1G", 1_000_000_000_000),
            ("1T", 1_000_000_000_000_000),
            ("1P", 1_000_000_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000_000),
            ("1Ki", 1_024_000),
            ("1.5Ki", 1_536_000),
            ("1Mi", 1_048_576_000),
            ("1Gi", 1_073_741_824_000),
            ("1Ei", 1_152_921_504_606_846_976_000),
            ("1e3", 1_000_000),
            ("1E3", 1_000_000),
            ("1e+3", 1_000_000),
            ("1.5e-3", 2),
            ("1e-40", 1),
            ("-0.5m", -1),
        ];
        for (quantity, expected) in cases {
            assert_eq!(parse_quantity_millis(quantity), Ok(expected), "{quantity}");
        }
        assert_eq!(parse_quantity_millis("+2k"), Ok(2_000_000));
        assert_eq!(parse_quantity_millis("-1"), Ok(-1000));
        assert_eq!(parse_quantity_millis("0.000m"), Ok(0));
        assert_eq!(parse_quantity_millis("000123"), Ok(123_000));
    }

    #[test]
    fn parse_quantity_millis_rejects_malformed_and_huge_quantities() {
        for quantity in [
            "", "+", ".", "abc", "1K", "1ki", "1e", "1ee3", "1e3.5", "1.2.3", "1 ", " 1", "1Mi3",
            "1m3", "--1",
        ] {
            assert_eq!(
                parse_quantity_millis(quantity),
                Err(QuantityError::Malformed {
                    quantity: quantity.to_owned()
                }),
                "{quantity:?}"
            );
        }
        for quantity in [
            "1e40",
            "1e99999999999",
            "1000000000000000000000000000000000000000000",
        ] {
            assert_eq!(
                parse_quantity_millis(quantity),
                Err(QuantityError::OutOfRange {
                    quantity: quantity.to_owned()
                }),
                "{quantity:?}"
            );
        }
    }

    #[test]
    fn ceil_division_rounds_up() {
        assert_eq!(ceil_div(7, 2), 4);
        assert_eq!(ceil_div(6, 2), 3);
        assert_eq!(ceil_div(0, 5), 0);
        assert_eq!(ceil_div(-7, 2), -3);
        assert_eq!(whole_units(1), 1);
        assert_eq!(whole_units(1000), 1);
        assert_eq!(whole_units(1001), 2);
        assert_eq!(whole_units(-1), -1);
    }
}
