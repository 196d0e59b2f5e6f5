//! Engine wiring with the scripted `FakeRuntime` and tokio's paused clock: the worker loop,
//! hook deadlines, signals, probes and published status, in virtual time.

use std::time::Duration;

use podvisor_engine::runtime::fake::{FakeBehaviour, FakeRuntime};
use podvisor_engine::runtime::ExecOutput;
use podvisor_engine::timeline::{Happening, TimelineEntry};
use podvisor_engine::{EngineConfig, EngineHandle};
use podvisor_lifecycle::intake::{build_plan, parse};
use podvisor_lifecycle::plan::{PodKey, PodPlan};
use podvisor_lifecycle::signal::Signal;
use tokio::sync::broadcast;

fn plan(yaml: &str) -> PodPlan {
    let m = parse(yaml, "test.yaml").expect("manifest parses");
    build_plan(m.pods.into_iter().next().expect("one pod")).expect("pod is valid")
}

/// A pod with its own uid, as the API server assigns one on create.
fn plan_uid(yaml: &str, uid: &str) -> PodPlan {
    let m = parse(yaml, "test.yaml").expect("manifest parses");
    let mut pod = m.pods.into_iter().next().expect("one pod");
    pod.metadata.uid = Some(uid.into());
    build_plan(pod).expect("pod is valid")
}

fn engine(rt: FakeRuntime, dir: &tempfile::TempDir) -> EngineHandle {
    podvisor_engine::start_in_memory(
        rt,
        EngineConfig {
            state_dir: dir.path().to_path_buf(),
            node_name: "node".into(),
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: false,
        },
    )
}

fn key(name: &str) -> PodKey {
    PodKey {
        namespace: "default".into(),
        name: name.into(),
    }
}

/// Drains the timeline collected so far.
fn drain(rx: &mut broadcast::Receiver<TimelineEntry>) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

fn at_of(entries: &[TimelineEntry], pred: impl Fn(&Happening) -> bool) -> Duration {
    entries
        .iter()
        .find(|e| pred(&e.what))
        .map(|e| e.at.since_start())
        .unwrap_or_else(|| panic!("not found in timeline: {entries:#?}"))
}

const PRESTOP_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'sleep 600']
    lifecycle:
      preStop:
        exec: {command: ['sh', '-c', 'sleep 12']}
"#;

#[tokio::test(start_paused = true)]
async fn pre_stop_then_sigterm_with_the_rest_of_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exec: (Duration::from_millis(12_500), ExecOutput::default()),
            on_stop_signal: None,
            ..Default::default()
        },
    );
    let e = engine(rt.clone(), &dir);
    let mut rx = e.subscribe();
    e.create_pod(plan(PRESTOP_POD)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    e.delete_pod(&key("web"), None).await.unwrap();
    let pod = e.wait(&key("web")).await.unwrap();
    let tl = drain(&mut rx);
    let deleted = at_of(&tl, |h| matches!(h, Happening::Deleting { .. }));
    let term = at_of(
        &tl,
        |h| matches!(h, Happening::Signal { signal, .. } if *signal == Signal::SIGTERM),
    );
    let kill = at_of(
        &tl,
        |h| matches!(h, Happening::Signal { signal, .. } if *signal == Signal::SIGKILL),
    );
    let pre = (term - deleted).as_secs_f64();
    assert!((12.4..12.7).contains(&pre), "SIGTERM {pre}s after deletion");
    // 30 - floor(12.5) = 18 s between SIGTERM and SIGKILL.
    let window = (kill - term).as_secs_f64();
    assert!(
        (17.9..18.2).contains(&window),
        "SIGKILL {window}s after SIGTERM"
    );
    assert_eq!(
        rt.signals(),
        vec![
            ("app".to_string(), "SIGTERM".to_string()),
            ("app".to_string(), "SIGKILL".to_string())
        ]
    );
    let cs = &pod.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(
        cs.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        137
    );
    assert!(pod.metadata.deletion_timestamp.is_some());
    assert_eq!(pod.metadata.deletion_grace_period_seconds, Some(30));
}

#[tokio::test(start_paused = true)]
async fn force_delete_gives_pre_stop_one_second_and_the_stop_signal_two() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exec: (Duration::from_secs(100), ExecOutput::default()),
            on_stop_signal: None,
            ..Default::default()
        },
    );
    let e = engine(rt.clone(), &dir);
    let mut rx = e.subscribe();
    e.create_pod(plan(PRESTOP_POD)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    e.delete_pod(&key("web"), Some(0)).await.unwrap();
    e.wait(&key("web")).await.unwrap();
    let tl = drain(&mut rx);
    let deleted = at_of(&tl, |h| matches!(h, Happening::Deleting { .. }));
    let term = at_of(
        &tl,
        |h| matches!(h, Happening::Signal { signal, .. } if *signal == Signal::SIGTERM),
    );
    let kill = at_of(
        &tl,
        |h| matches!(h, Happening::Signal { signal, .. } if *signal == Signal::SIGKILL),
    );
    assert!(((term - deleted).as_secs_f64() - 1.0).abs() < 0.1);
    assert!(((kill - term).as_secs_f64() - 2.0).abs() < 0.1);
}

