//! The Linux runtime: pods in namespaces, each container instance under its own monitor
//! process ("shim", see [`shim`]). Mirrors containerd + runc as the kubelet drives them through
//! CRI: RunPodSandbox (a pause process holding the pod's network, UTS and IPC namespaces),
//! CreateContainer + StartContainer (mount and PID namespaces per container, the command as
//! PID 1), StopContainer's signals (to the main process only), ExecSync (setns into the
//! container), RemovePodSandbox.
//!
//! # Caveats
//! * Without root there are no namespaces (`Isolation::None`): containers are plain process
//!   groups sharing the host network and hostname, `sh` is not PID 1 so SIGTERM reaches it, and
//!   the monitor kills the instance's leftovers when its main process exits. `warnings()` says so.
//! * Pod IPs are loopback addresses (127.244.x.y): inside a pod's own network namespace all of
//!   127/8 is local, so a server bound to 0.0.0.0 answers on it and no traffic leaves the pod.
//! * The monitor dies with the supervisor when `die_with_parent` is set, taking its container
//!   with it (PR_SET_PDEATHSIG): `podvisor run` never leaves a process behind.

pub mod pty;
pub mod shim;
mod sys;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use podvisor_lifecycle::signal::Signal as StopSignal;
pub use shim::shim_main;
use shim::{ContainerConfig, Report, SetupFailure, SetupStep};

use super::{
    ContainerId, ContainerSpec, ExecOutput, ExitStatus, Runtime, RuntimeError, SandboxId,
    SandboxInfo, SandboxSpec, StartedContainer, TtyExec,
};

/// How containers are isolated on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Network/UTS/IPC per pod, mount/PID per container (root).
    Namespaces,
    /// Plain processes (no privileges for namespaces).
    None,
}

/// Configuration of the Linux runtime.
#[derive(Debug, Clone)]
pub struct LinuxRuntimeConfig {
    /// The program that runs the shim (`podvisor` itself).
    pub shim_program: PathBuf,
    /// Arguments before the shim's own (`["__shim"]`).
    pub shim_args: Vec<String>,
    /// Monitors (and so containers) die with the supervisor.
    pub die_with_parent: bool,
    /// Where container configs are written.
    pub state_dir: PathBuf,
}

struct SandboxEntry {
    child: Option<Child>,
    pid: i32,
    hostname: String,
    share_pid: bool,
}

struct ContainerEntry {
    sandbox: SandboxId,
    pid: i32,
    cwd: String,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// `stdin: true`: the FIFO its main process reads.
    stdin_fifo: Option<PathBuf>,
}

#[derive(Default)]
struct State {
    sandboxes: HashMap<SandboxId, SandboxEntry>,
    containers: HashMap<ContainerId, ContainerEntry>,
}

/// How container logs rotate (the kubelet's `containerLogMaxSize` / `containerLogMaxFiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    /// Rotate a container's log when it reaches this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// Files kept per container instance, the current one included (at least 2, as the
    /// kubelet requires).
    pub max_files: usize,
}

impl Default for LogRotation {
    /// The kubelet's defaults: 10Mi, 5 files.
    fn default() -> Self {
        LogRotation {
            max_size: Some(crate::logs::DEFAULT_MAX_SIZE),
            max_files: crate::logs::DEFAULT_MAX_FILES,
        }
    }
}

/// Real processes in Linux namespaces.
pub struct LinuxRuntime {
    config: LinuxRuntimeConfig,
    log_rotation: LogRotation,
    isolation: Isolation,
    state: Arc<Mutex<State>>,
    next: AtomicU32,
}

impl std::fmt::Debug for LinuxRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxRuntime")
            .field("isolation", &self.isolation)
            .finish()
    }
}

