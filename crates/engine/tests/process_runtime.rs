//! The Linux runtime with real processes: namespaces, PID 1 signal semantics, exec, mounts,
//! networking inside the pod, and that nothing outlives a container or a sandbox. Namespace
//! tests are skipped, saying why, when not running as root.

use std::path::{Path, PathBuf};
use std::time::Duration;

use podvisor_engine::logs::{self, Stream};
use podvisor_engine::runtime::process::{Isolation, LinuxRuntime, LinuxRuntimeConfig, LogRotation};
use podvisor_engine::runtime::{
    ContainerSpec, Mount, Runtime, RuntimeError, SandboxInfo, SandboxSpec, TerminalSize,
};
use podvisor_lifecycle::plan::PodKey;
use podvisor_lifecycle::signal::Signal;

fn runtime(dir: &Path) -> LinuxRuntime {
    LinuxRuntime::new(LinuxRuntimeConfig {
        shim_program: PathBuf::from(env!("CARGO_BIN_EXE_podvisor-shim")),
        shim_args: vec![],
        die_with_parent: true,
        state_dir: dir.join("runtime"),
    })
    .unwrap()
}

fn namespaces(rt: &LinuxRuntime) -> bool {
    if rt.isolation() != Isolation::Namespaces {
        eprintln!("skipped: not root, no namespaces");
        return false;
    }
    true
}

fn pod() -> PodKey {
    PodKey {
        namespace: "default".into(),
        name: "web".into(),
    }
}

async fn sandbox(rt: &LinuxRuntime, dir: &Path) -> SandboxInfo {
    rt.create_sandbox(&SandboxSpec {
        pod: pod(),
        uid: "uid".into(),
        hostname: "web-host".into(),
        pod_dir: dir.to_path_buf(),
        share_process_namespace: false,
    })
    .await
    .unwrap()
}

fn spec(dir: &Path, name: &str, script: &str) -> ContainerSpec {
    ContainerSpec {
        pod: pod(),
        name: name.into(),
        restart_count: 0,
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: vec![("GREETING".into(), "hi".into())],
        working_dir: String::new(),
        mounts: vec![],
        log_path: dir.join(format!("{name}.log")),
        stdin: false,
        stop_signal: Signal::SIGTERM,
    }
}

/// What a stream of a container wrote, from its CRI log file.
fn output(p: &Path, stream: Stream) -> String {
    let raw = std::fs::read(p).unwrap_or_default();
    String::from_utf8(logs::stream_content(&raw, stream)).unwrap()
}

/// What a container wrote to stdout.
fn stdout(p: &Path) -> String {
    output(p, Stream::Stdout)
}

