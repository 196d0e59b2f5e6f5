//! End-to-end tests of `podvisor serve` driven by the real `/usr/bin/kubectl`. Outside CI a
//! missing kubectl or curl skips a test, saying why; in CI (`CI` set) it fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KUBECTL: &str = "/usr/bin/kubectl";

/// Whether a tool the test needs is installed; in CI a missing one fails the test.
fn have(tool: &str, installed: bool) -> bool {
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required in CI (.ci/run installs it)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    installed
}

fn have_kubectl() -> bool {
    have(KUBECTL, Path::new(KUBECTL).exists())
}

struct Server {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Option<Server> {
        if !have_kubectl() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_podvisor"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !s.kubeconfig().exists() {
            assert!(
                Instant::now() < deadline,
                "serve never wrote its kubeconfig"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(s)
    }

    /// SIGKILLs the daemon and starts a new one on the same state directory.
    fn crash_and_restart(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.kubeconfig());
        self.child = Command::new(env!("CARGO_BIN_EXE_podvisor"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.kubeconfig().exists() {
            assert!(
                Instant::now() < deadline,
                "restarted serve never wrote its kubeconfig"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("state/kubeconfig")
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(
            o.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&Server) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pred(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo hello from app; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done']
    readinessProbe:
      exec: {command: ['true']}
      periodSeconds: 1
"#;

#[test]
fn apply_get_describe_logs_and_delete_with_kubectl() {
    let Some(s) = Server::start() else { return };
    let f = s.file("web.yaml", POD);
    assert_eq!(s.ok(&["apply", "-f", &f]).trim(), "pod/web created");
    assert_eq!(s.ok(&["apply", "-f", &f]).trim(), "pod/web unchanged");
    let changed = s.file(
        "web2.yaml",
        &POD.replace("labels: {app: web}", "labels: {app: web, tier: front}"),
    );
    assert_eq!(
        s.ok(&["apply", "-f", &changed]).trim(),
        "pod/web configured"
    );
    assert_eq!(
        s.ok(&[
            "get",
            "pod",
            "web",
            "-o",
            "go-template={{.metadata.labels.tier}}"
        ]),
        "front"
    );
    s.wait_for("web Running and ready", |s| {
        s.ok(&["get", "pods"]).contains("1/1     Running")
    });
    let table = s.ok(&["get", "pods"]);
    assert!(
        table.starts_with("NAME   READY   STATUS    RESTARTS   AGE"),
        "{table}"
    );
    let wide = s.ok(&["get", "pods", "-o", "wide"]);
    assert!(wide.contains("127.244."), "{wide}");
    let yaml = s.ok(&["get", "pod", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("phase: Running")
            && yaml.contains("terminationMessagePath: /dev/termination-log"),
        "{yaml}"
    );
    let describe = s.ok(&["describe", "pod", "web"]);
    assert!(
        describe.contains("Started") && describe.contains("Container started"),
        "{describe}"
    );
    assert_eq!(s.ok(&["logs", "web"]), "hello from app\n");
    assert_eq!(
        s.ok(&["logs", "web", "-c", "app", "--tail=1"]),
        "hello from app\n"
    );
    let start = Instant::now();
    assert_eq!(
        s.ok(&["delete", "pod", "web", "--grace-period=2"]).trim(),
        "pod \"web\" deleted"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(s.ok(&["get", "pods"]).is_empty());
    let o = s.kubectl(&["get", "pod", "web"]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("Error from server (NotFound): pods \"web\" not found"));
}

#[test]
fn describe_shows_hook_and_probe_failures_and_go_template_reads_the_termination_message() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "bad.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']
    lifecycle:
      postStart:
        exec: {command: ['sh', '-c', 'exit 3']}
---
apiVersion: v1
kind: Pod
metadata: {name: sick}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']
    livenessProbe:
      exec: {command: ['sh', '-c', 'echo sick; exit 1']}
      periodSeconds: 1
      failureThreshold: 100
---
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ['sh', '-c', 'echo Sleep expired > /dev/termination-log']
"#,
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("FailedPostStartHook and Unhealthy in describe", |s| {
        let bad = s.ok(&["describe", "pod", "bad"]);
        let sick = s.ok(&["describe", "pod", "sick"]);
        bad.contains("FailedPostStartHook")
            && sick.contains("Unhealthy")
            && sick.contains("Liveness probe failed: sick")
    });
    s.wait_for("msg Completed", |s| {
        s.ok(&["get", "pod", "msg"]).contains("Completed")
    });
    let tpl = "go-template={{range .status.containerStatuses}}{{.state.terminated.message}}{{end}}";
    assert_eq!(s.ok(&["get", "pod", "msg", "-o", tpl]), "Sleep expired\n");
    let o = s.kubectl(&["delete", "pod", "bad", "--force", "--grace-period=0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    s.wait_for("bad gone", |s| !s.ok(&["get", "pods"]).contains("bad"));
}

#[test]
fn bad_requests_get_a_status_with_the_right_code() {
    let Some(s) = Server::start() else { return };
    let invalid = s.file("invalid.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], lifecycle: {preStop: {sleep: {seconds: 90}}}}\n");
    let o = s.kubectl(&["apply", "-f", &invalid]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 90"),
        "{err}"
    );
    let unknown = s.file("unknown.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, image: b, command: [x], bogus: 1}\n");
    let o = s.kubectl(&["create", "-f", &unknown]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown field \"spec.containers[0].bogus\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let good = s.file("good.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: dup}\nspec:\n  containers:\n  - {name: a, image: b, command: [sleep, '60']}\n");
    s.ok(&["create", "-f", &good]);
    let o = s.kubectl(&["create", "-f", &good]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("(AlreadyExists)"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    s.ok(&["delete", "pod", "dup", "--grace-period=1"]);

    // Raw HTTP: bad token, malformed JSON, huge body.
    let kc = std::fs::read_to_string(s.kubeconfig()).unwrap();
    let server = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let curl = |args: &[&str]| -> String {
        let o = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output();
        match o {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(_) => "no-curl".into(),
        }
    };
    let probe = curl(&[&format!("{server}/version")]);
    if !have("curl", probe != "no-curl") {
        return;
    }
    assert_eq!(probe, "401");
    let token = kc
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let auth = format!("Authorization: Bearer {token}");
    let pods = format!("{server}/api/v1/namespaces/default/pods");
    assert_eq!(curl(&["-H", &auth, &format!("{server}/version")]), "200");
    assert_eq!(
        curl(&[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            "{not json",
            &pods
        ]),
        "400"
    );
    let big = s.dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 4 * 1024 * 1024]).unwrap();
    assert_eq!(
        curl(&[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", big.display()),
            &pods
        ]),
        "413"
    );
    assert_eq!(curl(&["-H", &auth, &format!("{pods}/nope")]), "404");
}

#[test]
fn exec_logs_follow_previous_and_watch_until_ready() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "ex.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ex}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    env: [{name: FOO, value: bar}]
    command: ['sh', '-c', 'echo run; trap "exit 0" TERM; while true; do sleep 0.1; done']
    readinessProbe:
      exec: {command: ['true']}
      periodSeconds: 1
  - name: crash
    image: busybox
    command: ['sh', '-c', 'echo attempt; sleep 0.3; exit 1']
"#,
    );
    s.ok(&["apply", "-f", &f]);
    // get -w prints rows as the pod changes; stop once a line shows app Ready.
    let mut w = Command::new(KUBECTL)
        .args(["get", "pod", "ex", "-w"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let out = std::io::BufReader::new(w.stdout.take().unwrap());
        let mut seen = Vec::new();
        for line in out.lines() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains("1/2") {
                break;
            }
        }
        assert!(seen.iter().any(|l| l.contains("1/2")), "{seen:?}");
    }
    let _ = w.kill();
    let _ = w.wait();
    let o = s.kubectl(&[
        "exec",
        "ex",
        "-c",
        "app",
        "--",
        "sh",
        "-c",
        "echo $FOO $(hostname); echo oops >&2; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "bar ex\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("oops"));
    s.wait_for("a previous instance of crash", |s| {
        s.kubectl(&["logs", "ex", "-c", "crash", "--previous"])
            .status
            .success()
    });
    assert_eq!(
        s.ok(&["logs", "ex", "-c", "crash", "--previous"]),
        "attempt\n"
    );
    // -f on a running container streams until it exits; here the pod is deleted meanwhile.
    let follow = Command::new(KUBECTL)
        .args(["logs", "-f", "ex", "-c", "app"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.ok(&["delete", "pod", "ex", "--grace-period=1", "--wait=false"]);
    let out = follow.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run\n");
}

#[test]
fn static_pods_follow_their_manifest_directory() {
    if !have_kubectl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let pod = |label: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: st, labels: {{v: {label}}}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {{name: c, image: busybox, command: ['sh', '-c', 'trap \"exit 0\" TERM; while true; do sleep 0.1; done']}}\n")
    };
    std::fs::write(manifests.join("st.yaml"), pod("one")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_podvisor"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--manifests")
        .arg(&manifests)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server { child, dir };
    s.wait_for("kubeconfig", |s| s.kubeconfig().exists());
    let node = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let name = format!("st-{node}");
    let label = |s: &Server| {
        s.kubectl(&[
            "get",
            "pod",
            &name,
            "-o",
            "go-template={{.metadata.labels.v}}",
        ])
    };
    s.wait_for("static pod v=one", |s| {
        String::from_utf8_lossy(&label(s).stdout) == "one"
    });
    let src = s.ok(&[
        "get",
        "pod",
        &name,
        "-o",
        "go-template={{index .metadata.annotations \"kubernetes.io/config.source\"}}",
    ]);
    assert_eq!(src, "file");
    std::fs::write(manifests.join("st.yaml"), pod("two")).unwrap();
    s.wait_for("static pod replaced by v=two", |s| {
        String::from_utf8_lossy(&label(s).stdout) == "two"
    });
    std::fs::remove_file(manifests.join("st.yaml")).unwrap();
    s.wait_for("static pod gone", |s| {
        !s.ok(&["get", "pods"]).contains(&name)
    });
}

/// Pids whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

#[test]
fn a_sigkilled_daemon_keeps_every_object_and_leaves_no_process() {
    let Some(mut s) = Server::start() else { return };
    let token = format!("{}", 5_000_000 + std::process::id());
    let f = s.file("keep.yaml", &format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: keep, labels: {{k: v}}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {{name: app, image: busybox, command: ['sleep', '{token}']}}\n"));
    s.ok(&["apply", "-f", &f]);
    s.wait_for("keep Running", |s| {
        s.ok(&["get", "pod", "keep"]).contains("Running")
    });
    let events_before = s.ok(&["get", "events", "--no-headers"]).lines().count();
    let old = processes_with(&format!("sleep {token}"));
    assert_eq!(old.len(), 1);
    s.crash_and_restart();
    // The container died with its monitor: nothing is orphaned.
    let gone = |pid: u32| !Path::new(&format!("/proc/{pid}")).exists();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !old.iter().all(|p| gone(*p)) {
        assert!(
            Instant::now() < deadline,
            "the old container {old:?} outlived the daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every object is back; the lost container is reported as the kubelet does and restarted.
    s.wait_for("keep restarted", |s| s.ok(&["get", "pod", "keep", "-o", "go-template={{range .status.containerStatuses}}{{.restartCount}} {{.lastState.terminated.reason}} {{if .state.running}}running{{end}}{{end}}"]) == "1 ContainerStatusUnknown running");
    assert_eq!(
        s.ok(&[
            "get",
            "pod",
            "keep",
            "-o",
            "go-template={{.metadata.labels.k}}"
        ]),
        "v"
    );
    assert!(s.ok(&["get", "events", "--no-headers"]).lines().count() >= events_before);
    assert!(s
        .ok(&["describe", "pod", "keep"])
        .contains("SandboxChanged"));
    assert_eq!(
        processes_with(&format!("sleep {token}")).len(),
        1,
        "exactly the restarted container runs"
    );
    s.ok(&["delete", "pod", "keep", "--grace-period=1"]);
    assert!(processes_with(&format!("sleep {token}")).is_empty());
}

#[test]
fn configmaps_and_secrets_feed_pods_and_survive_a_daemon_crash() {
    let Some(mut s) = Server::start() else { return };
    let f = s.file(
        "cfg.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {GREETING: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ['sh', '-c', 'echo "$GREETING $PASSWORD"; cat /etc/cfg/GREETING']
    envFrom: [{configMapRef: {name: cfg}}]
    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}]
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
  volumes: [{name: cfg, configMap: {name: cfg}}]
"#,
    );
    let out = s.ok(&["apply", "-f", &f]);
    assert!(
        out.contains("configmap/cfg created")
            && out.contains("secret/sec created")
            && out.contains("pod/user created"),
        "{out}"
    );
    s.wait_for("user Completed", |s| {
        s.ok(&["get", "pod", "user"]).contains("Completed")
    });
    assert_eq!(s.ok(&["logs", "user"]), "hello s3cret\nhello");
    assert!(s.ok(&["get", "configmaps"]).contains("cfg"));
    assert_eq!(
        s.ok(&[
            "get",
            "secret",
            "sec",
            "-o",
            "go-template={{.data.password}}"
        ]),
        "czNjcmV0"
    );
    s.crash_and_restart();
    assert_eq!(
        s.ok(&["get", "cm", "cfg", "-o", "go-template={{.data.GREETING}}"]),
        "hello"
    );
    assert!(s.ok(&["get", "pod", "user"]).contains("Completed"));
    s.ok(&["delete", "pod", "user"]);
    s.ok(&["delete", "configmap", "cfg"]);
    assert!(!s.ok(&["get", "configmaps"]).contains("cfg"));
}

#[test]
fn port_forward_carries_bytes_both_ways() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "echo.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: echo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: echo
    image: python
    command:
    - python3
    - -c
    - |
      import socket, threading
      s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind(("0.0.0.0", 7000)); s.listen()
      def serve(c):
          while True:
              d = c.recv(65536)
              if not d: break
              c.sendall(d.upper())
          c.close()
      while True:
          c, _ = s.accept(); threading.Thread(target=serve, args=(c,)).start()
    readinessProbe: {tcpSocket: {port: 7000}, periodSeconds: 1}
"#,
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("echo ready", |s| {
        s.ok(&["get", "pod", "echo"]).contains("1/1")
    });
    let mut pf = Command::new(KUBECTL)
        .args(["port-forward", "pod/echo", ":7000"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port: u16 = {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(pf.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Keep draining kubectl's stdout: a closed pipe would kill it at its next line.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        // "Forwarding from 127.0.0.1:41234 -> 7000"
        line.split(':')
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    use std::io::{Read, Write};
    for round in 0..2 {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let payload = format!("hello through the pod {round}\n").repeat(1000);
        c.write_all(payload.as_bytes()).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).unwrap();
        assert_eq!(back, payload.to_uppercase());
    }
    let _ = pf.kill();
    let _ = pf.wait();
}

#[test]
fn delete_waits_for_the_grace_period_and_force_gives_two_seconds() {
    let Some(s) = Server::start() else { return };
    // `sleep` as PID 1 ignores SIGTERM: the kill takes the whole grace period.
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 30\n  containers:\n  - {{name: c, image: busybox, command: [sleep, '600']}}\n")
    };
    let a = s.file("a.yaml", &pod("slow"));
    let b = s.file(
        "b.yaml",
        &pod("forced").replace("[sleep, '600']", "[sleep, '601.25']"),
    );
    s.ok(&["apply", "-f", &a]);
    s.ok(&["apply", "-f", &b]);
    s.wait_for("both Running", |s| {
        s.ok(&["get", "pods"]).matches("Running").count() == 2
    });
    let t = Instant::now();
    s.ok(&["delete", "pod", "slow", "--grace-period=3"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(8),
        "graceful delete took {took:?}"
    );
    // --force --grace-period=0: the object goes at once, as the apiserver removes it; the
    // kubelet still gives the processes 1 s + the 2 s stop-timeout floor.
    let t = Instant::now();
    let o = s.kubectl(&["delete", "pod", "forced", "--force", "--grace-period=0"]);
    assert!(o.status.success());
    assert!(
        !s.ok(&["get", "pods"]).contains("forced"),
        "the object is gone when kubectl returns"
    );
    assert!(
        t.elapsed() < Duration::from_millis(1900),
        "force delete waited for the processes: {:?}",
        t.elapsed()
    );
    assert!(!processes_with("601.25").is_empty(), "still being stopped");
    s.wait_for("forced's process gone", |_| {
        processes_with("601.25").is_empty()
    });
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "the forced pod's process lived {took:?}"
    );
}

#[test]
fn insecure_http_serves_loopback_without_a_token() {
    if !have_kubectl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_podvisor"))
        .args([
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server { child, dir };
    s.wait_for("kubeconfig", |s| s.kubeconfig().exists());
    let kc = std::fs::read_to_string(s.kubeconfig()).unwrap();
    assert!(
        kc.contains("server: http://127.0.0.1:") && !kc.contains("token:"),
        "{kc}"
    );
    assert!(s.ok(&["get", "pods"]).is_empty());
    let refused = Command::new(env!("CARGO_BIN_EXE_podvisor"))
        .args([
            "serve",
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
        ])
        .arg(s.dir.path().join("other"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only allowed on a loopback address"));
}

#[test]
fn namespaces_are_created_required_and_deleted() {
    let Some(s) = Server::start() else { return };
    let f = s.file("team.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, '600']}\n");
    let o = s.kubectl(&["apply", "-f", &f]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("namespaces \"team\" not found"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // `kubectl create namespace` sends protobuf (kubectl's generators do).
    assert_eq!(
        s.ok(&["create", "namespace", "scratch"]).trim(),
        "namespace/scratch created"
    );
    let ns = s.file(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
    );
    assert_eq!(s.ok(&["apply", "-f", &ns]).trim(), "namespace/team created");
    assert!(s.ok(&["get", "ns"]).contains("team"));
    s.ok(&["apply", "-f", &f]);
    assert!(s.ok(&["get", "pods", "-A"]).contains("team"));
    s.ok(&["delete", "namespace", "team", "--wait=false"]);
    s.wait_for("pod of the deleted namespace gone", |s| {
        !s.ok(&["get", "pods", "-A"]).contains("team")
    });
    let o = s.kubectl(&["delete", "namespace", "default"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Forbidden"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn get_events_watch_shows_events_as_they_happen() {
    let Some(s) = Server::start() else { return };
    let mut w = Command::new(KUBECTL)
        .args(["get", "events", "-w"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let f = s.file("ev.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: ev}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, '600']}\n");
    s.ok(&["apply", "-f", &f]);
    use std::io::BufRead;
    let out = std::io::BufReader::new(w.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        let done = line.contains("Started");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = w.kill();
    let _ = w.wait();
    assert!(
        seen.iter()
            .any(|l| l.contains("Scheduled") && l.contains("pod/ev")),
        "{seen:?}"
    );
}

#[test]
fn the_cluster_commands_a_new_user_tries_first_answer_as_on_a_cluster() {
    let Some(s) = Server::start() else { return };
    // One Node, ready, with this machine's capacity and its lease.
    let nodes = s.ok(&["get", "nodes"]);
    assert!(
        nodes.contains("Ready") && nodes.contains("v1.32.4"),
        "{nodes}"
    );
    let wide = s.ok(&["get", "nodes", "-o", "wide"]);
    assert!(
        wide.contains("INTERNAL-IP") && wide.contains("127.0.0.1"),
        "{wide}"
    );
    let describe = s.ok(&["describe", "node"]);
    for want in ["KubeletReady", "Capacity:", "pods:", "HolderIdentity:"] {
        assert!(
            describe.contains(want),
            "describe node lacks {want}:\n{describe}"
        );
    }
    // A single-user cluster: every right.
    assert_eq!(s.ok(&["auth", "can-i", "delete", "pods"]).trim(), "yes");
    assert!(s.ok(&["auth", "can-i", "--list"]).contains("*.*"));
    assert!(s.ok(&["auth", "whoami"]).contains("podvisor-admin"));
    for path in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(s.ok(&["get", "--raw", path]), "ok");
    }
    // Generators send protobuf bodies.
    s.ok(&["create", "namespace", "team-a"]);
    s.ok(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=mode=fast",
        "-n",
        "team-a",
    ]);
    s.ok(&[
        "create",
        "secret",
        "generic",
        "sec",
        "--from-literal=k=v",
        "-n",
        "team-a",
    ]);
    let cm = s.ok(&[
        "get",
        "cm",
        "cfg",
        "-n",
        "team-a",
        "-o",
        "jsonpath={.data.mode}",
    ]);
    assert_eq!(cm, "fast");
    let sec = s.ok(&[
        "get",
        "secret",
        "sec",
        "-n",
        "team-a",
        "-o",
        "jsonpath={.type} {.data.k}",
    ]);
    assert_eq!(sec, "Opaque dg==");
}

#[test]
fn label_selectors_use_the_whole_grammar_and_a_bad_one_is_an_error() {
    let Some(s) = Server::start() else { return };
    let pod = |name: &str, labels: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {labels}}}\nspec:\n  containers:\n  - {{name: c, image: busybox, command: [sleep, '600']}}\n")
    };
    let all = [
        pod("a", "{app: web, tier: front}"),
        pod("b", "{app: db}"),
        pod("c", "{app: cache, legacy: 'yes'}"),
    ]
    .join("---\n");
    let f = s.file("pods.yaml", &all);
    s.ok(&["apply", "-f", &f]);
    let names = |sel: &str| {
        let mut v: Vec<String> = s
            .ok(&[
                "get",
                "pods",
                "-l",
                sel,
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(names("app in (web,db)"), "a,b");
    assert_eq!(names("app notin (web,db)"), "c");
    assert_eq!(names("!legacy"), "a,b");
    assert_eq!(names("legacy"), "c");
    assert_eq!(names("app!=db,tier"), "a");
    let bad = s.kubectl(&["get", "pods", "-l", "app in (web"]);
    assert!(
        !bad.status.success(),
        "a selector that does not parse is an error"
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("unable to parse requirement"), "{err}");
    s.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
}

#[test]
fn watching_events_prints_each_existing_event_once() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "p.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ev}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, command: ['true']}\n",
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("ev done", |s| s.ok(&["get", "pods"]).contains("Completed"));
    let list = s.ok(&["get", "events"]);
    let started = list.matches("Started").count();
    assert!(started >= 1, "{list}");
    let out = s.ok(&["get", "events", "-w", "--request-timeout=2s"]);
    assert_eq!(out.matches("Started").count(), started, "{out}");
}

#[test]
fn replace_updates_every_kind_and_set_image_says_why_it_cannot() {
    let Some(s) = Server::start() else { return };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: r, labels: {v: '1'}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: busybox, command: [sleep, '600']}\n";
    let f = s.file("r.yaml", pod);
    s.ok(&["apply", "-f", &f]);
    // The same spec with a new label: replaced (PUT), the spec defaulted as on create.
    let g = s.file("r2.yaml", &pod.replace("v: '1'", "v: '2'"));
    assert_eq!(s.ok(&["replace", "-f", &g]).trim(), "pod/r replaced");
    assert_eq!(
        s.ok(&["get", "pod", "r", "-o", "jsonpath={.metadata.labels.v}"]),
        "2"
    );
    // A changed image: one clear sentence.
    let o = s.kubectl(&["set", "image", "pod/r", "c=nginx"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("cannot change a running pod's image")
            && !err.contains("may not change fields other than"),
        "{err}"
    );
    // ConfigMaps, Secrets and Namespaces are replaced too.
    let cm = s.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n",
    );
    s.ok(&["apply", "-f", &cm]);
    let cm2 = s.file(
        "cm2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '2'}\n",
    );
    assert_eq!(
        s.ok(&["replace", "-f", &cm2]).trim(),
        "configmap/c replaced"
    );
    assert_eq!(s.ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"]), "2");
    let ns = s.file(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: rn}\n",
    );
    s.ok(&["apply", "-f", &ns]);
    let ns2 = s.file(
        "ns2.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: rn, labels: {team: x}}\n",
    );
    assert_eq!(
        s.ok(&["replace", "-f", &ns2]).trim(),
        "namespace/rn replaced"
    );
    // A stale resourceVersion is a conflict.
    let stale = s.file(
        "stale.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, resourceVersion: '1'}\ndata: {a: '3'}\n",
    );
    let o = s.kubectl(&["replace", "-f", &stale]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("Conflict"), "{err}");
    assert!(err.contains("the object has been modified"), "{err}");
    s.ok(&["delete", "pod", "r", "--grace-period=0", "--force"]);
}

/// kubectl on a pseudo-terminal opened by the test (kubectl allocates a remote tty only when
/// its own stdin is a terminal, and takes the first size from its stdout's window size).
struct OnTerminal {
    child: Child,
    master: std::fs::File,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    /// Output before this offset has been matched already.
    seen: usize,
    /// The slave's path, to resize it.
    slave: PathBuf,
}

impl Server {
    fn kubectl_on_terminal(&self, args: &[&str], rows: u16, cols: u16) -> OnTerminal {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).unwrap();
        let slave_path = {
            use std::os::fd::AsRawFd;
            std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap()
        };
        let child = {
            let slave = |pty: &nix::pty::OpenptyResult| Stdio::from(pty.slave.try_clone().unwrap());
            let mut cmd = Command::new(KUBECTL);
            cmd.args(args)
                .env("KUBECONFIG", self.kubeconfig())
                .env("HOME", self.dir.path())
                .env("KUBECACHEDIR", self.dir.path().join("cache"))
                .stdin(slave(&pty))
                .stdout(slave(&pty))
                .stderr(slave(&pty));
            // Its own process group, to signal kubectl (and the version dispatcher before it).
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            cmd.spawn().unwrap()
            // The command and its copies of the slave are dropped here: once kubectl exits,
            // reading the master ends.
        };
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), output.clone());
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            // EIO once every slave descriptor is closed.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnTerminal {
            child,
            master,
            output,
            seen: 0,
            slave: slave_path,
        }
    }
}

impl OnTerminal {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until `needle` appears in output not matched before.
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = {
                let out = self.output.lock().unwrap();
                String::from_utf8_lossy(&out[self.seen.min(out.len())..])
                    .find(needle)
                    .map(|at| self.seen + at + needle.len())
            };
            if let Some(end) = found {
                self.seen = end;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {needle:?}; terminal: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets the terminal's window size and tells kubectl, as a terminal emulator does.
    fn resize(&self, rows: u16, cols: u16) {
        let st = Command::new("stty")
            .arg("-F")
            .arg(&self.slave)
            .args(["rows", &rows.to_string(), "cols", &cols.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGWINCH,
        )
        .unwrap();
    }

    /// Types on the terminal (a line ends with a carriage return, as Enter sends it).
    fn type_text(&mut self, text: &str) {
        use std::io::Write;
        self.master.write_all(text.as_bytes()).unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl never exited; terminal: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SHELL_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']
"#;

#[test]
fn exec_with_a_terminal_gives_a_prompt_runs_lines_and_exits_with_the_shells_code() {
    let Some(s) = Server::start() else { return };
    let f = s.file("shell.yaml", SHELL_POD);
    s.ok(&["apply", "-f", &f]);
    s.wait_for("shell Running", |s| {
        s.ok(&["get", "pod", "shell"]).contains("Running")
    });
    let mut t = s.kubectl_on_terminal(&["exec", "-i", "-t", "shell", "--", "sh"], 37, 123);
    // An interactive shell on a terminal prompts (root's prompt is "# ").
    t.expect("# ");
    t.type_text("echo hi-$((1+1))\r");
    t.expect("hi-2");
    // The size of kubectl's terminal is the command's from the start.
    t.type_text("stty size; tty\r");
    t.expect("37 123");
    t.expect("/dev/pts/");
    // A resize of kubectl's terminal (SIGWINCH) reaches the command's.
    t.type_text(
        "until [ \"$(stty size)\" = '20 90' ]; do sleep 0.05; done; echo resized-$((4+4))\r",
    );
    t.resize(20, 90);
    t.expect("resized-8");
    t.type_text("exit 3\r");
    let status = t.wait();
    assert_eq!(status.code(), Some(3), "terminal: {:?}", t.text());
    t.expect("command terminated with exit code 3");
}

#[test]
fn attach_streams_what_the_container_prints_after_attaching() {
    let Some(s) = Server::start() else { return };
    let stop = s.dir.path().join("stop-ticking");
    let f = s.file(
        "tick.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: tick}}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'i=0; until [ -e {stop} ]; do i=$((i+1)); echo tick-$i; sleep 0.1; done; echo done']
"#,
            stop = stop.display()
        ),
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("three ticks in the log", |s| {
        String::from_utf8_lossy(&s.kubectl(&["logs", "tick"]).stdout).contains("tick-3\n")
    });
    let logged = s.ok(&["logs", "tick"]);
    let last_logged: u32 = logged
        .lines()
        .filter_map(|l| l.strip_prefix("tick-")?.parse().ok())
        .max()
        .unwrap();
    let mut attach = Command::new(KUBECTL)
        .args(["attach", "-i", "tick"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(attach.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let n: u32 = first
        .strip_prefix("tick-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a tick: {first:?}"));
    // Output from the moment of attaching, not the log's history.
    assert!(
        n > last_logged,
        "attach replayed tick-{n} (log had tick-{last_logged})"
    );
    let second = lines.next().unwrap().unwrap();
    assert_eq!(second, format!("tick-{}", n + 1));
    // The session ends when the container exits, with its last words.
    std::fs::write(&stop, "").unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.last().map(String::as_str), Some("done"), "{rest:?}");
    let out = attach.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("If you don't see a command prompt"));
}

#[test]
fn attach_with_stdin_feeds_a_container_started_with_stdin_until_the_input_ends() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "echo.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: echo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    stdin: true
    command: ['sh', '-c', 'while read l; do echo got-$l; done']
"#,
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("echo Running", |s| {
        s.ok(&["get", "pod", "echo"]).contains("Running")
    });
    let mut attach = Command::new(KUBECTL)
        .args(["attach", "-i", "echo"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{BufRead, Write};
    let mut stdin = attach.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(attach.stdout.take().unwrap()).lines();
    stdin.write_all(b"hello\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "got-hello");
    // The client's stdin ending ends the attach (the container's stdin stays open).
    drop(stdin);
    let out = attach.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.ok(&["get", "pod", "echo"]).contains("Running"));
    assert_eq!(s.ok(&["logs", "echo"]), "got-hello\n");
}

#[test]
fn top_shows_the_cpu_and_memory_of_each_container_and_of_the_node() {
    let Some(s) = Server::start() else { return };
    let f = s.file(
        "busy.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: busy}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: spin, image: busybox, command: ['sh', '-c', 'while :; do :; done']}\n  - {name: idle, image: busybox, command: [sleep, '600']}\n",
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("busy running", |s| {
        s.ok(&["get", "pods"]).contains("Running")
    });
    let top = s.ok(&["top", "pod", "busy", "--containers"]);
    let millicores = |name: &str| -> u64 {
        top.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|c| c.trim_end_matches('m').parse().ok())
            .unwrap_or_else(|| panic!("no {name} row:\n{top}"))
    };
    // A busy loop uses most of a core; `sleep` none (generous bounds: the machine is shared).
    assert!(millicores("spin") >= 300, "{top}");
    assert!(millicores("idle") <= 100, "{top}");
    assert!(top.contains("Mi"), "{top}");
    let node = s.ok(&["top", "node"]);
    assert!(
        node.contains("CPU(%)") && node.contains("MEMORY(%)"),
        "{node}"
    );
    s.ok(&["delete", "pod", "busy", "--grace-period=0", "--force"]);
}

#[test]
fn explain_reads_the_schemas_of_the_served_kinds() {
    let Some(s) = Server::start() else { return };
    let out = s.ok(&["explain", "pod.spec.containers.lifecycle.preStop"]);
    assert!(out.contains("FIELD: preStop <LifecycleHandler>"), "{out}");
    assert!(out.contains("termination grace period"), "{out}");
    assert!(out.contains("sleep\t<SleepAction>"), "{out}");
    let out = s.ok(&["explain", "configmap.data"]);
    assert!(out.contains("KIND:       ConfigMap"), "{out}");
    // Server-side validation still decides apply (the patch operations advertise it).
    let f = s.file(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: strict}\nspec:\n  containers:\n  - {name: c, image: busybox, command: ['true'], comand: ['x']}\n",
    );
    let o = s.kubectl(&["apply", "-f", &f]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("comand"), "{err}");
}

#[test]
fn logs_show_timestamps_tail_since_limit_and_follow_from_the_cri_log() {
    use std::io::BufRead;
    let Some(s) = Server::start() else { return };
    let go = s.dir.path().join("go");
    let f = s.file(
        "chatty.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: chatty}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; trap "exit 0" TERM; while [ ! -e {go} ]; do sleep 0.05; done; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done']
"#,
            go = go.display()
        ),
    );
    s.ok(&["apply", "-f", &f]);
    s.wait_for("chatty's three lines", |s| {
        String::from_utf8_lossy(&s.kubectl(&["logs", "chatty"]).stdout) == "one\ntwo\nthree\n"
    });
    // --timestamps: the kubelet's RFC3339NanoFixed prefix on every line.
    let stamped = s.ok(&["logs", "chatty", "--timestamps"]);
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 3, "{stamped}");
    for (line, word) in lines.iter().zip(["one", "two", "three"]) {
        let (ts, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, word, "{stamped}");
        assert_eq!(ts.len(), "2024-01-01T12:00:00.000000000Z".len(), "{line}");
        assert!(ts.ends_with('Z'), "{line}");
        let t: jiff::Timestamp = ts.parse().unwrap();
        let age = jiff::Timestamp::now().duration_since(t);
        assert!(
            age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(60),
            "{line}"
        );
    }
    assert_eq!(s.ok(&["logs", "chatty", "--tail=2"]), "two\nthree\n");
    assert_eq!(s.ok(&["logs", "chatty", "--since=1h"]), "one\ntwo\nthree\n");
    assert_eq!(
        s.ok(&["logs", "chatty", "--since-time=2099-01-01T00:00:00Z"]),
        ""
    );
    assert_eq!(s.ok(&["logs", "chatty", "--limit-bytes=6"]), "one\ntw");
    // -f streams what comes next, then ends when the container does.
    let mut follow = Command::new(KUBECTL)
        .args(["logs", "-f", "chatty", "--tail=1"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .env("KUBECACHEDIR", s.dir.path().join("cache"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "three");
    std::fs::write(&go, "").unwrap();
    for i in 1..=3 {
        assert_eq!(lines.next().unwrap().unwrap(), format!("tick-{i}"));
    }
    s.ok(&[
        "delete",
        "pod",
        "chatty",
        "--grace-period=1",
        "--wait=false",
    ]);
    for line in lines {
        assert!(line.unwrap().starts_with("tick-"));
    }
    assert!(follow.wait().unwrap().success());
}
