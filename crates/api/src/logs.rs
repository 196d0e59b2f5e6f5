//! `GET .../pods/{name}/log`: a container's log, current or previous instance, with
//! `tailLines`, `limitBytes` and `follow` (the kubelet's `containerLogs` endpoint as the
//! apiserver proxies it, `pkg/kubelet/server/server.go getContainerLogs`).

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures_util::stream;
use k8s_openapi::api::core::v1::Pod;

use crate::http::{stream_response, ApiResult, Params};
use crate::{ApiError, Shared};

/// The restart count of a container and whether that instance is running.
pub(crate) fn container_restart(pod: &Pod, container: &str) -> Option<(i32, bool)> {
    let st = pod.status.as_ref()?;
    st.container_statuses
        .iter()
        .flatten()
        .chain(st.init_container_statuses.iter().flatten())
        .find(|s| s.name == container)
        .map(|s| {
            (
                s.restart_count,
                s.state.as_ref().is_some_and(|x| x.running.is_some()),
            )
        })
}

fn tail_lines(data: &[u8], n: usize) -> &[u8] {
    let mut count = 0;
    let end = if data.ends_with(b"\n") {
        data.len() - 1
    } else {
        data.len()
    };
    for i in (0..end).rev() {
        if data[i] == b'\n' {
            count += 1;
            if count == n {
                return &data[i + 1..];
            }
        }
    }
    data
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub async fn log(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let pod = crate::pods::stored_pod(&st, &ns, &name)?;
    let key = crate::pods::key(&ns, &name);
    let spec = pod.spec.clone().unwrap_or_default();
    let all: Vec<String> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    let container = match q.get("container") {
        Some(c) if all.contains(c) => c.clone(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )))
        }
        None if spec.containers.len() == 1 => spec.containers[0].name.clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            )))
        }
    };
    let previous = q.get("previous").is_some_and(|v| v == "true");
    let Some((restarts, running)) = container_restart(&pod, &container) else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    };
    let instance = if previous { restarts - 1 } else { restarts };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let path: PathBuf = st
        .engine
        .log_dir(&ns, &name, &uid)
        .join(&container)
        .join(format!("{instance}.log"));
    if instance < 0 || !path.exists() {
        if previous {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let mut data = std::fs::read(&path).unwrap_or_default();
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        data = tail_lines(&data, n).to_vec();
    }
    if let Some(limit) = q.get("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        data.truncate(limit);
    }
    let follow = q.get("follow").is_some_and(|v| v == "true") && !previous && running;
    if !follow {
        return Ok((StatusCode::OK, [("content-type", "text/plain")], data).into_response());
    }
    let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let store = st.engine.store().clone();
    let first = Bytes::from(data);
    let s = stream::unfold(
        (Some(first), offset, false),
        move |(first, mut offset, done)| {
            let path = path.clone();
            let store = store.clone();
            let key = key.clone();
            let container = container.clone();
            async move {
                if let Some(b) = first {
                    return Some((Ok::<_, std::io::Error>(b), (None, offset, done)));
                }
                if done {
                    return None;
                }
                loop {
                    let mut buf = Vec::new();
                    if let Ok(mut f) = std::fs::File::open(&path) {
                        if f.seek(SeekFrom::Start(offset)).is_ok() {
                            let _ = f.read_to_end(&mut buf);
                        }
                    }
                    let still_running = store
                        .pod(&key)
                        .and_then(|p| container_restart(&p, &container))
                        .is_some_and(|(r, run)| r == instance && run);
                    if !buf.is_empty() {
                        offset += buf.len() as u64;
                        return Some((Ok(Bytes::from(buf)), (None, offset, !still_running)));
                    }
                    if !still_running {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        },
    );
    Ok(stream_response("text/plain", s))
}
