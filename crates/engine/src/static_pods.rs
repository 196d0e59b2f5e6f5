//! Static pods: every Pod manifest in a directory runs on this node, reconciled as the files
//! change (mirrors the kubelet's `staticPodPath` file source, `pkg/kubelet/config/file.go`: the
//! pod is named `<name>-<nodeName>`, annotated with its source and config hash; a changed
//! manifest is a new pod, so the old one is deleted and the new one started).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use podvisor_lifecycle::intake::{build_plan, parse};
use podvisor_lifecycle::plan::{PodKey, PodPlan};

use crate::EngineHandle;

/// How often the directory is re-read (the kubelet's file source polls every 20 s and also
/// watches with inotify; podvisor polls often instead).
pub const POLL: Duration = Duration::from_secs(1);

/// The desired static pods of a directory: key → (config hash, plan). Problems are returned
/// as messages (one per bad file or pod).
pub fn desired(dir: &Path, node_name: &str) -> (BTreeMap<PodKey, (String, PodPlan)>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(e) => return (out, vec![format!("{}: {e}", dir.display())]),
    };
    files.sort();
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let source = f.display().to_string();
        let intake = match parse(&text, &source) {
            Ok(i) => i,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        for mut pod in intake.pods {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            serde_json::to_string(&pod).unwrap_or_default().hash(&mut h);
            let hash = format!("{:016x}", h.finish());
            let name = format!(
                "{}-{node_name}",
                pod.metadata.name.clone().unwrap_or_default()
            );
            pod.metadata.name = Some(name);
            let ann = pod
                .metadata
                .annotations
                .get_or_insert_with(Default::default);
            ann.insert("kubernetes.io/config.source".into(), "file".into());
            ann.insert("kubernetes.io/config.hash".into(), hash.clone());
            ann.insert(
                "kubernetes.io/config.seen".into(),
                jiff::Timestamp::now().to_string(),
            );
            pod.metadata.uid = Some(format!("{hash}-static"));
            match build_plan(pod) {
                Ok(plan) => {
                    out.insert(plan.key.clone(), (hash, plan));
                }
                Err(e) => problems.push(format!("{source}: {e}")),
            }
        }
    }
    (out, problems)
}

/// Runs the static pods of `dir` until the task is dropped.
pub async fn run(engine: EngineHandle, dir: PathBuf, node_name: String) {
    let mut ours: BTreeMap<PodKey, String> = BTreeMap::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        let (want, problems) = desired(&dir, &node_name);
        for p in problems {
            if reported.insert(p.clone()) {
                tracing::warn!(dir = %dir.display(), "static pod manifest: {p}");
            }
        }
        let Ok(keys) = engine.pod_keys().await else {
            return; // the engine has stopped
        };
        let running: BTreeSet<PodKey> = keys.into_iter().collect();
        // Gone or changed: delete (gracefully, with the pod's own grace period).
        for (key, hash) in ours.clone() {
            let keep = want.get(&key).is_some_and(|(h, _)| *h == hash);
            if !keep && running.contains(&key) {
                if engine
                    .store()
                    .pod(&key)
                    .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
                {
                    let _ = engine.delete_pod(&key, None).await;
                }
            } else if !keep {
                ours.remove(&key);
            }
        }
        // New (or replaced once the old instance is gone): start.
        for (key, (hash, plan)) in want {
            if !running.contains(&key)
                && !ours.contains_key(&key)
                && engine.create_pod(plan).await.is_ok()
            {
                ours.insert(key, hash);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
