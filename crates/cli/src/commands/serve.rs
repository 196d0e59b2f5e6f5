//! `podvisor serve`: the engine plus the kubectl-compatible API on loopback, with a kubeconfig
//! written to the state directory. `podvisor kubeconfig` prints it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use podvisor_api::{router, server, ApiState};
use podvisor_engine::runtime::process::LinuxRuntime;
use podvisor_engine::{Engine, EngineConfig};
use tokio::signal::unix::{signal, SignalKind};

/// `podvisor serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where state, logs, the certificate and the kubeconfig live.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: String,
    /// Plain http without authentication (loopback addresses only).
    #[arg(long)]
    insecure_http: bool,
    /// Run every Pod manifest in this directory as a static pod (like the kubelet's
    /// staticPodPath), reconciling as files change.
    #[arg(long)]
    manifests: Option<PathBuf>,
}

/// `podvisor kubeconfig` flags.
#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    /// The state directory of `podvisor serve`.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("podvisor");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/podvisor"),
        None => PathBuf::from("/var/lib/podvisor"),
    }
}

/// `podvisor kubeconfig`.
pub fn kubeconfig(args: KubeconfigArgs) -> ExitCode {
    let dir = args.state_dir.unwrap_or_else(default_state_dir);
    match std::fs::read_to_string(dir.join("kubeconfig")) {
        Ok(k) => {
            print!("{k}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: no kubeconfig in {} ({e}); is `podvisor serve` running there?",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}

/// Entry point.
pub fn main(args: ServeArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..4)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            format!("{:016x}", h.finish())
        })
        .collect()
}

async fn serve(args: ServeArgs) -> Result<()> {
    let dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating state directory {}", dir.display()))?;
    let addr: std::net::SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not an address:port", args.listen))?;
    if args.insecure_http && !addr.ip().is_loopback() {
        anyhow::bail!("--insecure-http is only allowed on a loopback address, not {addr}");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;

    let (linux, node_name) = super::linux_runtime(&dir)?;
    let (store, previous) =
        podvisor_engine::store::Store::open(&node_name, &dir.join("store.redb"))
            .context("opening the durable store")?;
    let engine = Arc::new(Engine::with_store(
        linux,
        EngineConfig {
            state_dir: dir.clone(),
            node_name: node_name.clone(),
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: true,
        },
        store.clone(),
    ));
    engine.set_objects(store.config_objects());
    recover(&engine, store, previous);
    if let Some(manifests) = args.manifests.clone() {
        tokio::spawn(podvisor_engine::static_pods::run(
            engine.clone(),
            manifests,
            node_name,
        ));
    }

    let (scheme, token, ca) = if args.insecure_http {
        ("http", None, None)
    } else {
        let token_path = dir.join("token");
        let token = match std::fs::read_to_string(&token_path) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = random_token();
                server::write_private(&token_path, &t)?;
                t
            }
        };
        let (cert, key) =
            server::load_or_make_cert(&dir).context("making the serving certificate")?;
        ("https", Some(token), Some((cert, key)))
    };
    let url = format!("{scheme}://{local}");
    let kubeconfig =
        server::kubeconfig(&url, ca.as_ref().map(|(c, _)| c.as_str()), token.as_deref());
    let kubeconfig_path = dir.join("kubeconfig");
    server::write_private(&kubeconfig_path, &kubeconfig)?;
    let state = Arc::new(ApiState {
        engine: engine.clone(),
        token,
        address: local.to_string(),
    });
    let app = router(state);
    eprintln!("podvisor serving the Kubernetes API on {url}");
    eprintln!("export KUBECONFIG={}", kubeconfig_path.display());

    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let server = async move {
        match ca {
            Some((cert, key)) => server::serve_tls(listener, app, &cert, &key).await,
            None => server::serve_plain(listener, app).await,
        }
    };
    tokio::select! {
        r = server => r.context("API server")?,
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
    eprintln!("shutting down: deleting every pod (again: force)");
    engine.delete_all(None);
    tokio::select! {
        _ = engine.wait_all() => {}
        _ = sigint.recv() => { engine.delete_all(Some(0)); engine.wait_all().await; }
        _ = sigterm.recv() => { engine.delete_all(Some(0)); engine.wait_all().await; }
    }
    Ok(())
}

/// Takes back the pods of a previous run: the ones being deleted are gone with their
/// processes; terminal ones stay as records; the others are recovered (their containers are
/// reported lost and restarted per policy, as the kubelet does after a node restart).
fn recover(
    engine: &Engine<LinuxRuntime>,
    store: podvisor_engine::store::Store,
    previous: Vec<k8s_openapi::api::core::v1::Pod>,
) {
    for pod in previous {
        let key = podvisor_lifecycle::plan::PodKey {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone().unwrap_or_default(),
        };
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            store.delete_pod(&key);
            continue;
        }
        if phase == "Succeeded" || phase == "Failed" {
            continue;
        }
        let status = pod.status.clone().unwrap_or_default();
        let mut spec_only = pod.clone();
        spec_only.status = None;
        spec_only.metadata.resource_version = None;
        match podvisor_lifecycle::intake::build_plan(spec_only) {
            Ok(plan) => {
                if let Err(e) = engine.recover(plan, &status) {
                    eprintln!("warning: cannot recover pod {key}: {e}");
                }
            }
            Err(e) => eprintln!("warning: cannot recover pod {key}: {e}"),
        }
    }
}