fn io_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl LinuxRuntime {
    /// A runtime; detects whether namespaces are available.
    pub fn new(config: LinuxRuntimeConfig) -> io::Result<Self> {
        std::fs::create_dir_all(&config.state_dir)?;
        let isolation = if nix::unistd::geteuid().is_root() {
            Isolation::Namespaces
        } else {
            Isolation::None
        };
        Ok(LinuxRuntime {
            config,
            log_rotation: LogRotation::default(),
            isolation,
            state: Arc::default(),
            next: AtomicU32::new(1),
        })
    }

    /// Container logs rotate this way instead of with the kubelet's defaults.
    pub fn with_log_rotation(mut self, rotation: LogRotation) -> Self {
        self.log_rotation = LogRotation {
            max_files: rotation.max_files.max(2),
            ..rotation
        };
        self
    }

    /// The isolation in use.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// What is lost compared with a real node, for a loud warning.
    pub fn warnings(&self) -> Vec<String> {
        match self.isolation {
            Isolation::Namespaces => Vec::new(),
            Isolation::None => vec![
                "not running as root: containers run as plain processes without namespaces".into(),
                "no PID namespace: a container's command is not PID 1, so `sh` receives SIGTERM and dies at once".into(),
                "no network or UTS namespace: pods share the host's network and hostname; pod IP is 127.0.0.1".into(),
                "no mount namespace: volumes are not mounted at their mountPath".into(),
            ],
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The exec monitor (`__shim <mode> <pid> <cwd> <ns> -- argv`) for a running container.
    fn exec_monitor(
        &self,
        mode: &str,
        id: &ContainerId,
        argv: &[String],
    ) -> Result<Command, RuntimeError> {
        let (pid, cwd) = {
            let st = self.lock();
            let c = st
                .containers
                .get(id)
                .ok_or_else(|| RuntimeError::ContainerNotFound(id.clone()))?;
            (c.pid, c.cwd.clone())
        };
        let ns = if self.isolation == Isolation::Namespaces {
            "1"
        } else {
            "0"
        };
        let mut cmd = self.shim();
        cmd.args([mode, &pid.to_string(), &cwd, ns, "--"])
            .args(argv);
        cmd.kill_on_drop(true);
        Ok(cmd)
    }

    fn shim(&self) -> Command {
        let mut c = Command::new(&self.config.shim_program);
        c.args(&self.config.shim_args);
        // Own process group: a terminal's Ctrl-C reaches podvisor, never the containers.
        c.process_group(0);
        c.stdin(Stdio::null());
        c
    }
}

async fn read_report(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Option<Report> {
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(r) = serde_json::from_str(&line) {
            return Some(r);
        }
    }
    None
}

impl Runtime for LinuxRuntime {
    async fn create_sandbox(&self, spec: &SandboxSpec) -> Result<SandboxInfo, RuntimeError> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = SandboxId(format!("{}-{}-{n}", spec.pod.namespace, spec.pod.name));
        let err = |source| RuntimeError::CreateSandbox {
            pod: spec.pod.clone(),
            source,
        };
        if self.isolation == Isolation::None {
            self.lock().sandboxes.insert(
                id.clone(),
                SandboxEntry {
                    child: None,
                    pid: 0,
                    hostname: spec.hostname.clone(),
                    share_pid: false,
                },
            );
            return Ok(SandboxInfo {
                id,
                pod_ip: "127.0.0.1".into(),
            });
        }
        let mut cmd = self.shim();
        let flag = |b: bool| if b { "1" } else { "0" };
        cmd.args([
            "sandbox",
            &spec.hostname,
            flag(self.config.die_with_parent),
            flag(spec.share_process_namespace),
        ]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(err)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| err(io::Error::other("no stdout")))?;
        let mut lines = BufReader::new(stdout).lines();
        let pid = match read_report(&mut lines).await {
            Some(Report::Ready { pid }) => pid,
            _ => {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr).await;
                }
                let _ = child.kill().await;
                return Err(err(io::Error::other(format!(
                    "sandbox monitor failed: {}",
                    stderr.trim()
                ))));
            }
        };
        // 127.244.<n / 250>.<n % 250 + 2>: unique per sandbox, local to the pod's namespace.
        let pod_ip = format!("127.244.{}.{}", (n / 250) % 256, n % 250 + 2);
        self.lock().sandboxes.insert(
            id.clone(),
            SandboxEntry {
                child: Some(child),
                pid,
                hostname: spec.hostname.clone(),
                share_pid: spec.share_process_namespace,
            },
        );
        Ok(SandboxInfo { id, pod_ip })
    }

    async fn remove_sandbox(&self, id: &SandboxId) -> Result<(), RuntimeError> {
        let entry = self.lock().sandboxes.remove(id);
        let Some(entry) = entry else {
            return Err(RuntimeError::SandboxNotFound(id.clone()));
        };
        // Stragglers first (StopPodSandbox), then forget the pod's containers.
        let containers: Vec<(ContainerId, i32, watch::Receiver<Option<ExitStatus>>)> = self
            .lock()
            .containers
            .iter()
            .filter(|(_, c)| c.sandbox == *id)
            .map(|(cid, c)| (cid.clone(), c.pid, c.exit.clone()))
            .collect();
        for (_, pid, exit) in &containers {
            let mut exit = exit.clone();
            let running = exit.borrow().is_none();
            if running && *pid > 0 {
                let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
                let _ = exit.wait_for(Option::is_some).await;
            }
        }
        {
            let mut st = self.lock();
            for (cid, _, _) in &containers {
                // The monitor removes its FIFO; not if it was killed.
                if let Some(fifo) = st.containers.remove(cid).and_then(|c| c.stdin_fifo) {
                    let _ = std::fs::remove_file(fifo);
                }
            }
        }
        if let Some(mut child) = entry.child {
            let _ = child.kill().await;
        }
        Ok(())
    }

    async fn start_container(
        &self,
        sandbox: &SandboxId,
        spec: &ContainerSpec,
    ) -> Result<StartedContainer, RuntimeError> {
        let create = |source| RuntimeError::CreateContainer {
            pod: spec.pod.clone(),
            container: spec.name.clone(),
            source,
        };
        let (sandbox_pid, hostname, share_pid) = {
            let st = self.lock();
            let s = st
                .sandboxes
                .get(sandbox)
                .ok_or_else(|| RuntimeError::SandboxNotFound(sandbox.clone()))?;
            (s.pid, s.hostname.clone(), s.share_pid)
        };
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = ContainerId(format!(
            "{}-{}-{}-{n}",
            spec.pod.name, spec.name, spec.restart_count
        ));
        let stdin_fifo = spec
            .stdin
            .then(|| self.config.state_dir.join(format!("{}.stdin", id.0)));
        let config = ContainerConfig {
            sandbox_pid,
            namespaces: self.isolation == Isolation::Namespaces,
            share_pid,
            die_with_parent: self.config.die_with_parent,
            hostname,
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            cwd: spec.working_dir.clone(),
            mounts: spec
                .mounts
                .iter()
                .map(|m| (m.source.clone(), m.target.clone(), m.read_only))
                .collect(),
            log_path: spec.log_path.clone(),
            log_max_size: self.log_rotation.max_size,
            log_max_files: self.log_rotation.max_files,
            stdin_fifo: stdin_fifo.clone(),
        };
        let config_path = self.config.state_dir.join(format!("{}.json", id.0));
        let json = serde_json::to_vec(&config).map_err(|e| create(io::Error::other(e)))?;
        std::fs::write(&config_path, json).map_err(create)?;
        let mut cmd = self.shim();
        cmd.arg("container").arg(&config_path);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(create)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| create(io::Error::other("no stdout")))?;
        let mut lines = BufReader::new(stdout).lines();
        let pid = match read_report(&mut lines).await {
            Some(Report::Started { pid }) => pid,
            Some(Report::StartFailed(SetupFailure { errno, step })) => {
                let _ = child.wait().await;
                let _ = std::fs::remove_file(&config_path);
                let source = io::Error::from_raw_os_error(errno);
                if step == SetupStep::Exec {
                    return Err(RuntimeError::StartContainer {
                        pod: spec.pod.clone(),
                        container: spec.name.clone(),
                        program: spec.argv.first().cloned().unwrap_or_default(),
                        source,
                    });
                }
                return Err(create(io::Error::new(
                    source.kind(),
                    format!("{step}: {source}"),
                )));
            }
            _ => {
                let _ = child.wait().await;
                return Err(create(io::Error::other(
                    "container monitor exited without a report",
                )));
            }
        };
        let _ = std::fs::remove_file(&config_path);
        let (tx, rx) = watch::channel(None);
        self.lock().containers.insert(
            id.clone(),
            ContainerEntry {
                sandbox: sandbox.clone(),
                pid,
                cwd: spec.working_dir.clone(),
                exit: rx,
                stdin_fifo,
            },
        );
        tokio::spawn(async move {
            let report = read_report(&mut lines).await;
            let _ = child.wait().await;
            let status = match report {
                Some(Report::Exited { code, signal }) => ExitStatus {
                    exit_code: code,
                    signal,
                },
                // The monitor died without a report (killed): the container died with it.
                _ => ExitStatus {
                    exit_code: 137,
                    signal: Some(9),
                },
            };
            let _ = tx.send(Some(status));
        });
        Ok(StartedContainer {
            id,
            pid: u32::try_from(pid).unwrap_or(0),
        })
    }

    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus, RuntimeError> {
        let mut rx = self
            .lock()
            .containers
            .get(id)
            .map(|c| c.exit.clone())
            .ok_or_else(|| RuntimeError::ContainerNotFound(id.clone()))?;
        let status = *rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::ContainerNotFound(id.clone()))?;
        Ok(status.unwrap_or(ExitStatus {
            exit_code: 137,
            signal: Some(9),
        }))
    }

    fn signal(&self, id: &ContainerId, signal: StopSignal) -> Result<(), RuntimeError> {
        let (pid, exited) = {
            let st = self.lock();
            match st.containers.get(id) {
                Some(c) => {
                    let exited = c.exit.borrow().is_some();
                    (c.pid, exited)
                }
                None => return Err(RuntimeError::ContainerNotFound(id.clone())),
            }
        };
        if exited || pid <= 0 {
            return Ok(());
        }
        match sys::kill(pid, signal.number()) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(RuntimeError::Signal {
                pid: u32::try_from(pid).unwrap_or(0),
                signal,
                source: io_err(e),
            }),
        }
    }

    async fn exec_sync(
        &self,
        id: &ContainerId,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, RuntimeError> {
        let exec_err = |source| RuntimeError::Exec {
            container: id.clone(),
            argv: argv.to_vec(),
            source,
        };
        let mut cmd = self.exec_command(id, argv)?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(exec_err)?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| exec_err(io::Error::other("no stdout")))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| exec_err(io::Error::other("no stderr")))?;
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let run = async {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (r1, r2, status) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            r1.map_err(exec_err)?;
            r2.map_err(exec_err)?;
            let status = status.map_err(exec_err)?;
            use std::os::unix::process::ExitStatusExt;
            let exit_code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(9));
            Ok(ExecOutput {
                exit_code,
                stdout: out,
                stderr: err,
            })
        };
        match timeout {
            None => run.await,
            Some(t) => match tokio::time::timeout(t, run).await {
                Ok(r) => r,
                Err(_) => {
                    if let Some(pg) = pgid {
                        let _ = nix::sys::signal::killpg(Pid::from_raw(pg), Signal::SIGKILL);
                    }
                    Err(RuntimeError::ExecTimeout {
                        argv: argv.to_vec(),
                        timeout: t,
                    })
                }
            },
        }
    }

    fn exec_command(&self, id: &ContainerId, argv: &[String]) -> Result<Command, RuntimeError> {
        self.exec_monitor("exec", id, argv)
    }

    fn attach_stdin(
        &self,
        id: &ContainerId,
    ) -> Result<tokio::net::unix::pipe::Sender, RuntimeError> {
        let fifo = {
            let st = self.lock();
            let c = st
                .containers
                .get(id)
                .ok_or_else(|| RuntimeError::ContainerNotFound(id.clone()))?;
            c.stdin_fifo
                .clone()
                .ok_or_else(|| RuntimeError::NoStdin(id.clone()))?
        };
        tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(&fifo)
            .map_err(|source| RuntimeError::AttachStdin {
                container: id.clone(),
                source,
            })
    }

    async fn exec_tty(&self, id: &ContainerId, argv: &[String]) -> Result<TtyExec, RuntimeError> {
        let exec_err = |source| RuntimeError::Exec {
            container: id.clone(),
            argv: argv.to_vec(),
            source,
        };
        // The console socket (runc's --console-socket): the monitor's stdin. It sends the pty
        // master it opened inside the container, then waits for one byte to run the command.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(exec_err)?;
        let mut cmd = self.exec_monitor("exec-tty", id, argv)?;
        cmd.stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(exec_err)?;
        // The command holds our copy of the monitor's end: drop it, so a monitor that fails
        // before sending the terminal ends the wait below.
        drop(cmd);
        let received = tokio::task::spawn_blocking(move || {
            let fd = sys::recv_fd(ours.as_fd())?;
            Ok::<_, io::Error>((fd, ours))
        })
        .await
        .map_err(|e| exec_err(io::Error::other(e)))?;
        let (master, go) = match received {
            Ok(r) => r,
            Err(e) => {
                let mut stderr = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut stderr).await;
                }
                let _ = child.wait().await;
                let stderr = stderr.trim();
                return Err(exec_err(if stderr.is_empty() {
                    e
                } else {
                    io::Error::other(stderr.to_string())
                }));
            }
        };
        let terminal = pty::Terminal::new(master).map_err(exec_err)?;
        Ok(TtyExec::new(child, terminal, go))
    }

    async fn connect_tcp(
        &self,
        sandbox: &SandboxId,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<tokio::net::TcpStream, RuntimeError> {
        let err = |source| RuntimeError::Connect {
            sandbox: sandbox.clone(),
            addr,
            source,
        };
        let pid = self
            .lock()
            .sandboxes
            .get(sandbox)
            .map(|s| s.pid)
            .ok_or_else(|| RuntimeError::SandboxNotFound(sandbox.clone()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // setns changes the calling thread for good: use a thread of our own, never a pool's.
        std::thread::spawn(move || {
            let result = (|| -> io::Result<std::net::TcpStream> {
                if pid > 0 {
                    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
                    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(io_err)?;
                }
                let s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
                s.set_nonblocking(true)?;
                Ok(s)
            })();
            let _ = tx.send(result);
        });
        let std_stream = rx
            .await
            .map_err(|_| err(io::Error::other("connect thread died")))?
            .map_err(err)?;
        tokio::net::TcpStream::from_std(std_stream).map_err(err)
    }
}
