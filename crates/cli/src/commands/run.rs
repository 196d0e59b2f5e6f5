//! `podvisor run`: run pods in the foreground, print the live timeline, delete them gracefully
//! on `--stop-after` or SIGINT/SIGTERM (a second signal SIGKILLs every container), wait until every process
//! is gone, and optionally print the final Pods and Events as a `v1` List.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use podvisor_engine::objects::Objects;
use podvisor_engine::{EngineConfig, EngineHandle, WriteMode};
use tokio::signal::unix::{signal, SignalKind};

use crate::input;
use crate::render::{self, Style};

/// Output format of the final objects.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    /// JSON `v1` List.
    Json,
    /// YAML `v1` List.
    Yaml,
}

/// `podvisor run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Manifest file or directory (YAML or JSON, multi-document); `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<String>,
    /// Delete the pods gracefully after this long (e.g. 30s, 2m), like `kubectl delete`.
    #[arg(long, value_parser = render::parse_duration)]
    stop_after: Option<Duration>,
    /// Grace period for deletions (overrides terminationGracePeriodSeconds, as kubectl's flag;
    /// 0 means force delete).
    #[arg(long)]
    grace_period: Option<i64>,
    /// Print the final Pods and Events to stdout as a v1 List.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Output>,
    /// Where pod directories and container logs go (default: a new directory under $TMPDIR,
    /// removed at exit unless --keep).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Keep the default state directory (pod directories and container logs) at exit.
    #[arg(long)]
    keep: bool,
    /// Never colour the timeline.
    #[arg(long)]
    no_color: bool,
}

/// Entry point.
pub fn main(args: RunArgs) -> ExitCode {
    let inputs = match input::load(&args.files) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    for w in &inputs.warnings {
        eprintln!("warning: {w}");
    }
    if !inputs.errors.is_empty() {
        for e in &inputs.errors {
            eprintln!("error: {e}");
        }
        return ExitCode::from(2);
    }
    if inputs.plans.is_empty() {
        eprintln!("error: no Pod in the input");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args, inputs)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: RunArgs, inputs: input::Inputs) -> Result<ExitCode> {
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("podvisor-run-{}", std::process::id())),
    };
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating state directory {}", state_dir.display()))?;
    let (linux, node_name) = super::linux_runtime(&state_dir)?;
    let engine = podvisor_engine::start_in_memory(
        linux,
        EngineConfig {
            state_dir: state_dir.clone(),
            node_name,
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: false,
        },
    );
    store_objects(&engine, &inputs.objects).await?;
    let style = Style {
        color: !args.no_color
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let multi_pod = inputs.plans.len() > 1;
    let mut timeline = engine.subscribe();
    let printer = tokio::spawn(async move {
        loop {
            match timeline.recv().await {
                Ok(entry) => {
                    if let Some(l) = render::line(&entry, style, multi_pod) {
                        eprintln!("{l}");
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("({n} timeline entries dropped)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    for plan in inputs.plans {
        engine.create_pod(plan).await?;
    }

    // Deletion on request: --stop-after, SIGINT/SIGTERM (again: force).
    let stop_requested = Arc::new(std::sync::atomic::AtomicBool::new(false));
    delete_on_request(&engine, &args, stop_requested.clone())?;

    let pods = engine.wait_all().await?;
    // Let the printer catch up with the last entries.
    tokio::time::sleep(Duration::from_millis(20)).await;
    printer.abort();

    let stopped = stop_requested.load(std::sync::atomic::Ordering::SeqCst);
    let mut failed = false;
    for p in &pods {
        let row = podvisor_lifecycle::printer::pod_row(p);
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        eprintln!(
            "pod {name}: {phase} (READY {}, STATUS {}, RESTARTS {})",
            row.ready, row.status, row.restarts
        );
        if phase == "Failed" && !(stopped || p.metadata.deletion_timestamp.is_some()) {
            failed = true;
        }
    }
    // A state directory of our own making goes unless asked to keep it.
    let keep = args.keep || args.state_dir.is_some();
    if keep {
        eprintln!("logs: {}", state_dir.join("logs").display());
    }

    if let Some(format) = args.output {
        let mut items: Vec<serde_json::Value> = Vec::new();
        for p in &pods {
            items.push(serde_json::to_value(p)?);
        }
        for e in engine.store().events() {
            items.push(serde_json::to_value(&e)?);
        }
        let list = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": { "resourceVersion": "" },
            "items": items,
        });
        match format {
            Output::Json => println!("{}", serde_json::to_string_pretty(&list)?),
            Output::Yaml => print!(
                "{}",
                serde_saphyr::to_string(&list).context("serialising YAML")?
            ),
        }
    }
    if !keep {
        // Every process is gone (wait_all): nothing uses the directory any more.
        if let Err(e) = std::fs::remove_dir_all(&state_dir) {
            eprintln!(
                "warning: could not remove {}: {e} (remove it by hand)",
                state_dir.display()
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Stores the input's ConfigMaps and Secrets as objects, as on a cluster.
async fn store_objects(engine: &EngineHandle, objects: &Objects) -> Result<()> {
    let all = objects
        .config_maps
        .iter()
        .map(|c| ("configmaps", "ConfigMap", serde_json::to_value(c)))
        .chain(
            objects
                .secrets
                .iter()
                .map(|s| ("secrets", "Secret", serde_json::to_value(s))),
        );
    for (resource, kind, value) in all {
        let mut value = value.context("serialising an input object")?;
        value["kind"] = serde_json::json!(kind);
        value["apiVersion"] = serde_json::json!("v1");
        if value["metadata"]["namespace"].as_str().is_none() {
            value["metadata"]["namespace"] = serde_json::json!("default");
        }
        engine
            .put_object(resource, WriteMode::Create, value)
            .await
            .with_context(|| format!("storing the input's {kind}"))?;
    }
    Ok(())
}

/// Deletes every pod after `--stop-after` or on SIGINT/SIGTERM; a second signal forces.
fn delete_on_request(
    engine: &EngineHandle,
    args: &RunArgs,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<()> {
    let engine = engine.clone();
    let grace = args.grace_period;
    let stop_after = args.stop_after;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        let after = async {
            match stop_after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
            () = after => {}
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = engine.delete_all(grace).await;
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
        // A force delete would not shorten the kills in flight (the kubelet finishes them):
        // the second interrupt kills every container now instead, as a power loss would.
        eprintln!(
            "second interrupt: SIGKILL to every container now (on a cluster, a force delete \
             removes the pods from the API but the kubelet still finishes the kills in flight)"
        );
        let _ = engine.delete_all(Some(0)).await;
        let _ = engine.kill_all().await;
    });
    Ok(())
}
