//! The validated, defaulted form of a Pod manifest (`PodPlan`), built once at the edge
//! ("parse, don't validate"). Mirrors the API server's defaulting (`SetDefaults_Pod`,
//! `SetDefaults_Container`, `SetDefaults_Probe`) and validation (`ValidatePodCreate`);
//! see kubelet-semantics.md §3.1, §4.5, §5.1, §8.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use crate::signal::Signal;

/// Identifies a pod: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    /// `metadata.namespace` (defaulted to `default`).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// `spec.restartPolicy` (pod-level) or `containers[].restartPolicy` (container-level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Restart whatever the exit code.
    Always,
    /// Restart only on a non-zero exit code.
    OnFailure,
    /// Never restart.
    Never,
}

/// Which list a container comes from, and for init containers whether it is a native sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// `spec.initContainers[i]` without `restartPolicy: Always`: runs to completion, serially.
    Init,
    /// `spec.initContainers[i]` with `restartPolicy: Always`: a native sidecar.
    Sidecar,
    /// `spec.containers[i]`.
    Regular,
}

/// Index of a container in the plan: which list, and the position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContainerRef {
    /// `spec.initContainers[i]` (regular init container or sidecar).
    Init(usize),
    /// `spec.containers[i]`.
    Regular(usize),
}

impl ContainerRef {
    /// The field path used in `involvedObject.fieldPath` of events: `spec.containers{name}`.
    pub fn field_path(self, name: &str) -> String {
        match self {
            ContainerRef::Init(_) => format!("spec.initContainers{{{name}}}"),
            ContainerRef::Regular(_) => format!("spec.containers{{{name}}}"),
        }
    }
}

/// `terminationMessagePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationMessagePolicy {
    /// Read only the termination-message file.
    File,
    /// Fall back to the log tail when the file is empty and the container failed.
    FallbackToLogsOnError,
}

/// `httpGet.scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpScheme {
    /// `HTTP`.
    Http,
    /// `HTTPS` (TLS verification is disabled, as in the kubelet).
    Https,
}

/// A resolved `httpGet` action (probe or hook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGetPlan {
    /// Lower-cased in the URL; default `HTTP`.
    pub scheme: HttpScheme,
    /// `httpGet.host`; `None` means the pod IP.
    pub host: Option<String>,
    /// Port number, named ports already resolved against `container.ports`.
    pub port: u16,
    /// Path, default `/`.
    pub path: String,
    /// `httpHeaders` in order (name, value).
    pub headers: Vec<(String, String)>,
}

/// A lifecycle handler or probe mechanism, shared by hooks and probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerPlan {
    /// `exec.command` (argv, no shell).
    Exec {
        /// The argv. For exec probes `$(VAR)` is already expanded against static env values.
        command: Vec<String>,
    },
    /// `httpGet`.
    HttpGet(HttpGetPlan),
    /// `tcpSocket`: valid for probes; for hooks it is accepted and fails at run time.
    TcpSocket {
        /// `tcpSocket.host`; `None` means the pod IP.
        host: Option<String>,
        /// Port number, named ports resolved.
        port: u16,
    },
    /// `grpc` (probes only): grpc.health.v1 `Check`.
    Grpc {
        /// Port number.
        port: u16,
        /// `grpc.service`, default "".
        service: String,
    },
    /// `sleep` (hooks only): implemented by the kubelet, not in the container.
    Sleep {
        /// `sleep.seconds` (0 allowed).
        seconds: i64,
    },
}

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeType {
    /// `startupProbe`.
    Startup,
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
}

impl ProbeType {
    /// `Liveness`, `Readiness`, `Startup` as used in event messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeType::Startup => "Startup",
            ProbeType::Liveness => "Liveness",
            ProbeType::Readiness => "Readiness",
        }
    }
}

/// A probe with every default applied (§5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePlan {
    /// The mechanism.
    pub handler: HandlerPlan,
    /// `initialDelaySeconds` (default 0).
    pub initial_delay_seconds: i64,
    /// `timeoutSeconds` (default 1).
    pub timeout_seconds: i64,
    /// `periodSeconds` (default 10).
    pub period_seconds: i64,
    /// `successThreshold` (default 1; must be 1 for liveness and startup).
    pub success_threshold: i64,
    /// `failureThreshold` (default 3).
    pub failure_threshold: i64,
    /// Probe-level `terminationGracePeriodSeconds` (liveness/startup only).
    pub termination_grace_period_seconds: Option<i64>,
}

impl ProbePlan {
    /// `periodSeconds` as a duration.
    pub fn period(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.period_seconds.max(1)).unwrap_or(1))
    }

    /// `timeoutSeconds` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.timeout_seconds.max(1)).unwrap_or(1))
    }
}

/// One `volumeMounts[]` entry resolved against `spec.volumes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMountPlan {
    /// `volumeMounts[].name` = `volumes[].name`.
    pub volume: String,
    /// `mountPath` (absolute, inside the container).
    pub mount_path: String,
    /// `subPath` ("" when unset).
    pub sub_path: String,
    /// `readOnly`.
    pub read_only: bool,
}

