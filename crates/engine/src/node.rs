//! The one Node object of this machine, as the kubelet registers and updates it
//! (`kubelet_node_status.go` `initialNode` / `setNodeStatus`: capacity and allocatable from the
//! machine, the four pressure conditions and Ready, addresses, nodeInfo). podvisor reserves
//! nothing for the system, so allocatable equals capacity; `pods` is the kubelet's default 110.

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

/// The kubelet version podvisor reports (the kubectl dispatcher picks kubectl 1.32 from it).
pub const KUBELET_VERSION: &str = "v1.32.4";

/// What the Node object is built from.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    /// The node's name (the hostname).
    pub name: String,
    /// `InternalIP`.
    pub host_ip: String,
    /// When podvisor started (the node's creation and the conditions' transition time).
    pub started: jiff::Timestamp,
    /// Now (heartbeat).
    pub now: jiff::Timestamp,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn os_image() -> String {
    read("/etc/os-release")
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn memory_kib() -> u64 {
    read("/proc/meminfo")
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    f: &NodeFacts,
) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(f.now)),
        last_transition_time: Some(Time(f.started)),
    }
}

/// The Node object for this machine.
pub fn node_object(f: &NodeFacts) -> Node {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let resources = [
        ("cpu".to_string(), Quantity(cpus.to_string())),
        (
            "memory".to_string(),
            Quantity(format!("{}Ki", memory_kib())),
        ),
        ("pods".to_string(), Quantity("110".into())),
    ]
    .into_iter()
    .collect::<std::collections::BTreeMap<_, _>>();
    let kernel = nix::sys::utsname::uname()
        .ok()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let machine_id = read("/etc/machine-id").unwrap_or_default();
    let labels = [
        ("kubernetes.io/hostname", f.name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(f.name.clone()),
            uid: Some(if machine_id.len() == 32 {
                format!(
                    "{}-{}-{}-{}-{}",
                    &machine_id[0..8],
                    &machine_id[8..12],
                    &machine_id[12..16],
                    &machine_id[16..20],
                    &machine_id[20..32]
                )
            } else {
                format!("node-{}", f.name)
            }),
            labels: Some(labels),
            annotations: Some(
                [("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string())].into(),
            ),
            creation_timestamp: Some(Time(f.started)),
            ..Default::default()
        },
        spec: Some(Default::default()),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(vec![
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                    f,
                ),
                condition(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                    f,
                ),
                condition(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                    f,
                ),
                condition(
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                    f,
                ),
            ]),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: f.host_ip.clone(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: f.name.clone(),
                },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
            }),
            node_info: Some(NodeSystemInfo {
                architecture: arch().into(),
                boot_id: read("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
                container_runtime_version: format!("podvisor://{}", env!("CARGO_PKG_VERSION")),
                kernel_version: kernel,
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: machine_id.clone(),
                operating_system: "linux".into(),
                os_image: os_image(),
                system_uuid: machine_id,
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_is_ready_with_the_machines_capacity() {
        let now = jiff::Timestamp::now();
        let n = node_object(&NodeFacts {
            name: "box".into(),
            host_ip: "127.0.0.1".into(),
            started: now,
            now,
        });
        let st = n.status.unwrap();
        let ready = st
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(st.capacity.unwrap()["pods"].0, "110");
        assert_eq!(st.node_info.unwrap().kubelet_version, KUBELET_VERSION);
    }
}
