//! Events a controller records (`record.EventRecorder.Eventf`): type, reason, message, as
//! kube-controller-manager words them.

/// `Normal` or `Warning` (the same type the pod core records with).
pub use podvisor_lifecycle::action::EventType;

/// One event about the object being synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// The machine-readable reason, e.g. `ScalingReplicaSet`.
    pub reason: String,
    /// The human message, e.g. `Scaled up replica set web-7d9f from 0 to 3`.
    pub message: String,
}

impl Event {
    /// A `Normal` event.
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Event {
            type_: EventType::Normal,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A `Warning` event.
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Event {
            type_: EventType::Warning,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}