async fn wait_for_file(p: &Path) -> String {
    for _ in 0..500 {
        if let Ok(s) = std::fs::read_to_string(p) {
            if !s.is_empty() {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never appeared", p.display());
}

#[tokio::test]
async fn exit_code_and_log_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(
            &sb.id,
            &spec(d.path(), "a", "echo $GREETING; echo err >&2; exit 3"),
        )
        .await
        .unwrap();
    let st = rt.wait(&c.id).await.unwrap();
    assert_eq!(st.exit_code, 3);
    assert_eq!(st.signal, None);
    let log = d.path().join("a.log");
    assert_eq!(stdout(&log), "hi\n");
    assert_eq!(output(&log, Stream::Stderr), "err\n");
    // Every line is a CRI record: `<RFC 3339 time> <stream> F <content>`.
    let raw = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert_eq!(lines.len(), 2, "{raw}");
    for (line, tail) in lines.iter().zip([" stdout F hi", " stderr F err"]) {
        let (ts, rest) = line.split_once(' ').unwrap();
        assert!(
            ts.parse::<jiff::Timestamp>().is_ok() && ts.ends_with('Z'),
            "{line}"
        );
        assert_eq!(format!(" {rest}"), tail, "{raw}");
    }
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn the_command_is_pid_1_and_the_hostname_is_the_pods() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(
            &sb.id,
            &spec(d.path(), "a", "echo $$ $HOSTNAME $(hostname)"),
        )
        .await
        .unwrap();
    rt.wait(&c.id).await.unwrap();
    assert_eq!(stdout(&d.path().join("a.log")), "1 web-host web-host\n");
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn sh_as_pid_1_ignores_sigterm_and_dies_at_sigkill() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", "sleep 600"))
        .await
        .unwrap();
    rt.signal(&c.id, Signal::SIGTERM).unwrap();
    let still = tokio::time::timeout(Duration::from_millis(300), rt.wait(&c.id)).await;
    assert!(still.is_err(), "sh exited on SIGTERM: {still:?}");
    rt.signal(&c.id, Signal::SIGKILL).unwrap();
    let st = rt.wait(&c.id).await.unwrap();
    assert_eq!((st.exit_code, st.signal), (137, Some(9)));
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn a_trap_handles_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let marker = d.path().join("ready");
    let script = format!(
        "trap 'exit 0' TERM; touch {}; while true; do sleep 0.05; done",
        marker.display()
    );
    let mut s = spec(d.path(), "a", &script);
    s.mounts.push(Mount {
        source: d.path().to_path_buf(),
        target: d.path().to_path_buf(),
        read_only: false,
    });
    let c = rt.start_container(&sb.id, &s).await.unwrap();
    for _ in 0..500 {
        if marker.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.signal(&c.id, Signal::SIGTERM).unwrap();
    let st = rt.wait(&c.id).await.unwrap();
    assert_eq!(st.exit_code, 0);
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn exec_runs_inside_the_container_and_times_out() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", "exec sleep 600"))
        .await
        .unwrap();
    let argv: Vec<String> = ["sh", "-c", "echo $GREETING; echo oops >&2; exit 4"]
        .map(String::from)
        .to_vec();
    let out = rt.exec_sync(&c.id, &argv, None).await.unwrap();
    assert_eq!(out.exit_code, 4);
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(out.stderr, b"oops\n");
    if rt.isolation() == Isolation::Namespaces {
        let argv: Vec<String> = ["hostname"].map(String::from).to_vec();
        let out = rt.exec_sync(&c.id, &argv, None).await.unwrap();
        assert_eq!(out.stdout, b"web-host\n");
    }
    let argv: Vec<String> = ["sleep", "5"].map(String::from).to_vec();
    let r = rt
        .exec_sync(&c.id, &argv, Some(Duration::from_millis(200)))
        .await;
    assert!(matches!(r, Err(RuntimeError::ExecTimeout { .. })), "{r:?}");
    rt.signal(&c.id, Signal::SIGKILL).unwrap();
    rt.wait(&c.id).await.unwrap();
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn a_missing_program_is_a_start_error() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let mut s = spec(d.path(), "a", "");
    s.argv = vec!["/no/such/program".into()];
    let r = rt.start_container(&sb.id, &s).await;
    assert!(
        matches!(r, Err(RuntimeError::StartContainer { .. })),
        "{r:?}"
    );
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn bind_mounts_are_mounted_and_read_only_is_enforced() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let vol = d.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("data"), "payload").unwrap();
    let file = d.path().join("termination");
    std::fs::write(&file, "").unwrap();
    // Mount points that exist on the host (podvisor runs the host's root filesystem as the
    // image): a directory and the termination-message file in the container's own /dev.
    let target = d.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let script = format!("cat {t}/data; echo x > {t}/y || echo read-only; echo bye > /dev/termination-log; ls /dev/null /dev/pts > /dev/null && echo dev-ok", t = target.display());
    let mut s = spec(d.path(), "a", &script);
    s.mounts = vec![
        Mount {
            source: vol.clone(),
            target: target.clone(),
            read_only: true,
        },
        Mount {
            source: file.clone(),
            target: "/dev/termination-log".into(),
            read_only: false,
        },
    ];
    let c = rt.start_container(&sb.id, &s).await.unwrap();
    rt.wait(&c.id).await.unwrap();
    let log = stdout(&d.path().join("a.log"));
    assert!(log.starts_with("payload"), "{log}");
    assert!(log.contains("read-only"), "{log}");
    assert!(!vol.join("y").exists());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "bye\n");
    assert!(log.contains("dev-ok"), "{log}");
    assert!(
        !Path::new("/dev/termination-log").exists(),
        "termination log leaked to the host's /dev"
    );
    assert!(
        !target.join("data").exists(),
        "bind mount leaked to the host"
    );
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn containers_of_a_pod_share_localhost_and_connect_tcp_reaches_the_pod_ip() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let mut server = spec(d.path(), "server", "");
    server.argv = ["python3", "-c", "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', 8080))\ns.listen()\nprint('listening', flush=True)\nwhile True:\n  c,_=s.accept()\n  c.sendall(b'hello')\n  c.close()"].map(String::from).to_vec();
    let srv = rt.start_container(&sb.id, &server).await.unwrap();
    wait_for_file(&d.path().join("server.log")).await;
    let client = rt
        .start_container(&sb.id, &spec(d.path(), "client", "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', 8080)); print(s.recv(5).decode())\""))
        .await
        .unwrap();
    assert_eq!(rt.wait(&client.id).await.unwrap().exit_code, 0);
    assert_eq!(stdout(&d.path().join("client.log")), "hello\n");
    // From the supervisor, through the pod's network namespace, on the pod IP.
    let addr = format!("{}:8080", sb.pod_ip).parse().unwrap();
    let mut s = rt
        .connect_tcp(&sb.id, addr, Duration::from_secs(2))
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
        .await
        .unwrap();
    assert_eq!(buf, b"hello");
    // The host cannot reach it: the pod has its own network.
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err());
    rt.signal(&srv.id, Signal::SIGKILL).unwrap();
    rt.wait(&srv.id).await.unwrap();
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn background_children_die_with_the_main_process() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let token = 4_000_000 + std::process::id();
    let c = rt
        .start_container(
            &sb.id,
            &spec(
                d.path(),
                "a",
                &format!("setsid sleep {token} & sleep {token} & echo started; sleep 0.2; exit 0"),
            ),
        )
        .await
        .unwrap();
    let st = rt.wait(&c.id).await.unwrap();
    assert_eq!(st.exit_code, 0);
    let left = count_processes(&format!("sleep {token}"));
    assert_eq!(left, 0, "{left} processes outlived their container");
    rt.remove_sandbox(&sb.id).await.unwrap();
}

