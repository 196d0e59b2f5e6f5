//! The engine's typed errors (what a command through the [`crate::EngineHandle`] can answer)
//! and the one helper that renders an error with its sources. Mirrors the apiserver's
//! `errors.StatusError` families that the engine's answers map onto (NotFound, AlreadyExists,
//! Conflict, Forbidden), so the API turns each into a `Status` without parsing strings.

use podvisor_lifecycle::plan::PodKey;

/// Why the engine refused or could not carry out a command.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An object of this kind, namespace and name already exists.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// The resource, e.g. `pods`.
        resource: String,
        /// Namespace ("" for cluster-scoped objects).
        namespace: String,
        /// Name.
        name: String,
    },
    /// No such object.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// The resource, e.g. `pods`.
        resource: String,
        /// Namespace ("" for cluster-scoped objects).
        namespace: String,
        /// Name.
        name: String,
    },
    /// The write is not allowed (e.g. deleting a built-in namespace).
    #[error("{resource} \"{name}\" is forbidden: {why}")]
    Forbidden {
        /// The resource, e.g. `namespaces`.
        resource: String,
        /// Name.
        name: String,
        /// Why.
        why: String,
    },
    /// A connection into the pod failed.
    #[error("error forwarding port {port} to pod {pod}: {message}")]
    Connect {
        /// The pod.
        pod: PodKey,
        /// The port inside the pod.
        port: u16,
        /// What failed.
        message: String,
    },
    /// The container has no running instance.
    #[error("container {container} of pod {pod} is not running")]
    NotRunning {
        /// The pod.
        pod: PodKey,
        /// The container name (or `pod sandbox`).
        container: String,
    },
    /// The engine has stopped and takes no more commands.
    #[error("the engine has stopped")]
    Stopped,
}

impl EngineError {
    /// `NotFound` for a pod.
    pub fn pod_not_found(key: &PodKey) -> Self {
        EngineError::NotFound {
            resource: "pods".into(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    /// `AlreadyExists` for a pod.
    pub fn pod_exists(key: &PodKey) -> Self {
        EngineError::AlreadyExists {
            resource: "pods".into(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }
}

/// An error and its sources, joined with ": ".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
