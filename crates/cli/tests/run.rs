//! End-to-end tests of `podvisor run` with real processes: marker files written by containers
//! and hooks, and the final Pod/Event objects from `-o json`, checked with tolerances.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Run {
    out: Output,
    list: Value,
    took: Duration,
}

impl Run {
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn pod(&self, name: &str) -> &Value {
        self.list["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i["kind"] == "Pod" && i["metadata"]["name"] == name)
            })
            .unwrap_or_else(|| panic!("pod {name} not in output; stderr:\n{}", self.stderr()))
    }
    fn events(&self, reason: &str) -> Vec<&Value> {
        self.list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|i| i["kind"] == "Event" && i["reason"] == reason)
                    .collect()
            })
            .unwrap_or_default()
    }
    fn container(&self, pod: &str, name: &str) -> &Value {
        self.pod(pod)["status"]["containerStatuses"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("container {name} not in status; stderr:\n{}", self.stderr()))
    }
}

fn podvisor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_podvisor"))
}

/// Runs `podvisor run -f <manifest> -o json <extra>` with its own state dir.
fn run(dir: &Path, manifest: &str, extra: &[&str]) -> Run {
    let file = dir.join("pod.yaml");
    std::fs::write(&file, manifest).unwrap();
    let start = Instant::now();
    let out = podvisor()
        .args(["run", "--no-color", "-o", "json", "-f"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = start.elapsed();
    let list = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Run { out, list, took }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn read_f64(p: PathBuf) -> f64 {
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    s.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {s:?}: {e}", p.display()))
}

#[test]
fn termination_message_is_read_from_the_file() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: termination-demo}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: debian
    command: ["/bin/sh"]
    args: ["-c", "echo Sleep expired > /dev/termination-log"]
"#,
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let t = &r.container("termination-demo", "c")["state"]["terminated"];
    assert_eq!(t["message"], "Sleep expired\n");
    assert_eq!(t["reason"], "Completed");
    assert_eq!(r.pod("termination-demo")["status"]["phase"], "Succeeded");
}

#[test]
fn fallback_to_logs_on_error_takes_the_last_lines_of_the_logs_content() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: fallback}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: debian
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["/bin/sh"]
    args: ["-c", "for i in $(seq 1 100); do echo line-$i; done; echo failed >&2; exit 3"]
"#,
        &[],
    );
    let t = &r.container("fallback", "c")["state"]["terminated"];
    assert_eq!(t["exitCode"], 3, "{}", r.stderr());
    // The last 80 records of the CRI log, content only (no timestamps or stream tags).
    let expected: String = (22..=100)
        .map(|i| format!("line-{i}\n"))
        .chain(["failed\n".to_string()])
        .collect();
    assert_eq!(t["message"], expected.as_str());
}

#[test]
fn second_container_starts_only_after_the_first_ones_post_start() {
    let d = tmp();
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: order}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: first
    image: busybox
    command: ['sh', '-c', 'exec sleep 600']
    volumeMounts: [{{name: m, mountPath: /m}}]
    lifecycle:
      postStart:
        exec:
          command: ['sh', '-c', 'sleep 1; date +%s.%N > /m/poststart-done']
  - name: second
    image: busybox
    command: ['sh', '-c', 'date +%s.%N > /m/second-started; exec sleep 600']
    volumeMounts: [{{name: m, mountPath: /m}}]
  volumes:
  - name: m
    hostPath: {{path: {}}}
"#,
            m.display()
        ),
        &["--stop-after", "3s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let done = read_f64(m.join("poststart-done"));
    let second = read_f64(m.join("second-started"));
    assert!(
        second >= done,
        "second started at {second}, first's postStart finished at {done}"
    );
}

#[test]
fn pre_stop_runs_before_sigterm_and_consumes_the_grace_period() {
    let d = tmp();
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: prestop}}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "date +%s.%N > /m/sigterm; exit 0" TERM; while true; do sleep 0.1; done']
    volumeMounts: [{{name: m, mountPath: /m}}]
    lifecycle:
      preStop:
        exec:
          command: ['sh', '-c', 'date +%s.%N > /m/prestop-start; sleep 2; date +%s.%N > /m/prestop-end']
  volumes:
  - name: m
    hostPath: {{path: {}}}
