//! `kubectl port-forward`: a SPDY/3.1 session tunnelled in a WebSocket
//! (`SPDY/3.1+portforward.k8s.io`). Each forwarded connection is a pair of streams with the same
//! `requestid` (an error stream and a data stream); the data stream is spliced to a TCP
//! connection opened inside the pod's network namespace (kubectl-api.md §11).
//!
//! # Caveats
//! * Only the WebSocket transport is served; the raw-SPDY fallback is answered with a Status.
//! * No flow control (spdystream does none either).

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use podvisor_lifecycle::plan::PodKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::http::ApiResult;
use crate::spdy::{
    control, data, take_frame, Frame, HeaderCodec, FLAG_FIN, GOAWAY, PING, RST_STREAM, SYN_REPLY,
    SYN_STREAM,
};
use crate::{ApiError, Shared};

/// `GET /api/v1/namespaces/{ns}/pods/{name}/portforward`.
pub async fn portforward(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult {
    let pod = crate::http::stored_pod(&st, &ns, &name)?;
    let key = crate::http::key(&ns, &name);
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to forward port because pod is not running. Current status={phase}"
        )));
    }
    let Ok(ws) = ws else {
        return Err(ApiError::bad_request(
            "podvisor serves port-forward over WebSocket (SPDY/3.1+portforward.k8s.io) only",
        ));
    };
    Ok(ws
        .protocols(["SPDY/3.1+portforward.k8s.io"])
        .on_upgrade(move |socket| session(socket, st, key))
        .into_response())
}

#[derive(Default)]
struct Request {
    error: Option<u32>,
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_be_bytes([s[0] & 0x7f, s[1], s[2], s[3]]))
}

async fn session(socket: WebSocket, st: Shared, key: PodKey) {
    let (mut sink, mut source) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(f) = out_rx.recv().await {
            if sink.send(Message::Binary(f.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut inbound = HeaderCodec::default();
    let mut outbound = HeaderCodec::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut requests: HashMap<String, Request> = HashMap::new();
    let mut streams: HashMap<u32, mpsc::UnboundedSender<Option<Vec<u8>>>> = HashMap::new();
    'session: while let Some(Ok(msg)) = source.next().await {
        match msg {
            Message::Binary(b) => buf.extend_from_slice(&b),
            Message::Close(_) => break,
            _ => continue,
        }
        while let Some(frame) = take_frame(&mut buf) {
            match frame {
                Frame::Control {
                    kind: SYN_STREAM,
                    body,
                    ..
                } => {
                    let Some(id) = u32_at(&body, 0) else {
                        break 'session;
                    };
                    let Ok(headers) = inbound.decode(body.get(10..).unwrap_or(&[])) else {
                        break 'session;
                    };
                    let Ok(block) = outbound.encode(&[]) else {
                        break 'session;
                    };
                    let mut reply = id.to_be_bytes().to_vec();
                    reply.extend_from_slice(&block);
                    let _ = out.send(control(SYN_REPLY, 0, &reply));
                    let get = |k: &str| {
                        headers
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let request = requests.entry(get("requestid")).or_default();
                    match get("streamtype").as_str() {
                        "error" => request.error = Some(id),
                        "data" => {
                            let port: u16 = get("port").parse().unwrap_or(0);
                            let error = request.error;
                            let (tx, rx) = mpsc::unbounded_channel();
                            streams.insert(id, tx);
                            tokio::spawn(forward(
                                st.clone(),
                                key.clone(),
                                port,
                                id,
                                error,
                                rx,
                                out.clone(),
                            ));
                        }
                        _ => {}
                    }
                }
                Frame::Control {
                    kind: PING, body, ..
                } => {
                    let _ = out.send(control(PING, 0, &body));
                }
                Frame::Control {
                    kind: RST_STREAM,
                    body,
                    ..
                } => {
                    if let Some(id) = u32_at(&body, 0) {
                        streams.remove(&id);
                    }
                }
                Frame::Control { kind: GOAWAY, .. } => break 'session,
                Frame::Control { .. } => {}
                Frame::Data {
                    stream,
                    flags,
                    payload,
                } => {
                    if let Some(tx) = streams.get(&stream) {
                        if !payload.is_empty() {
                            let _ = tx.send(Some(payload));
                        }
                        if flags & FLAG_FIN != 0 {
                            let _ = tx.send(None);
                        }
                    }
                }
            }
        }
    }
    drop(streams);
    drop(out);
    let _ = writer.await;
}

/// Splices one data stream to a connection into the pod.
async fn forward(
    st: Shared,
    key: PodKey,
    port: u16,
    data_id: u32,
    error_id: Option<u32>,
    mut from_client: mpsc::UnboundedReceiver<Option<Vec<u8>>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
) {
    let finish = |out: &mpsc::UnboundedSender<Vec<u8>>| {
        let _ = out.send(data(data_id, FLAG_FIN, &[]));
        if let Some(e) = error_id {
            let _ = out.send(data(e, FLAG_FIN, &[]));
        }
    };
    let conn = match st.engine.connect_to_pod(&key, port).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(eid) = error_id {
                let _ = out.send(data(eid, 0, e.to_string().as_bytes()));
            }
            finish(&out);
            return;
        }
    };
    let (mut rd, mut wr) = conn.into_split();
    let to_pod = tokio::spawn(async move {
        while let Some(chunk) = from_client.recv().await {
            match chunk {
                Some(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = wr.shutdown().await;
                    break;
                }
            }
        }
    });
    let mut b = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut b).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.send(data(data_id, 0, &b[..n])).is_err() {
                    break;
                }
            }
        }
    }
    finish(&out);
    to_pod.abort();
}
