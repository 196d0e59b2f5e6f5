//! Watches: a list-then-watch stream of one kind's changes from the store's change feed, resumed
//! from a resourceVersion, with `timeoutSeconds`, 410 Gone for an expired resourceVersion and an
//! `ERROR` event when the watcher falls behind (the apiserver's `watch.go` serveWatch over the
//! watch cache, `cacher.go`). Every resource serves its watch through [`watch`].

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::stream;
use podvisor_engine::store::{Store, StoreChange, TooOld};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::http::{stream_response, ApiResult};
use crate::ApiError;

/// When a watch with `timeoutSeconds` ends.
pub fn watch_deadline(q: &HashMap<String, String>) -> Option<tokio::time::Instant> {
    q.get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s))
}

/// The `resourceVersion` a watch starts after (0: send the current state first).
pub fn requested_resource_version(q: &HashMap<String, String>) -> u64 {
    q.get("resourceVersion")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn watch_line(kind: &str, object: Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

/// What a watch needs to know about its kind.
pub struct WatchKind<T, S, R> {
    /// The current objects, for a watch from resourceVersion 0 (each sent as `ADDED`).
    pub initial: Vec<T>,
    /// The resourceVersion `initial` was read at.
    pub initial_rv: u64,
    /// The change as `(type, object)` when it is of this kind and passes the selectors.
    pub select: S,
    /// One watch event's `object` (`first`: the first event of the stream, which carries a
    /// Table's column definitions).
    pub render: R,
    /// Whether the watch resumes from the store's history (false for events, which have
    /// none: a watch from a later resourceVersion gets new events only).
    pub resumable: bool,
}

/// Serves a watch of one kind.
pub fn watch<T, S, R>(
    store: &Store,
    q: &HashMap<String, String>,
    kind: WatchKind<T, S, R>,
) -> ApiResult
where
    T: Send + 'static,
    S: Fn(&StoreChange) -> Option<(&'static str, T)> + Send + Sync + 'static,
    R: Fn(&T, bool) -> Value + Send + Sync + 'static,
{
    let requested = requested_resource_version(q);
    let mut queue: VecDeque<(&'static str, T)> = VecDeque::new();
    if requested == 0 {
        queue.extend(kind.initial.into_iter().map(|o| ("ADDED", o)));
    }
    let rx = if kind.resumable {
        // From the list's resourceVersion (or the one asked for): the history and the feed are
        // taken atomically, so nothing is lost or repeated.
        let since = if requested == 0 {
            kind.initial_rv
        } else {
            requested
        };
        let (backlog, rx) = store
            .watch_since(since)
            .map_err(|TooOld { requested, oldest }| {
                ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
            })?;
        queue.extend(backlog.iter().filter_map(&kind.select));
        rx
    } else {
        store.subscribe()
    };
    let deadline = watch_deadline(q);
    let fns = std::sync::Arc::new((kind.select, kind.render));
    let s = stream::unfold(
        (queue, rx, true, deadline, fns),
        move |(mut queue, mut rx, first, deadline, fns)| async move {
            loop {
                if let Some((kind, obj)) = queue.pop_front() {
                    let b = watch_line(kind, (fns.1)(&obj, first));
                    return Some((
                        Ok::<_, std::io::Error>(b),
                        (queue, rx, false, deadline, fns),
                    ));
                }
                let next = match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                    None => Some(rx.recv().await),
                };
                match next {
                    None | Some(Err(RecvError::Closed)) => return None,
                    Some(Ok(change)) => queue.extend((fns.0)(&change)),
                    Some(Err(RecvError::Lagged(_))) => {
                        let status = ApiError::gone("watch fell behind; re-list").to_status();
                        let b = watch_line("ERROR", status);
                        let now = Some(tokio::time::Instant::now());
                        return Some((Ok(b), (VecDeque::new(), rx, first, now, fns)));
                    }
                }
            }
        },
    );
    Ok(stream_response("application/json", s))
}
