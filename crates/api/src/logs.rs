//! `GET .../pods/{name}/log`: a container's log, current or previous instance, with
//! `tailLines`, `limitBytes`, `sinceSeconds`/`sinceTime`, `timestamps` and `follow` (the
//! kubelet's `containerLogs` endpoint as the apiserver proxies it,
//! `pkg/kubelet/server/server.go getContainerLogs`, reading the CRI log with
//! `kuberuntime/logs.ReadLogs`; the format is [`podvisor_engine::logs`]).
//!
//! As the kubelet, only the instance's current log file is read: what was rotated away
//! (`<restart>.log.<time>`) is not shown; a followed log goes on in the new file after a
//! rotation.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use podvisor_engine::logs::{concat, Decoder, Piece, ReadOptions};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use futures_util::stream;
use k8s_openapi::api::core::v1::Pod;

use crate::http::{stream_response, ApiResult, Params};
use crate::{ApiError, Shared};

/// How often a followed log is read for new output.
const POLL: Duration = Duration::from_millis(100);

/// The log file of one instance of a container (`<container>/<restartCount>.log`).
pub fn instance_log(st: &Shared, pod: &Pod, container: &str, instance: i32) -> PathBuf {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    st.engine
        .log_dir(ns, name, uid)
        .join(container)
        .join(format!("{instance}.log"))
}

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

/// A container's current log file being read (the kubelet's `ReadLogs`): records become output
/// as [`ReadOptions`] say; a followed file that is rotated away is read to its end, then its
/// successor at the same path from its start.
pub(crate) struct LogFile {
    path: PathBuf,
    file: std::fs::File,
    ino: u64,
    decoder: Decoder,
}

impl LogFile {
    /// Opens the log at the start of its last `tail` records (everything without a tail).
    pub(crate) fn open(path: PathBuf, opts: ReadOptions) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(&path)?;
        let start = match opts.tail {
            Some(n) => podvisor_engine::logs::tail_start(&mut file, n)?,
            None => 0,
        };
        file.seek(SeekFrom::Start(start))?;
        Self::new(path, file, opts)
    }

    /// Opens the log at its end: only what is written from now on is read.
    pub(crate) fn open_at_end(path: PathBuf, opts: ReadOptions) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::End(0))?;
        Self::new(path, file, opts)
    }

    fn new(path: PathBuf, file: std::fs::File, opts: ReadOptions) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let ino = file.metadata()?.ino();
        Ok(LogFile {
            path,
            file,
            ino,
            decoder: Decoder::new(opts),
        })
    }

    /// Whether the output is complete (`limitBytes` reached, the tail shown).
    pub(crate) fn done(&self) -> bool {
        self.decoder.done()
    }

    /// The output of the next bytes of the file (empty when they hold no whole record yet);
    /// `None` at its end.
    pub(crate) fn read(&mut self) -> std::io::Result<Option<Vec<Piece>>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match self.file.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let mut out = Vec::new();
        self.decoder.feed(&buf[..n], &mut out);
        Ok(Some(out))
    }

    /// The end of the log: a last record without its newline is shown too.
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        self.decoder.finish(&mut out);
        out
    }

    /// At the end of the file: when the path now names another file (the log was rotated),
    /// continues with that one from its start.
    pub(crate) fn reopen_if_rotated(&mut self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        if meta.ino() == self.ino {
            return false;
        }
        let Ok(file) = std::fs::File::open(&self.path) else {
            return false;
        };
        self.ino = file.metadata().map(|m| m.ino()).unwrap_or(meta.ino());
        self.file = file;
        self.decoder.drop_pending();
        true
    }
}

/// The `PodLogOptions` of a request as the kubelet reads them (`NewLogOptions`).
fn read_options(q: &std::collections::HashMap<String, String>, follow: bool) -> ReadOptions {
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true");
    let since_time = q
        .get("sinceTime")
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let since_seconds = q.get("sinceSeconds").and_then(|n| n.parse::<i64>().ok());
    ReadOptions {
        tail: q.get("tailLines").and_then(|n| n.parse::<u64>().ok()),
        limit_bytes: q.get("limitBytes").and_then(|n| n.parse::<u64>().ok()),
        since: ReadOptions::since(jiff::Timestamp::now(), since_seconds, since_time),
        timestamps: flag("timestamps"),
        follow,
    }
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub async fn log(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let pod = crate::http::stored_pod(&st, &ns, &name)?;
    let key = crate::http::key(&ns, &name);
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
    let path = instance_log(&st, &pod, &container, instance);
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
    let follow = q.get("follow").is_some_and(|v| v == "true") && !previous && running;
    let file = LogFile::open(path, read_options(&q, follow))
        .map_err(|e| ApiError::bad_request(format!("failed to open log file: {e}")))?;
    let store = st.engine.store().clone();
    let still_running = move || {
        store
            .pod(&key)
            .and_then(|p| container_restart(&p, &container))
            .is_some_and(|(r, run)| r == instance && run)
    };
    // (file, stopping: the instance was seen stopped and the rest is being read, ended)
    let s = stream::unfold(
        (file, false, false),
        move |(mut file, mut stopping, ended)| {
            let still_running = still_running.clone();
            async move {
                if ended {
                    return None;
                }
                loop {
                    if file.done() {
                        return None;
                    }
                    match file.read() {
                        Ok(Some(out)) if out.is_empty() => continue,
                        Ok(Some(out)) => {
                            return Some((Ok(Bytes::from(concat(&out))), (file, stopping, false)));
                        }
                        Ok(None) if !follow => {
                            let out = concat(&file.finish());
                            return (!out.is_empty()).then(|| {
                                (
                                    Ok::<_, std::io::Error>(Bytes::from(out)),
                                    (file, true, true),
                                )
                            });
                        }
                        Ok(None) => {
                            if file.reopen_if_rotated() {
                                continue;
                            }
                            if stopping {
                                return None;
                            }
                            // Seen stopped: what it wrote before is read once more, then the end.
                            if !still_running() {
                                stopping = true;
                                continue;
                            }
                            tokio::time::sleep(POLL).await;
                        }
                        Err(e) => return Some((Err(e), (file, true, true))),
                    }
                }
            }
        },
    );
    Ok(stream_response("text/plain", s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content: &str) -> String {
        format!("2024-01-01T12:00:00Z stdout F {content}\n")
    }

    fn drain(f: &mut LogFile) -> String {
        let mut out = Vec::new();
        while let Some(p) = f.read().unwrap() {
            out.extend(concat(&p));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_followed_log_goes_on_in_the_new_file_after_a_rotation() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("0.log");
        std::fs::write(&path, record("old-1")).unwrap();
        let opts = ReadOptions {
            follow: true,
            ..ReadOptions::default()
        };
        let mut f = LogFile::open(path.clone(), opts).unwrap();
        assert_eq!(drain(&mut f), "old-1\n");
        assert!(!f.reopen_if_rotated());
        // The writer appends, then rotates (rename) and opens a new file.
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut old, record("old-2").as_bytes()).unwrap();
        std::fs::rename(&path, d.path().join("0.log.20240101-120000")).unwrap();
        std::fs::write(&path, record("new-1")).unwrap();
        assert_eq!(drain(&mut f), "old-2\n");
        assert!(f.reopen_if_rotated());
        assert_eq!(drain(&mut f), "new-1\n");
    }
}
