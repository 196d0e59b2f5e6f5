//! `kubectl exec` over WebSocket with the `v5.channel.k8s.io` subprotocol: channel-prefixed
//! binary messages (0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 terminal resize,
//! 255 close), as the kubelet's streaming server speaks it (`remotecommand` `ServeExec`,
//! kubectl-api.md §10). With `tty=true` the command runs on a pseudo-terminal: its stderr is
//! the terminal too, so there is no channel 2, and resizes set the terminal's window size.
//!
//! # Caveats
//! * With a tty, the command starts once the client's first resize arrives (kubectl sends it
//!   right after connecting), or after [`FIRST_SIZE_WAIT`] without one.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use podvisor_engine::runtime::{Terminal, TerminalSize, TtyExec};

use crate::http::ApiResult;
use crate::{ApiError, Shared};

/// How long a tty exec waits for the client's first terminal size before starting anyway.
pub const FIRST_SIZE_WAIT: Duration = Duration::from_secs(1);

/// After a tty command exited, how long output still held by its background children is
/// relayed before the session ends (containerd closes the console when the process exits).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// The exec request's query: `command` repeats, flags are `true` when present.
pub(crate) fn parse_query(raw: &str) -> (Vec<String>, HashMap<String, String>) {
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

/// A boolean stream flag of the query (`true` or `1`, as kubectl and the kubelet send them).
pub(crate) fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v == "true" || v == "1")
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
    let pod = crate::http::stored_pod(&st, &ns, &name)?;
    let key = crate::http::key(&ns, &name);
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
    let stdin = flag(&q, "stdin");
    let upgrade_error = |e| ApiError::bad_request(format!("unable to upgrade connection: {e}"));
    if flag(&q, "tty") {
        let exec = st
            .engine
            .exec_tty(&key, &container, &command)
            .await
            .map_err(upgrade_error)?;
        return Ok(ws
            .protocols(["v5.channel.k8s.io"])
            .on_upgrade(move |socket| tty_session(socket, exec, stdin))
            .into_response());
    }
    let cmd = st
        .engine
        .exec_command(&key, &container, &command)
        .await
        .map_err(upgrade_error)?;
    Ok(ws
        .protocols(["v5.channel.k8s.io"])
        .on_upgrade(move |socket| session(socket, cmd, stdin))
        .into_response())
}

/// The Status a session ends with, from the command's exit (kubectl exits with the code).
fn exit_status(r: std::io::Result<std::process::ExitStatus>) -> serde_json::Value {
    match r {
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
    }
}

/// Every terminal size in a resize message: JSON `{"Width":W,"Height":H}` objects, one or more
/// (client-go encodes `remotecommand.TerminalSize` with a JSON encoder, newline-terminated).
pub(crate) fn terminal_sizes(payload: &[u8]) -> Vec<TerminalSize> {
    #[derive(serde::Deserialize)]
    struct Size {
        #[serde(rename = "Width")]
        width: u16,
        #[serde(rename = "Height")]
        height: u16,
    }
    serde_json::Deserializer::from_slice(payload)
        .into_iter::<Size>()
        .map_while(Result::ok)
        .map(|s| TerminalSize {
            width: s.width,
            height: s.height,
        })
        .collect()
}

/// What a client message asks of a tty session.
enum TtyInput {
    Stdin(Vec<u8>),
    Resize(Vec<TerminalSize>),
    Closed,
    Nothing,
}

fn tty_input(msg: Message) -> TtyInput {
    match msg {
        Message::Binary(b) if !b.is_empty() => match b[0] {
            0 => TtyInput::Stdin(b[1..].to_vec()),
            4 => TtyInput::Resize(terminal_sizes(&b[1..])),
            _ => TtyInput::Nothing,
        },
        Message::Close(_) => TtyInput::Closed,
        _ => TtyInput::Nothing,
    }
}