fn count_processes(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test]
async fn removing_a_sandbox_kills_containers_still_running_and_forgets_them() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let token = 6_000_000 + std::process::id();
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", &format!("exec sleep {token}")))
        .await
        .unwrap();
    assert_eq!(count_processes(&format!("sleep {token}")), 1);
    rt.remove_sandbox(&sb.id).await.unwrap();
    assert_eq!(count_processes(&format!("sleep {token}")), 0);
    assert!(matches!(
        rt.signal(&c.id, Signal::SIGTERM),
        Err(RuntimeError::ContainerNotFound(_))
    ));
}

#[tokio::test]
async fn an_exec_whose_caller_goes_away_does_not_outlive_it() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", "exec sleep 600"))
        .await
        .unwrap();
    let token = 7_000_000 + std::process::id();
    let argv: Vec<String> = vec!["sleep".into(), token.to_string()];
    let mut cmd = rt.exec_command(&c.id, &argv).unwrap();
    let child = cmd.spawn().unwrap();
    let needle = format!("sleep {token}");
    // The needle matches both the exec monitor's command line and the command's.
    for _ in 0..500 {
        if count_processes(&needle) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(count_processes(&needle), 2);
    drop(child); // kill_on_drop: the exec monitor is killed ...
    let mut gone = false;
    for _ in 0..500 {
        // ... and the command inside the container with it (the needle also matches the
        // monitor's own command line, so wait for both).
        if count_processes(&needle) == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the exec'd command outlived its monitor");
    rt.signal(&c.id, Signal::SIGKILL).unwrap();
    rt.wait(&c.id).await.unwrap();
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn share_process_namespace_puts_the_pods_containers_in_one_pid_namespace() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = rt
        .create_sandbox(&SandboxSpec {
            pod: pod(),
            uid: "uid".into(),
            hostname: "shared".into(),
            pod_dir: d.path().to_path_buf(),
            share_process_namespace: true,
        })
        .await
        .unwrap();
    let token = 8_000_000 + std::process::id();
    let a = rt
        .start_container(&sb.id, &spec(d.path(), "a", &format!("exec sleep {token}")))
        .await
        .unwrap();
    // B sees A's process, and B's shell is not PID 1 (the pause process is).
    let b = rt
        .start_container(&sb.id, &spec(d.path(), "b", &format!("echo $$; for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done | grep -cx 'sleep {token} '")))
        .await
        .unwrap();
    rt.wait(&b.id).await.unwrap();
    let log = stdout(&d.path().join("b.log"));
    let mut lines = log.lines();
    assert_ne!(lines.next(), Some("1"), "{log}");
    assert_eq!(lines.next(), Some("1"), "{log}");
    // Not PID 1: SIGTERM reaches `sleep` and its default action ends it.
    rt.signal(&a.id, Signal::SIGTERM).unwrap();
    let st = rt.wait(&a.id).await.unwrap();
    assert_eq!(st.signal, Some(15));
    rt.remove_sandbox(&sb.id).await.unwrap();
}

/// Reads a terminal until it reports end of output (every slave closed), with a deadline.
async fn read_terminal(t: &podvisor_engine::runtime::Terminal) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match t.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the terminal never reached end of output");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn an_exec_with_a_tty_runs_on_a_pts_of_the_container_as_its_controlling_terminal() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", "exec sleep 600"))
        .await
        .unwrap();
    // `echo > /dev/tty` only works with a controlling terminal; `stty size` reads the size set
    // before the command started; stderr goes to the terminal too.
    let script = "tty; stty size; echo ctty > /dev/tty; echo $GREETING-err >&2; exit 3";
    let argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into()];
    let mut exec = rt.exec_tty(&c.id, &argv).await.unwrap();
    exec.terminal
        .resize(TerminalSize {
            width: 123,
            height: 37,
        })
        .unwrap();
    exec.start().unwrap();
    let out = read_terminal(&exec.terminal).await;
    let status = exec.child.wait().await.unwrap();
    assert_eq!(status.code(), Some(3), "{out}");
    // A terminal turns "\n" into "\r\n" (ONLCR): this output went through one.
    assert_eq!(
        out.replace("\r\n", "\n"),
        "/dev/pts/0\n37 123\nctty\nhi-err\n",
        "{out:?}"
    );
    rt.signal(&c.id, Signal::SIGKILL).unwrap();
    rt.wait(&c.id).await.unwrap();
    rt.remove_sandbox(&sb.id).await.unwrap();
}

