//! What a container instance is started with: its environment, expanded command, mounts, log
//! path and stop signal, built from the pod plan and the current ConfigMaps and Secrets.
//! Mirrors the kubelet's `generateContainerConfig` (kuberuntime_container.go) with
//! `makeEnvironmentVariables` and `makeMounts` (kubelet_pods.go).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};
use podvisor_lifecycle::env::{container_environment, expand_command, EnvContext};
use podvisor_lifecycle::observation::{InstanceId, StartFailure};
use podvisor_lifecycle::plan::{ContainerRef, PodPlan};

use crate::error::error_chain;
use crate::objects::Objects;
use crate::runtime::ContainerSpec;
use crate::volumes::PodVolumes;

/// The node and pod facts a container's environment may reference.
#[derive(Debug, Clone, Copy)]
pub struct NodeContext<'a> {
    /// `spec.nodeName`.
    pub node_name: &'a str,
    /// `status.hostIP`.
    pub host_ip: &'a str,
    /// `status.podIP`.
    pub pod_ip: &'a str,
}

/// The runtime's spec for `instance`, and the host path of its termination-message file. A
/// failure is what the kubelet reports as the container's waiting reason and message
/// (`CreateContainerConfigError` for an unresolvable reference).
pub fn container_spec(
    plan: &PodPlan,
    instance: InstanceId,
    node: &NodeContext<'_>,
    objects: &Objects,
    volumes: &PodVolumes,
    log_dir: &Path,
) -> Result<(ContainerSpec, Option<PathBuf>), (StartFailure, String)> {
    let c = plan.container(instance.container);
    let ctx = EnvContext {
        pod: &plan.pod,
        pod_ip: node.pod_ip,
        host_ip: node.host_ip,
        node_name: node.node_name,
        config_maps: &objects.config_maps,
        secrets: &objects.secrets,
        node_allocatable_cpu_millis: node_cpu_millis(),
        node_allocatable_memory_bytes: node_memory_bytes(),
    };
    let stdin = api_container(&plan.pod, instance.container)
        .and_then(|c| c.stdin)
        .unwrap_or(false);
    let env = match api_container(&plan.pod, instance.container) {
        Some(ac) => container_environment(&ctx, ac)
            .map_err(|e| (StartFailure::CreateContainerConfigError, e.to_string()))?,
        None => Vec::new(),
    };
    let argv: Vec<String> = c.command.iter().chain(c.args.iter()).cloned().collect();
    let argv = expand_command(&argv, &env);
    let mounts = volumes
        .mounts_for(c, instance.restart_count)
        .map_err(|e| (StartFailure::CreateContainerConfigError, error_chain(&e)))?;
    let log_path = log_dir
        .join(&c.name)
        .join(format!("{}.log", instance.restart_count));
    let spec = ContainerSpec {
        pod: plan.key.clone(),
        name: c.name.clone(),
        restart_count: instance.restart_count,
        argv,
        env,
        working_dir: c.working_dir.clone(),
        mounts: mounts.mounts,
        log_path,
        stdin,
        stop_signal: c.stop_signal,
    };
    Ok((spec, mounts.termination_file))
}

fn api_container(pod: &Pod, r: ContainerRef) -> Option<&Container> {
    let spec = pod.spec.as_ref()?;
    match r {
        ContainerRef::Init(i) => spec.init_containers.as_ref()?.get(i),
        ContainerRef::Regular(i) => spec.containers.get(i),
    }
}

fn node_cpu_millis() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| i64::try_from(n.get()).unwrap_or(1)) * 1000
}

fn node_memory_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