/// Applies one client message to the terminal; `false` once the client has gone.
async fn apply_tty_input(terminal: &Terminal, input: TtyInput, stdin: &mut bool) -> bool {
    match input {
        TtyInput::Stdin(bytes) => {
            if *stdin && terminal.write_all(&bytes).await.is_err() {
                *stdin = false;
            }
        }
        TtyInput::Resize(sizes) => {
            for size in sizes {
                let _ = terminal.resize(size);
            }
        }
        TtyInput::Closed => return false,
        TtyInput::Nothing => {}
    }
    true
}

/// A tty exec: client stdin and resizes to the terminal, terminal output to channel 1, the
/// Status on channel 3 when the command exits; the command is killed if the client goes away.
async fn tty_session(socket: WebSocket, mut exec: TtyExec, want_stdin: bool) {
    let (mut sink, mut source) = socket.split();
    // kubectl sends its terminal's size right after connecting: the command starts with it.
    let mut early = Vec::new();
    let first_size = async {
        while let Some(Ok(msg)) = source.next().await {
            match tty_input(msg) {
                TtyInput::Resize(sizes) if !sizes.is_empty() => {
                    for size in sizes {
                        let _ = exec.terminal.resize(size);
                    }
                    return true;
                }
                TtyInput::Closed => return false,
                other => early.push(other),
            }
        }
        false
    };
    if let Ok(false) = tokio::time::timeout(FIRST_SIZE_WAIT, first_size).await {
        return; // the client went away first: the command never runs
    }
    if let Err(e) = exec.start() {
        let status = exit_status(Err(e));
        finish(&mut sink, &status).await;
        return;
    }
    let TtyExec {
        mut child,
        terminal,
        ..
    } = exec;
    let terminal = Arc::new(terminal);
    let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
    let input_terminal = terminal.clone();
    let input = tokio::spawn(async move {
        let mut stdin = want_stdin;
        let mut open = true;
        for i in early {
            open = open && apply_tty_input(&input_terminal, i, &mut stdin).await;
        }
        while open {
            match source.next().await {
                Some(Ok(msg)) => {
                    open = apply_tty_input(&input_terminal, tty_input(msg), &mut stdin).await;
                }
                _ => open = false,
            }
        }
        let _ = gone_tx.send(());
    });
    let mut buf = vec![0u8; 32 * 1024];
    let mut exited = None;
    loop {
        let read = if exited.is_some() {
            // Exited: relay what is left, but background children holding the terminal open
            // do not keep the session alive.
            match tokio::time::timeout(DRAIN_AFTER_EXIT, terminal.read(&mut buf)).await {
                Ok(r) => r,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                r = terminal.read(&mut buf) => r,
                s = child.wait() => {
                    exited = Some(s);
                    continue;
                }
                _ = &mut gone => return, // the client went away: dropping the child kills it
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut m = Vec::with_capacity(n + 1);
                m.push(1u8);
                m.extend_from_slice(&buf[..n]);
                if sink.send(Message::Binary(m.into())).await.is_err() {
                    input.abort();
                    return;
                }
            }
        }
    }
    let status = match exited {
        Some(s) => s,
        None => child.wait().await,
    };
    finish(&mut sink, &exit_status(status)).await;
    input.abort();
}

/// Ends a session as kubectl expects: the Status on channel 3, then a normal close.
pub(crate) async fn finish(
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
    let status = exit_status(child.wait().await);
    finish(&mut sink, &status).await;
    input.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_message_is_the_json_kubectl_encodes_one_size_or_more() {
        let one = TerminalSize {
            width: 100,
            height: 30,
        };
        assert_eq!(
            terminal_sizes(b"{\"Width\":100,\"Height\":30}\n"),
            vec![one]
        );
        let two = TerminalSize {
            width: 81,
            height: 25,
        };
        assert_eq!(
            terminal_sizes(b"{\"Width\":81,\"Height\":25}\n{\"Width\":100,\"Height\":30}\n"),
            vec![two, one]
        );
        assert_eq!(terminal_sizes(b"not json"), vec![]);
    }
}
