//! The ConfigMaps and Secrets a pod's environment and volumes may reference: a typed snapshot
//! taken from the store whenever one of them changes (the kubelet's configmap/secret managers,
//! reduced to "read the current object").

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// The ConfigMaps and Secrets pods can reference.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// ConfigMaps.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets.
    pub secrets: Vec<Secret>,
}
