//! `kubectl exec` over WebSocket with the `v5.channel.k8s.io` subprotocol: channel-prefixed
//! binary messages (0 stdin, 1 stdout, 2 stderr, 3 the final Status, 255 close), as the
//! kubelet's streaming server speaks it (kubectl-api.md §10).
//!
//! # Caveats
//! * `-t` (tty) is accepted but no pseudo-terminal is allocated: output is not a terminal.

use std::collections::HashMap;
use std::process::Stdio;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::http::ApiResult;
use crate::{ApiError, Shared};

/// The exec request's query: `command` repeats, flags are `true` when present.
fn parse_query(raw: &str) -> (Vec<String>, HashMap<String, String>) {
    let mut command = Vec::new();
    let mut rest = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        if k == "command" {
            command.push(v);
        } else {
            rest.insert(k.to_string(), v);
        }
    }
    (command, rest)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/exec` (WebSocket) and the SPDY `POST` fallback,
/// which is answered with a Status.
pub async fn exec(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult {
    let (command, q) = parse_query(raw.as_deref().unwrap_or(""));
    let pod = crate::pods::stored_pod(&st, &ns, &name)?;
    let key = crate::pods::key(&ns, &name);
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let container = q.get("container").cloned().unwrap_or_else(|| {
        spec.containers
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default()
    });
    let known = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(|c| c.name == container);
    if !known {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let Ok(ws) = ws else {
        return Err(ApiError::bad_request(
            "podvisor serves exec over WebSocket (v5.channel.k8s.io) only",
        ));
    };
    let cmd = st
        .engine
        .exec_command(&key, &container, &command)
        .await
        .map_err(|e| ApiError::bad_request(format!("unable to upgrade connection: {e}")))?;
    let stdin = q.get("stdin").is_some_and(|v| v == "true" || v == "1");
    Ok(ws
        .protocols(["v5.channel.k8s.io"])
        .on_upgrade(move |socket| session(socket, cmd, stdin))
        .into_response())
}

/// Ends a session as kubectl expects: the Status on channel 3, then a normal close.
async fn finish(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    status: &serde_json::Value,
) {
    let mut m = vec![3u8];
    m.extend_from_slice(status.to_string().as_bytes());
    let _ = sink.send(Message::Binary(m.into())).await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
}

async fn session(socket: WebSocket, mut cmd: tokio::process::Command, want_stdin: bool) {
    let (mut sink, mut source) = socket.split();
    cmd.stdin(if want_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let status = json!({"metadata": {}, "status": "Failure", "message": format!("exec failed: {e}"), "reason": "InternalError"});
            finish(&mut sink, &status).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let mut readers = Vec::new();
    for (channel, pipe) in [
        (
            1u8,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            2u8,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ] {
        let Some(mut pipe) = pipe else { continue };
        let tx = tx.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut m = Vec::with_capacity(n + 1);
                        m.push(channel);
                        m.extend_from_slice(&buf[..n]);
                        if tx.send(m).is_err() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    let mut stdin = child.stdin.take();
    // Client → process: stdin bytes, stdin close; pings are answered by the socket itself.
    let input = tokio::spawn(async move {
        while let Some(Ok(msg)) = source.next().await {
            match msg {
                Message::Binary(b) if !b.is_empty() => match b[0] {
                    0 => {
                        if let Some(s) = stdin.as_mut() {
                            if s.write_all(&b[1..]).await.is_err() {
                                stdin = None;
                            }
                        }
                    }
                    255 if b.get(1) == Some(&0) => stdin = None,
                    _ => {}
                },
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    while let Some(m) = rx.recv().await {
        if sink.send(Message::Binary(m.into())).await.is_err() {
            break;
        }
    }
    for r in readers {
        let _ = r.await;
    }
    let status = match child.wait().await {
        Ok(s) if s.success() => json!({"metadata": {}, "status": "Success"}),
        Ok(s) => {
            let code = s.code().unwrap_or(137);
            json!({"metadata": {}, "status": "Failure",
                   "message": format!("command terminated with non-zero exit code: exit status {code}"),
                   "reason": "NonZeroExitCode",
                   "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
        }
        Err(e) => {
            json!({"metadata": {}, "status": "Failure", "message": format!("exec failed: {e}"), "reason": "InternalError"})
        }
    };
    finish(&mut sink, &status).await;
    input.abort();
}
