//! `podvisor`: run Kubernetes Pod manifests on one Linux machine with the kubelet's lifecycle
//! semantics. Argument parsing and wiring only; the logic lives in the engine and lifecycle crates.

mod commands;
mod input;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run Kubernetes Pod manifests locally with the kubelet's lifecycle semantics.
#[derive(Debug, Parser)]
#[command(name = "podvisor", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run pods in the foreground and show their lifecycle as it happens.
    Run(commands::run::RunArgs),
    /// Run the node daemon: the engine plus a Kubernetes API that kubectl drives.
    Serve(commands::serve::ServeArgs),
    /// Print the kubeconfig of a `podvisor serve` state directory.
    Kubeconfig(commands::serve::KubeconfigArgs),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The per-container monitor ("shim") is this same binary; it must start before any thread.
    if args.get(1).map(String::as_str) == Some("__shim") {
        let code = podvisor_engine::runtime::process::shim_main(args[2..].to_vec());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PODVISOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run(args) => commands::run::main(args),
        Command::Serve(args) => commands::serve::main(args),
        Command::Kubeconfig(args) => commands::serve::kubeconfig(args),
    }
}
