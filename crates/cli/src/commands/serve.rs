//! `podvisor serve`: the engine plus the kubectl-compatible API on loopback, with a kubeconfig
//! written to the state directory. `podvisor kubeconfig` prints it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use podvisor_api::{router, server, ApiState};
use podvisor_engine::EngineConfig;
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
    let engine = podvisor_engine::start(
        linux,
        EngineConfig {
            state_dir: dir.clone(),
            node_name: node_name.clone(),
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: true,
        },
        store,
    );
    for problem in podvisor_engine::recover::recover(&engine, previous).await {
        eprintln!("warning: {problem}");
    }
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
                let t = podvisor_engine::ids::random_token()
                    .context("reading the OS random source for the API token")?;
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
    let _ = engine.delete_all(None).await;
    let force = || async {
        let _ = engine.delete_all(Some(0)).await;
        let _ = engine.wait_all().await;
    };
    tokio::select! {
        _ = engine.wait_all() => {}
        _ = sigint.recv() => force().await,
        _ = sigterm.recv() => force().await,
    }
    Ok(())
}
