//! `kubectl attach` over WebSocket (`v5.channel.k8s.io`, the framing of [`crate::exec`]): the
//! container's main process output, live. Mirrors the kubelet's `getAttach` → CRI `Attach` as
//! containerd serves it (`ContainerIO.Attach`): output from the moment of attaching until the
//! instance exits (no history is replayed); stdin goes to the main process when the container
//! was started with `stdin: true`, and the session ends when the client's stdin does; for other
//! containers stdin is accepted and discarded (containerd has no stdin pipe to copy it to). The
//! container spec's `tty` decides the terminal, not the request. A Success Status ends it.
//!
//! # Caveats
//! * The output is the instance's log file (`<restart>.log`), which holds stdout and stderr
//!   together: everything goes to the stdout channel (the stderr one when only stderr is asked).
//! * `stdinOnce` is not honoured: the main process's stdin stays open when an attach ends.
//! * `tty: true` containers get no terminal; their main process reads a pipe.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
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
use crate::logs::container_restart;
use crate::{ApiError, Shared};

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
    let pod = crate::pods::stored_pod(&st, &ns, &name)?;
    let key = crate::pods::key(&ns, &name);
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
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let path: PathBuf = st
        .engine
        .log_dir(&ns, &name, &uid)
        .join(&container)
        .join(format!("{instance}.log"));
    let Ok(meta) = std::fs::metadata(&path) else {
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
    let output = if stdout {
        Some(1u8)
    } else if stderr {
        Some(2u8)
    } else {
        None
    };
    let follow = Follow {
        store: st.engine.store().clone(),
        key,
        container,
        instance,
        path,
        offset: meta.len(),
        output,
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
    path: PathBuf,
    offset: u64,
    output: Option<u8>,
}

impl Follow {
    fn running(&self) -> bool {
        self.store
            .pod(&self.key)
            .and_then(|p| container_restart(&p, &self.container))
            .is_some_and(|(r, run)| r == self.instance && run)
    }

    fn read_new(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.path) {
            if f.seek(SeekFrom::Start(self.offset)).is_ok() {
                let _ = f.read_to_end(&mut buf);
            }
        }
        self.offset += buf.len() as u64;
        buf
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
        let data = follow.read_new();
        if let Some(channel) = follow.output {
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
