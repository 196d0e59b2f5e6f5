//! `kubectl attach` over WebSocket (`v5.channel.k8s.io`, the framing of [`crate::exec`]): the
//! container's main process output, live. Mirrors the kubelet's `getAttach` → CRI `Attach` as
//! containerd serves it (`ContainerIO.Attach`): output from the moment of attaching until the
//! instance exits (no history is replayed); stdin goes to the main process when the container
//! was started with `stdin: true`, and the session ends when the client's stdin does; for other
//! containers stdin is accepted and discarded (containerd has no stdin pipe to copy it to). The
//! container spec's `tty` decides the terminal, not the request. A Success Status ends it.
//!
//! # Caveats
//! * The output is read from the instance's CRI log file (`<restart>.log`, followed across
//!   rotations): stdout records go to the stdout channel, stderr records to the stderr one (with
//!   a `tty` request, which has no stderr channel, to the stdout one, as a terminal merges
//!   them), each as soon as its line is complete (containerd copies the raw stream, so a
//!   prompt without a newline shows at once there).
//! * `stdinOnce` is not honoured: the main process's stdin stays open when an attach ends.
//! * `tty: true` containers get no terminal; their main process reads a pipe.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use podvisor_engine::store::Store;
use podvisor_engine::EngineError;
use podvisor_lifecycle::plan::PodKey;

use crate::exec::{finish, flag, parse_query};
use crate::http::ApiResult;
use crate::logs::{container_restart, LogFile};
use crate::{ApiError, Shared};
use podvisor_engine::logs::{ReadOptions, Stream};

/// How often the log file is read for new output (as `logs -f` does).
const POLL: Duration = Duration::from_millis(100);

/// `GET`/`POST /api/v1/namespaces/{ns}/pods/{name}/attach` (WebSocket; a plain request is
/// answered with a Status).
pub async fn attach(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult {
    let (_, q) = parse_query(raw.as_deref().unwrap_or(""));
    let pod = crate::http::stored_pod(&st, &ns, &name)?;
    let key = crate::http::key(&ns, &name);
    let spec = pod.spec.clone().unwrap_or_default();
    // The apiserver's streamLocation: an explicit container must exist; none means the only one.
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) => {
            let known = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .any(|k| k.name == *c);
            if !known {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.clone()
        }
        None if spec.containers.len() == 1 => spec.containers[0].name.clone(),
        None => {
            let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    // remotecommand's NewOptions: a tty takes stderr; one stream at least.
    let (stdin, stdout) = (flag(&q, "stdin"), flag(&q, "stdout"));
    let stderr = flag(&q, "stderr") && !flag(&q, "tty");
    if !stdin && !stdout && !stderr {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let not_running = || {
        ApiError::bad_request(format!(
            "unable to upgrade connection: {}",
            EngineError::NotRunning {
                pod: key.clone(),
                container: container.clone(),
            }
        ))
    };
    let Some((instance, true)) = container_restart(&pod, &container) else {
        return Err(not_running());
    };
    let path = crate::logs::instance_log(&st, &pod, &container, instance);
    let follow_opts = ReadOptions {
        follow: true,
        ..ReadOptions::default()
    };
    let Ok(log) = LogFile::open_at_end(path, follow_opts) else {
        return Err(not_running());
    };
    let Ok(ws) = ws else {
        return Err(ApiError::bad_request(
            "podvisor serves attach over WebSocket (v5.channel.k8s.io) only",
        ));
    };
    // The kubelet attaches stdin only where the container has one (`stdin: true`).
    let has_stdin = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(|c| c.name == container && c.stdin == Some(true));
    let stdin_writer = if stdin && has_stdin {
        Some(
            st.engine
                .attach_stdin(&key, &container)
                .await
                .map_err(|e| ApiError::bad_request(format!("unable to upgrade connection: {e}")))?,
        )
    } else {
        None
    };
    let follow = Follow {
        store: st.engine.store().clone(),
        key,
        container,
        instance,
        log,
        stdout: stdout.then_some(1u8),
        stderr: if stderr {
            Some(2u8)
        } else if flag(&q, "tty") && stdout {
            Some(1u8)
        } else {
            None
        },
    };
    Ok(ws
        .protocols(["v5.channel.k8s.io"])
        .on_upgrade(move |socket| session(socket, follow, stdin_writer))
        .into_response())
}

/// The instance being followed and where its output has been read to.
struct Follow {
    store: Store,
    key: PodKey,
    container: String,
    instance: i32,
    log: LogFile,
    /// The channel stdout records go to.
    stdout: Option<u8>,
    /// The channel stderr records go to.
    stderr: Option<u8>,
}

impl Follow {
    fn running(&self) -> bool {
        self.store
            .pod(&self.key)
            .and_then(|p| container_restart(&p, &self.container))
            .is_some_and(|(r, run)| r == self.instance && run)
    }

    /// Output written since the last call, with the channel each piece goes to.
    fn read_new(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            match self.log.read() {
                Ok(Some(pieces)) => {
                    for p in pieces {
                        let channel = match p.stream {
                            Stream::Stdout => self.stdout,
                            Stream::Stderr => self.stderr,
                        };
                        if let Some(c) = channel {
                            out.push((c, p.data));
                        }
                    }
                }
                Ok(None) if self.log.reopen_if_rotated() => continue,
                Ok(None) | Err(_) => return out,
            }
        }
    }
}

/// How the client side of a session ended.
enum ClientEnd {
    /// The connection closed: nothing more to say.
    Gone,
    /// Its stdin ended (attached to a container's stdin): the attach ends with a Status.
    StdinClosed,
}

async fn session(
    socket: WebSocket,
    mut follow: Follow,
    mut stdin: Option<tokio::net::unix::pipe::Sender>,
) {
    let (mut sink, mut source) = socket.split();
    let (end_tx, mut end) = tokio::sync::oneshot::channel::<ClientEnd>();
    // Client → container: stdin bytes when it has a stdin, discarded otherwise; reading the
    // socket also answers its pings.
    let input = tokio::spawn(async move {
        let mut how = ClientEnd::Gone;
        while let Some(Ok(msg)) = source.next().await {
            match msg {
                Message::Binary(b) if b.first() == Some(&0) => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(&b[1..]).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Message::Binary(b) if b.as_ref() == [255, 0] && stdin.is_some() => {
                    how = ClientEnd::StdinClosed;
                    break;
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = end_tx.send(how);
    });
    let mut tick = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            how = &mut end => match how {
                Ok(ClientEnd::StdinClosed) => break,
                _ => return,
            },
        }
        // Whether it still runs first: what it wrote before exiting is then read below.
        let running = follow.running();
        for (channel, data) in follow.read_new() {
            for chunk in data.chunks(32 * 1024) {
                let mut m = Vec::with_capacity(chunk.len() + 1);
                m.push(channel);
                m.extend_from_slice(chunk);
                if sink.send(Message::Binary(m.into())).await.is_err() {
                    input.abort();
                    return;
                }
            }
        }
        if !running {
            break;
        }
    }
    finish(&mut sink, &json!({"metadata": {}, "status": "Success"})).await;
    input.abort();
}