/// Reads a terminal until `needle` has been seen, with a deadline.
async fn read_until(t: &podvisor_engine::runtime::Terminal, seen: &mut String, needle: &str) {
    let mut buf = [0u8; 4096];
    let read = async {
        while !seen.contains(needle) {
            let n = t.read(&mut buf).await.unwrap();
            assert!(n > 0, "end of output before {needle:?}: {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("never saw {needle:?}"));
}

#[tokio::test]
async fn a_tty_exec_reads_its_input_from_the_terminal_and_sees_resizes() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    if !namespaces(&rt) {
        return;
    }
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", "exec sleep 600"))
        .await
        .unwrap();
    let argv: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        "read line; echo got-$line; stty size; read again; stty size".into(),
    ];
    let mut exec = rt.exec_tty(&c.id, &argv).await.unwrap();
    exec.start().unwrap();
    // Input typed on a terminal ends with a carriage return; ICRNL makes it a newline.
    exec.terminal.write_all(b"abc\r").await.unwrap();
    let mut seen = String::new();
    read_until(&exec.terminal, &mut seen, "got-abc").await;
    read_until(&exec.terminal, &mut seen, "0 0").await;
    exec.terminal
        .resize(TerminalSize {
            width: 90,
            height: 20,
        })
        .unwrap();
    exec.terminal.write_all(b"\r").await.unwrap();
    read_until(&exec.terminal, &mut seen, "20 90").await;
    assert!(exec.child.wait().await.unwrap().success());
    rt.signal(&c.id, Signal::SIGKILL).unwrap();
    rt.wait(&c.id).await.unwrap();
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn a_container_started_with_stdin_reads_what_each_attach_writes() {
    use tokio::io::AsyncWriteExt;
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let mut s = spec(
        d.path(),
        "a",
        "while read l; do echo got-$l; done; echo eof",
    );
    s.stdin = true;
    let c = rt.start_container(&sb.id, &s).await.unwrap();
    // Each attach writes; one ending does not close the container's stdin.
    for word in ["one", "two"] {
        let mut w = rt.attach_stdin(&c.id).unwrap();
        w.write_all(format!("{word}\n").as_bytes()).await.unwrap();
    }
    let log = d.path().join("a.log");
    let mut text = String::new();
    for _ in 0..500 {
        text = stdout(&log);
        if text.contains("got-two") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(text, "got-one\ngot-two\n");
    let plain = rt
        .start_container(&sb.id, &spec(d.path(), "b", "exec sleep 600"))
        .await
        .unwrap();
    assert!(matches!(
        rt.attach_stdin(&plain.id),
        Err(RuntimeError::NoStdin(_))
    ));
    for id in [&c.id, &plain.id] {
        rt.signal(id, Signal::SIGKILL).unwrap();
        rt.wait(id).await.unwrap();
    }
    rt.remove_sandbox(&sb.id).await.unwrap();
    // The stdin FIFO went with the container.
    let left: Vec<_> = std::fs::read_dir(d.path().join("runtime"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_long_line_is_cut_into_partial_records_and_output_left_without_a_newline_is_partial() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    let c = rt
        .start_container(
            &sb.id,
            &spec(
                d.path(),
                "a",
                "head -c 40000 /dev/zero | tr '\\0' y; echo; printf 'no newline' >&2",
            ),
        )
        .await
        .unwrap();
    assert_eq!(rt.wait(&c.id).await.unwrap().exit_code, 0);
    let raw = std::fs::read(d.path().join("a.log")).unwrap();
    let records: Vec<(Stream, bool, usize)> = raw
        .split_inclusive(|b| *b == b'\n')
        .map(|l| {
            let r = logs::parse(l).expect("a CRI record");
            (r.stream, r.partial, r.content.len())
        })
        .collect();
    // containerd's 16 KiB line limit: two P pieces of 16384 bytes, then F with the rest and
    // its newline; the stderr text never ended with a newline: one P record.
    let mut stdout: Vec<_> = records
        .iter()
        .filter(|r| r.0 == Stream::Stdout)
        .copied()
        .collect();
    stdout.sort_by_key(|r| !r.1);
    assert_eq!(
        stdout,
        vec![
            (Stream::Stdout, true, 16384),
            (Stream::Stdout, true, 16384),
            (Stream::Stdout, false, 40000 - 2 * 16384 + 1),
        ],
        "{records:?}"
    );
    assert!(
        records.contains(&(Stream::Stderr, true, "no newline".len())),
        "{records:?}"
    );
    let log = d.path().join("a.log");
    assert_eq!(stdout_len(&log), 40001);
    assert_eq!(output(&log, Stream::Stderr), "no newline");
    rt.remove_sandbox(&sb.id).await.unwrap();
}

fn stdout_len(p: &Path) -> usize {
    stdout(p).len()
}

#[tokio::test]
async fn everything_written_before_the_exit_is_in_the_log_when_the_exit_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path());
    let sb = sandbox(&rt, d.path()).await;
    // Far more than a pipe holds (and less than the 10Mi rotation size with the records'
    // prefixes), written by a child of the main process, which exits right after.
    let c = rt
        .start_container(
            &sb.id,
            &spec(
                d.path(),
                "a",
                "yes 0123456789abcdef | head -n 100000; echo done >&2; exit 5",
            ),
        )
        .await
        .unwrap();
    let st = rt.wait(&c.id).await.unwrap();
    assert_eq!(st.exit_code, 5);
    let log = d.path().join("a.log");
    let out = stdout(&log);
    assert_eq!(out.len(), 100_000 * 17);
    assert!(out.lines().all(|l| l == "0123456789abcdef"));
    assert_eq!(output(&log, Stream::Stderr), "done\n");
    rt.remove_sandbox(&sb.id).await.unwrap();
}

#[tokio::test]
async fn a_log_past_its_maximum_size_is_rotated_and_only_max_files_are_kept() {
    let d = tempfile::tempdir().unwrap();
    let rt = runtime(d.path()).with_log_rotation(LogRotation {
        max_size: Some(64 * 1024),
        max_files: 3,
    });
    let sb = sandbox(&rt, d.path()).await;
    // Four bursts of ~100 KB a second apart (one rotation a second at most: the names carry
    // the second), then a last line.
    let line = "x".repeat(90);
    let script = format!(
        "for i in 1 2 3 4; do yes \"$i-{line}\" | head -n 1000; sleep 1.1; done; echo last"
    );
    let c = rt
        .start_container(&sb.id, &spec(d.path(), "a", &script))
        .await
        .unwrap();
    assert_eq!(rt.wait(&c.id).await.unwrap().exit_code, 0);
    let mut rotated: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("a.log."))
        .collect();
    rotated.sort();
    // The current file and max_files - 1 rotated ones, named `<log>.<YYYYMMDD-hhmmss>`.
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    for name in &rotated {
        let suffix = name.strip_prefix("a.log.").unwrap();
        assert!(
            suffix.len() == 15
                && suffix.as_bytes()[8] == b'-'
                && suffix.chars().filter(char::is_ascii_digit).count() == 14,
            "{name}"
        );
        let raw = std::fs::read(d.path().join(name)).unwrap();
        assert!(raw.len() as u64 >= 64 * 1024, "{name}: {} bytes", raw.len());
        assert!(
            raw.split_inclusive(|b| *b == b'\n')
                .all(|l| logs::parse(l).is_some()),
            "{name} holds a line that is not a CRI record"
        );
    }
    // The oldest burst is gone; the current file ends with the last line.
    let all: String = rotated
        .iter()
        .map(|n| stdout(&d.path().join(n)))
        .chain([stdout(&d.path().join("a.log"))])
        .collect();
    assert!(!all.contains("1-x"), "the oldest file was kept");
    assert!(stdout(&d.path().join("a.log")).ends_with("last\n"));
    rt.remove_sandbox(&sb.id).await.unwrap();
}