"#,
            m.display()
        ),
        &["--stop-after", "1s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let start = read_f64(m.join("prestop-start"));
    let end = read_f64(m.join("prestop-end"));
    let term = read_f64(m.join("sigterm"));
    assert!(
        term >= end,
        "SIGTERM at {term} came before preStop ended at {end}"
    );
    assert!(
        term - start >= 2.0 && term - start < 4.0,
        "SIGTERM {:.2}s after preStop start",
        term - start
    );
    let t = &r.container("prestop", "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 0);
    assert_eq!(r.events("Killing").len(), 1);
}

#[test]
fn sh_as_pid_1_ignores_sigterm_and_is_killed_after_the_grace_period() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: trap}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'sleep 600']
"#,
        &["--stop-after", "500ms"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let t = &r.container("trap", "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 137, "{}", r.stderr());
    assert!(r.took >= Duration::from_millis(2400), "took {:?}", r.took);
    assert!(r.stderr().contains("SIGKILL"), "{}", r.stderr());
}

#[test]
fn init_containers_env_and_downward_api_reach_the_container() {
    let d = tmp();
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{GREETING: hello, other: x}}
---
apiVersion: v1
kind: Secret
metadata: {{name: sec}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: envpod, labels: {{app: web}}}}
spec:
  restartPolicy: Never
  initContainers:
  - name: init
    image: busybox
    command: ['sh', '-c', 'echo init > /m/init']
    volumeMounts: [{{name: m, mountPath: /m}}]
  containers:
  - name: main
    image: busybox
    command: ['sh', '-c', 'cat /m/init > /m/out; echo "$GREETING $PASSWORD $MY_NAME $APP $(hostname) $HOSTNAME $COMBINED" >> /m/out; cat /etc/cfg/GREETING >> /m/out']
    env:
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: sec, key: password}}}}}}
    - {{name: MY_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: APP, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['app']"}}}}}}
    - {{name: COMBINED, value: "$(GREETING)-$(MY_NAME)"}}
    envFrom:
    - configMapRef: {{name: cfg}}
    volumeMounts:
    - {{name: m, mountPath: /m}}
    - {{name: cfg, mountPath: /etc/cfg, readOnly: true}}
  volumes:
  - name: m
    hostPath: {{path: {}}}
  - name: cfg
    configMap: {{name: cfg}}
"#,
            m.display()
        ),
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let out = std::fs::read_to_string(m.join("out")).unwrap();
    assert_eq!(
        out,
        "init\nhello s3cret envpod web envpod envpod hello-envpod\nhello"
    );
}

#[test]
fn liveness_failure_restarts_the_container_and_records_unhealthy_events() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']
    livenessProbe:
      exec: {command: ['sh', '-c', 'exit 1']}
      periodSeconds: 1
      failureThreshold: 2
"#,
        &["--stop-after", "4500ms"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let c = r.container("live", "app");
    assert!(c["restartCount"].as_i64().unwrap() >= 1, "{c}");
    let unhealthy = r.events("Unhealthy");
    assert!(!unhealthy.is_empty());
    assert!(unhealthy[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Liveness probe failed"));
    let killing = r.events("Killing");
    assert!(killing
        .iter()
        .any(|e| e["message"] == "Container app failed liveness probe, will be restarted"));
}

#[test]
fn readiness_http_probe_makes_the_pod_ready() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: python
    command: ['python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0']
    readinessProbe:
      httpGet: {port: 8080, path: /}
      periodSeconds: 1
"#,
        &["--stop-after", "3s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("Ready"), "{}", r.stderr());
}

#[test]
fn crash_loop_back_off_is_reported() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'exit 3']
"#,
        &["--stop-after", "2s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let c = r.container("crash", "app");
    assert_eq!(c["restartCount"], 1, "{c}");
    assert_eq!(r.events("BackOff").len(), 1);
    assert_eq!(c["state"]["terminated"]["exitCode"], 3, "{c}");
}

#[test]
fn failing_pod_exits_1_and_bad_input_exits_2_with_the_field_path() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: fail}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: ['sh', '-c', 'exit 4']}
"#,
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.pod("fail")["status"]["phase"], "Failed");

    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: busybox
    command: ['sleep', '1']
    lifecycle:
      preStop:
        sleep: {seconds: 90}