#[tokio::test(start_paused = true)]
async fn a_completed_pod_is_published_with_its_terminal_status_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exits_after: Some((Duration::from_secs(3), 0)),
            ..Default::default()
        },
    );
    let e = engine(rt, &dir);
    e.create_pod(plan(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: ['true']}
"#,
    ))
    .await
    .unwrap();
    let pod = e.wait(&key("job")).await.unwrap();
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    let stored = e.store().pod(&key("job")).unwrap();
    assert_eq!(stored.status.unwrap().phase.as_deref(), Some("Succeeded"));
    assert!(stored.metadata.resource_version.is_some());
    let reasons: Vec<String> = e
        .store()
        .events()
        .into_iter()
        .filter_map(|ev| ev.reason)
        .collect();
    assert_eq!(reasons, vec!["Scheduled", "Pulled", "Created", "Started"]);
}

#[tokio::test(start_paused = true)]
async fn liveness_failures_restart_the_container_through_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exec: (
                Duration::ZERO,
                ExecOutput {
                    exit_code: 1,
                    stdout: b"unhealthy".to_vec(),
                    stderr: vec![],
                },
            ),
            ..Default::default()
        },
    );
    let e = engine(rt.clone(), &dir);
    e.create_pod(plan(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: busybox
    command: ['sleep', '600']
    livenessProbe:
      exec: {command: ['check']}
      periodSeconds: 10
      failureThreshold: 3
"#,
    ))
    .await
    .unwrap();
    // Failures at 0, 10, 20 s: killed at 20 s, restarted at once.
    tokio::time::sleep(Duration::from_millis(20_500)).await;
    let pod = e.store().pod(&key("live")).unwrap();
    let cs = &pod.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(cs.restart_count, 1);
    let unhealthy = e
        .store()
        .events()
        .into_iter()
        .find(|ev| ev.reason.as_deref() == Some("Unhealthy"))
        .unwrap();
    assert_eq!(
        unhealthy.message.as_deref(),
        Some("Liveness probe failed: unhealthy")
    );
    assert_eq!(unhealthy.count, Some(3));
    e.delete_pod(&key("live"), None).await.unwrap();
    e.wait(&key("live")).await.unwrap();
}

/// An engine with the API server's deletion semantics (what `podvisor serve` runs).
fn serve_engine(rt: FakeRuntime, dir: &tempfile::TempDir) -> EngineHandle {
    podvisor_engine::start_in_memory(
        rt,
        EngineConfig {
            state_dir: dir.path().to_path_buf(),
            node_name: "node".into(),
            host_ip: "127.0.0.1".into(),
            remove_deleted_pods: true,
        },
    )
}

const JOB_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: ['true']}
"#;

#[tokio::test(start_paused = true)]
async fn a_pod_that_finished_on_its_own_is_deleted_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exits_after: Some((Duration::from_millis(100), 0)),
            ..Default::default()
        },
    );
    let e = serve_engine(rt, &dir);
    e.create_pod(plan(JOB_POD)).await.unwrap();
    let done = e.wait(&key("job")).await.unwrap();
    assert_eq!(done.status.unwrap().phase.as_deref(), Some("Succeeded"));
    assert!(e.store().pod(&key("job")).is_some(), "a finished pod stays");
    let deleted = e.delete_pod(&key("job"), None).await.unwrap();
    assert_eq!(deleted.metadata.name.as_deref(), Some("job"));
    assert!(e.store().pod(&key("job")).is_none(), "nothing left to stop");
    // The name is free again.
    e.create_pod(plan(JOB_POD)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_graceful_delete_answers_the_deletion_metadata_that_is_then_read() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exec: (Duration::from_secs(100), ExecOutput::default()),
            on_stop_signal: None,
            ..Default::default()
        },
    );
    let e = serve_engine(rt, &dir);
    e.create_pod(plan(PRESTOP_POD)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = e.delete_pod(&key("web"), Some(20)).await.unwrap();
    let read = e.store().pod(&key("web")).unwrap();
    assert_eq!(answered.metadata.deletion_grace_period_seconds, Some(20));
    assert_eq!(
        read.metadata.deletion_grace_period_seconds,
        answered.metadata.deletion_grace_period_seconds
    );
    assert_eq!(
        read.metadata.deletion_timestamp,
        answered.metadata.deletion_timestamp
    );
    assert_eq!(
        read.metadata.resource_version,
        answered.metadata.resource_version
    );
    e.delete_pod(&key("web"), Some(0)).await.unwrap();
    e.wait_all().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_force_delete_removes_the_object_at_once_and_still_stops_the_processes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::new();
    rt.behave(
        "app",
        FakeBehaviour {
            exec: (Duration::from_secs(100), ExecOutput::default()),
            on_stop_signal: None,
            ..Default::default()
        },
    );
    let e = serve_engine(rt.clone(), &dir);
    let mut rx = e.subscribe();
    e.create_pod(plan_uid(PRESTOP_POD, "first")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = e.delete_pod(&key("web"), Some(0)).await.unwrap();
    assert!(answered.metadata.deletion_timestamp.is_some());
    assert!(
        e.store().pod(&key("web")).is_none(),
        "the object goes at once"
    );
    // A new pod may take the name while the old one's processes are still being stopped.
    let again = e.create_pod(plan_uid(PRESTOP_POD, "second")).await.unwrap();
    assert_ne!(again.metadata.uid, answered.metadata.uid);
    e.delete_pod(&key("web"), Some(0)).await.unwrap();
    e.wait_all().await.unwrap();
    let tl = drain(&mut rx);
    let kills = tl
        .iter()
        .filter(|t| {
            matches!(
                t.what,
                Happening::Signal {
                    signal: Signal::SIGKILL,
                    ..
                }
            )
        })
        .count();
    assert_eq!(kills, 2, "both instances were stopped: {tl:#?}");
    assert!(e.store().pod(&key("web")).is_none());
}