/// One container with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    /// `name`.
    pub name: String,
    /// Init, sidecar or regular.
    pub kind: ContainerKind,
    /// Where it sits in the spec.
    pub container_ref: ContainerRef,
    /// `image` (informational: podvisor runs the host's root filesystem as the image).
    pub image: String,
    /// `command` (may be empty, then `args[0]` is the program); `$(VAR)` not yet expanded.
    pub command: Vec<String>,
    /// `args`; `$(VAR)` not yet expanded.
    pub args: Vec<String>,
    /// `workingDir` ("" = `/`).
    pub working_dir: String,
    /// `lifecycle.postStart`.
    pub post_start: Option<HandlerPlan>,
    /// `lifecycle.preStop`.
    pub pre_stop: Option<HandlerPlan>,
    /// `lifecycle.stopSignal`, validated; `SIGTERM` when unset (the runtime's default: there is
    /// no image `STOPSIGNAL`).
    pub stop_signal: Signal,
    /// `startupProbe`.
    pub startup_probe: Option<ProbePlan>,
    /// `livenessProbe`.
    pub liveness_probe: Option<ProbePlan>,
    /// `readinessProbe`.
    pub readiness_probe: Option<ProbePlan>,
    /// Container-level `restartPolicy` (`Always` marks a sidecar; regular containers may set it
    /// with ContainerRestartRules). `None` = follow the pod.
    pub restart_policy: Option<RestartPolicy>,
    /// `terminationMessagePath` (default `/dev/termination-log`).
    pub termination_message_path: String,
    /// `terminationMessagePolicy` (default `File`).
    pub termination_message_policy: TerminationMessagePolicy,
    /// Resolved volume mounts.
    pub volume_mounts: Vec<VolumeMountPlan>,
    /// `ports[]` as (name, containerPort) for named-port lookups and `-o wide`.
    pub ports: Vec<(Option<String>, u16)>,
}

impl ContainerPlan {
    /// The probe of the given type, if any.
    pub fn probe(&self, probe_type: ProbeType) -> Option<&ProbePlan> {
        match probe_type {
            ProbeType::Startup => self.startup_probe.as_ref(),
            ProbeType::Liveness => self.liveness_probe.as_ref(),
            ProbeType::Readiness => self.readiness_probe.as_ref(),
        }
    }
}

/// The validated, defaulted pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    /// Namespace and name.
    pub key: PodKey,
    /// `metadata.uid` (generated when absent).
    pub uid: String,
    /// The defaulted API object, kept for rendering (`metadata`, `spec` as the API returns them).
    pub pod: Pod,
    /// `spec.restartPolicy` (default `Always`).
    pub restart_policy: RestartPolicy,
    /// `spec.terminationGracePeriodSeconds` (default 30; negative treated as 1).
    pub termination_grace_period_seconds: i64,
    /// `spec.initContainers`, in order.
    pub init_containers: Vec<ContainerPlan>,
    /// `spec.containers`, in order.
    pub containers: Vec<ContainerPlan>,
    /// Hostname inside the pod (`spec.hostname` or the pod name, ≤ 63 chars).
    pub hostname: String,
    /// `spec.shareProcessNamespace`.
    pub share_process_namespace: bool,
    /// Readiness gates' condition types (`spec.readinessGates[].conditionType`).
    pub readiness_gates: Vec<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
}

impl PodPlan {
    /// The container at `r`.
    pub fn container(&self, r: ContainerRef) -> &ContainerPlan {
        match r {
            ContainerRef::Init(i) => &self.init_containers[i],
            ContainerRef::Regular(i) => &self.containers[i],
        }
    }

    /// Every container reference: init containers in order, then regular ones.
    pub fn container_refs(&self) -> impl Iterator<Item = ContainerRef> + '_ {
        (0..self.init_containers.len())
            .map(ContainerRef::Init)
            .chain((0..self.containers.len()).map(ContainerRef::Regular))
    }

    /// Whether any init container is a native sidecar.
    pub fn has_sidecars(&self) -> bool {
        self.init_containers
            .iter()
            .any(|c| c.kind == ContainerKind::Sidecar)
    }
}

/// Plan constructors for unit tables.
#[cfg(test)]
pub(crate) mod test_plans {
    use super::*;

    /// A container of `kind` with every default.
    pub(crate) fn container(name: &str, kind: ContainerKind) -> ContainerPlan {
        ContainerPlan {
            name: name.into(),
            kind,
            container_ref: ContainerRef::Regular(0),
            image: "busybox".into(),
            command: vec!["true".into()],
            args: vec![],
            working_dir: String::new(),
            post_start: None,
            pre_stop: None,
            stop_signal: Signal::SIGTERM,
            startup_probe: None,
            liveness_probe: None,
            readiness_probe: None,
            restart_policy: (kind == ContainerKind::Sidecar).then_some(RestartPolicy::Always),
            termination_message_path: "/dev/termination-log".into(),
            termination_message_policy: TerminationMessagePolicy::File,
            volume_mounts: vec![],
            ports: vec![],
        }
    }

    /// A pod of these containers (refs assigned in order).
    pub(crate) fn pod(
        init: Vec<ContainerPlan>,
        regular: Vec<ContainerPlan>,
        restart_policy: RestartPolicy,
    ) -> PodPlan {
        let mut init = init;
        let mut regular = regular;
        for (i, c) in init.iter_mut().enumerate() {
            c.container_ref = ContainerRef::Init(i);
        }
        for (i, c) in regular.iter_mut().enumerate() {
            c.container_ref = ContainerRef::Regular(i);
        }
        PodPlan {
            key: PodKey {
                namespace: "default".into(),
                name: "web".into(),
            },
            uid: "uid".into(),
            pod: Pod::default(),
            restart_policy,
            termination_grace_period_seconds: 30,
            init_containers: init,
            containers: regular,
            hostname: "web".into(),
            share_process_namespace: false,
            readiness_gates: vec![],
            labels: BTreeMap::new(),
        }
    }
}