"#,
        &[],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr()
            .contains("spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 90"),
        "{}",
        r.stderr()
    );
}

#[test]
fn sigint_deletes_gracefully_and_no_process_survives() {
    let d = tmp();
    // A unique sleep length marks the container's background processes.
    let token = format!("{}", 3_000_000 + std::process::id());
    let file = d.path().join("pod.yaml");
    std::fs::write(
        &file,
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: sig}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'sleep {token} & sleep {token} & wait']
"#
        ),
    )
    .unwrap();
    let mut child = podvisor()
        .args(["run", "--no-color", "-f"])
        .arg(&file)
        .arg("--state-dir")
        .arg(d.path().join("state"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the container runs (its sleeps show up), then SIGINT podvisor.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && processes_with(&token).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !processes_with(&token).is_empty(),
        "container never started"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        processes_with(&token).is_empty(),
        "processes survived: {:?}",
        processes_with(&token)
    );
}

/// Pids whose command line contains `token`.
fn processes_with(token: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(token) && pid != std::process::id() {
                out.push(pid);
            }
        }
    }
    out
}

#[test]
fn post_start_failure_is_reported_and_the_container_restarted_through_the_normal_kill_path() {
    let d = tmp();
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: hookfail}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']
    volumeMounts: [{{name: m, mountPath: /m}}]
    lifecycle:
      postStart:
        exec: {{command: ['sh', '-c', 'echo nope; exit 1']}}
      preStop:
        exec: {{command: ['sh', '-c', 'echo prestop >> /m/prestop']}}
  volumes:
  - name: m
    hostPath: {{path: {}}}
"#,
            m.display()
        ),
        &["--stop-after", "1500ms"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        !r.events("FailedPostStartHook").is_empty(),
        "{}",
        r.stderr()
    );
    assert_eq!(
        r.events("FailedPostStartHook")[0]["message"],
        "PostStartHook failed"
    );
    assert!(r
        .events("Killing")
        .iter()
        .any(|e| e["message"] == "FailedPostStartHook"));
    // preStop ran for the postStart kill (and again at deletion for a running instance).
    assert!(std::fs::read_to_string(m.join("prestop"))
        .unwrap()
        .starts_with("prestop\n"));
    let c = r.container("hookfail", "app");
    assert!(c["restartCount"].as_i64().unwrap() >= 1, "{c}");
}

#[test]
fn sidecars_stop_after_the_main_container_in_reverse_order() {
    let d = tmp();
    let m = d.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    let side = |n: &str| {
        format!(
        "{{name: {n}, image: busybox, restartPolicy: Always, volumeMounts: [{{name: m, mountPath: /m}}], command: ['sh', '-c', 'trap \"date +%s.%N > /m/{n}; exit 0\" TERM; while true; do sleep 0.05; done']}}"
    )
    };
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: sidecars}}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - {a}
  - {b}
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "sleep 0.5; date +%s.%N > /m/app; exit 0" TERM; while true; do sleep 0.05; done']
    volumeMounts: [{{name: m, mountPath: /m}}]
  volumes:
  - name: m
    hostPath: {{path: {p}}}
"#,
            a = side("side-a"),
            b = side("side-b"),
            p = m.display()
        ),
        &["--stop-after", "1s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let app = read_f64(m.join("app"));
    let b = read_f64(m.join("side-b"));
    let a = read_f64(m.join("side-a"));
    assert!(
        app <= b && b <= a,
        "stop order app={app} side-b={b} side-a={a}"
    );
    assert_eq!(r.pod("sidecars")["status"]["phase"], "Succeeded");
}

