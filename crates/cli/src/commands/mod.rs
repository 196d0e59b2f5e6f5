//! One module per subcommand.

pub mod run;
pub mod serve;

use anyhow::Context;
use podvisor_engine::runtime::process::{LinuxRuntime, LinuxRuntimeConfig};

/// The Linux runtime with this very binary as the per-container monitor (`podvisor __shim`),
/// after printing loudly what its isolation lacks; and the node's name (the hostname).
pub fn linux_runtime(state_dir: &std::path::Path) -> anyhow::Result<(LinuxRuntime, String)> {
    let shim = std::env::current_exe().context("locating the podvisor binary for the shim")?;
    let linux = LinuxRuntime::new(LinuxRuntimeConfig {
        shim_program: shim,
        shim_args: vec!["__shim".into()],
        die_with_parent: true,
        state_dir: state_dir.join("runtime"),
    })
    .context("initialising the Linux runtime")?;
    for w in linux.warnings() {
        eprintln!("WARNING: {w}");
    }
    let node_name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    Ok((linux, node_name))
}