#[test]
fn a_second_interrupt_kills_every_container_at_once() {
    let d = tmp();
    let token = format!("{}", 4_000_000 + std::process::id());
    let file = d.path().join("pod.yaml");
    std::fs::write(
        &file,
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: stuck}}
spec:
  terminationGracePeriodSeconds: 40
  containers:
  - name: app
    image: busybox
    command: ['sleep', '{token}']
    lifecycle:
      preStop:
        exec: {{command: ['sleep', '30']}}
"#
        ),
    )
    .unwrap();
    let mut child = podvisor()
        .args(["run", "--no-color", "-f"])
        .arg(&file)
        .arg("--state-dir")
        .arg(d.path().join("state"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_line = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("never saw {what:?}:\n{}", seen.join("\n")),
            }
        }
    };
    let sigint = || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap()
    };
    wait_line("started, pid");
    sigint();
    wait_line("preStop running");
    let t = Instant::now();
    sigint();
    wait_line("second interrupt");
    let status = child.wait().unwrap();
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        took < Duration::from_secs(10),
        "the second interrupt waited {took:?} (the preStop sleeps 30 s)"
    );
    assert!(processes_with(&token).is_empty(), "processes survived");
}

#[test]
fn the_default_state_directory_is_removed_at_exit_unless_kept() {
    let d = tmp();
    let file = d.path().join("pod.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: once}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, command: ['true']}\n",
    )
    .unwrap();
    let tmpdir = d.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    for keep in [false, true] {
        let mut cmd = podvisor();
        cmd.args(["run", "--no-color", "-f"])
            .arg(&file)
            .env("TMPDIR", &tmpdir)
            .stdin(Stdio::null());
        if keep {
            cmd.arg("--keep");
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(&tmpdir).unwrap().flatten().collect();
        assert_eq!(left.len(), usize::from(keep), "keep={keep}: {left:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.contains("logs: "), keep, "{stderr}");
    }
}

#[test]
fn bad_input_names_the_file_says_error_once_and_shows_every_decode_error_and_hint() {
    let d = tmp();
    let r = run(
        d.path(),
        r#"
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  terminationGracePeriodSeconds: soon
  containers:
  - name: app
    image: busybox
    comand: ['sleep', '1']
    ports: [{containerPort: "8080"}]
"#,
        &[],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let file = d.path().join("pod.yaml");
    let err = r.stderr();
    assert!(
        err.contains(&format!("error: {}: document 1: Pod is invalid: spec.containers[0].ports[0].containerPort: Invalid value: \"8080\": must be of type integer, spec.terminationGracePeriodSeconds: Invalid value: \"soon\": must be of type integer", file.display())),
        "{err}"
    );
    // A document that decodes shows its unknown fields with the close known one.
    let r = run(
        d.path(),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - {name: app, image: busybox, comand: [sleep, '1']}\n",
        &[],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains(&format!(
            "warning: {}: document 1: unknown field \"spec.containers[0].comand\" (did you mean \"command\"?)",
            file.display()
        )),
        "{}",
        r.stderr()
    );
    // A syntax error read from standard input.
    let mut child = podvisor()
        .args(["run", "--no-color", "-f", "-"])
        .arg("--state-dir")
        .arg(d.path().join("state"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"a: [").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: <stdin>: line 1 column 4: unclosed bracket '['"),
        "{err}"
    );
    assert!(err.contains("--> <stdin>:1:4"), "{err}");
    assert!(
        !err.contains("<input>") && err.matches("error:").count() == 1,
        "{err}"
    );
}

#[test]
fn a_host_path_of_the_wrong_type_is_a_failed_mount_and_no_container_starts() {
    let d = tmp();
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let r = run(
        d.path(),
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: hp}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sleep', '600']
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    hostPath: {{path: {}, type: Directory}}
"#,
            file.display()
        ),
        &["--stop-after", "2s"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let mounts = r.events("FailedMount");
    assert!(!mounts.is_empty(), "{}", r.stderr());
    assert_eq!(
        mounts[0]["message"],
        format!(
            "MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: {} is not a directory, it's a File",
            file.display()
        )
    );
    assert_eq!(mounts[0]["type"], "Warning");
    assert!(r.events("Started").is_empty(), "{}", r.stderr());
    assert!(r.events("Failed").is_empty(), "{}", r.stderr());
}
