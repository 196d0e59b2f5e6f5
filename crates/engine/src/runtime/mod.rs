//! The container runtime seam: what the engine asks of "containerd + runc" (CRI's
//! RunPodSandbox / CreateContainer / StartContainer / StopContainer / ExecSync), sized for grace
//! semantics: signals are chosen by the caller, SIGKILL is a separate call, exits are awaited.
//!
//! # Caveats
//! * Signals go to the container's main process only (its PID 1 when it has a PID namespace),
//!   exactly as containerd's StopContainer does; the runtime does not forward them to children.
//! * When the main process of a container with its own PID namespace dies, the kernel kills
//!   every other process in it. Without namespaces (the loud fallback) the runtime kills the
//!   instance's process group when its main process exits, so nothing outlives it either.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use podvisor_lifecycle::plan::PodKey;
use podvisor_lifecycle::signal::Signal;

pub mod fake;
pub mod process;

/// Opaque id of a pod sandbox, unique for the runtime's lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SandboxId(pub String);

/// Opaque id of a container instance, unique for the runtime's lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(pub String);

/// What a sandbox needs: the pod's shared namespaces (network, UTS, IPC) and identity.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// The pod.
    pub pod: PodKey,
    /// `metadata.uid`.
    pub uid: String,
    /// Hostname set in the pod's UTS namespace.
    pub hostname: String,
    /// The pod's directory on the host (volumes, logs, termination-message files live below).
    pub pod_dir: PathBuf,
    /// `spec.shareProcessNamespace`: one PID namespace for every container of the pod.
    pub share_process_namespace: bool,
}

/// A created sandbox.
#[derive(Debug, Clone)]
pub struct SandboxInfo {
    /// Id to pass back.
    pub id: SandboxId,
    /// The pod IP (an address of the pod's own network namespace).
    pub pod_ip: String,
}

/// A bind mount into the container's mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Host path (file or directory) to bind.
    pub source: PathBuf,
    /// Absolute path inside the container; created (as a file or directory, matching the
    /// source) when missing.
    pub target: PathBuf,
    /// Mount read-only.
    pub read_only: bool,
}

/// A container instance to create and start.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// The pod.
    pub pod: PodKey,
    /// Container name.
    pub name: String,
    /// Restart count of this instance (names its log file).
    pub restart_count: i32,
    /// Full argv (`command` + `args`, already `$(VAR)`-expanded); never empty.
    pub argv: Vec<String>,
    /// Environment, in order; later duplicates win. Does not include HOSTNAME (the runtime adds
    /// it first, from the sandbox hostname, as containerd does).
    pub env: Vec<(String, String)>,
    /// Working directory inside the container ("" = `/`).
    pub working_dir: String,
    /// Bind mounts, in order (volumes, then the termination-message file).
    pub mounts: Vec<Mount>,
    /// File receiving the instance's stdout and stderr (created, appended).
    pub log_path: PathBuf,
    /// `stdin: true`: the main process reads a stdin that stays open for its whole life and
    /// that [`Runtime::attach_stdin`] writes to; otherwise its stdin is `/dev/null`.
    pub stdin: bool,
    /// `lifecycle.stopSignal` (for information; the caller sends signals explicitly).
    pub stop_signal: Signal,
}

/// A started container instance.
#[derive(Debug, Clone)]
pub struct StartedContainer {
    /// Id to pass back.
    pub id: ContainerId,
    /// Host PID of the container's main process (PID 1 in its namespace).
    pub pid: u32,
}

/// How a container's main process ended, as containerd reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code; 128 + signal number when killed by a signal.
    pub exit_code: i32,
    /// The signal that killed it.
    pub signal: Option<i32>,
}

/// Output of `exec_sync`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// Exit code of the command (128 + signal when killed).
    pub exit_code: i32,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
}

/// A terminal's size in character cells, as `kubectl exec -t` sends it on the resize channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

pub use process::pty::Terminal;

/// A command inside a container with a pseudo-terminal as its controlling terminal and its
/// stdin, stdout and stderr (`kubectl exec -t`). The terminal exists before the command runs:
/// set its first size, then [`TtyExec::start`] it (runc's exec takes `consoleSize` the same way).
#[derive(Debug)]
pub struct TtyExec {
    /// The exec monitor; it exits with the command's exit code. Killed when dropped.
    pub child: tokio::process::Child,
    /// The pty master: the command's output (stderr merged) and input.
    pub terminal: Terminal,
    go: Option<std::os::unix::net::UnixStream>,
}

impl TtyExec {
    pub(crate) fn new(
        child: tokio::process::Child,
        terminal: Terminal,
        go: std::os::unix::net::UnixStream,
    ) -> Self {
        TtyExec {
            child,
            terminal,
            go: Some(go),
        }
    }

    /// Lets the command run (once; later calls do nothing).
    pub fn start(&mut self) -> io::Result<()> {
        use std::io::Write;
        match self.go.take() {
            Some(mut go) => go.write_all(b"g"),
            None => Ok(()),
        }
    }
}

/// Why the runtime could not do what was asked. A workload that crashes is not an error: it is
/// an exit status.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The sandbox could not be created.
    #[error("create sandbox for pod {pod}")]
    CreateSandbox {
        /// The pod.
        pod: PodKey,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The container could not be created (namespaces, mounts, log file).
    #[error("create container {container} of pod {pod}")]
    CreateContainer {
        /// The pod.
        pod: PodKey,
        /// The container.
        container: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The entrypoint could not be executed (the CRI `StartError`, exit 128).
    #[error("start container {container} of pod {pod}: exec {program:?}")]
    StartContainer {
        /// The pod.
        pod: PodKey,
        /// The container.
        container: String,
        /// `argv[0]`.
        program: String,
        /// Cause (e.g. ENOENT).
        #[source]
        source: io::Error,
    },
    /// No such container (already removed, or never created).
    #[error("container {0:?} not found")]
    ContainerNotFound(ContainerId),
    /// The container was started without `stdin: true`.
    #[error("container {0:?} has no stdin")]
    NoStdin(ContainerId),
    /// Its stdin could not be opened for writing.
    #[error("open the stdin of container {container:?}")]
    AttachStdin {
        /// The container.
        container: ContainerId,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// No such sandbox.
    #[error("sandbox {0:?} not found")]
    SandboxNotFound(SandboxId),
    /// A signal could not be delivered.
    #[error("send {signal} to pid {pid}")]
    Signal {
        /// Host pid.
        pid: u32,
        /// The signal.
        signal: Signal,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// An exec into a container failed to run at all (not: the command failed).
    #[error("exec {argv:?} in container {container:?}")]
    Exec {
        /// The container.
        container: ContainerId,
        /// The command.
        argv: Vec<String>,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The exec did not finish within its timeout (it is killed).
    #[error("command {argv:?} timed out after {timeout:?}")]
    ExecTimeout {
        /// The command.
        argv: Vec<String>,
        /// The timeout.
        timeout: Duration,
    },
    /// A TCP connection from inside the pod's network namespace could not be made.
    #[error("connect to {addr} from the network namespace of sandbox {sandbox:?}")]
    Connect {
        /// The sandbox.
        sandbox: SandboxId,
        /// Target.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// The container runtime. Implementations: [`process::LinuxRuntime`] (real processes in Linux
/// namespaces) and the scripted `FakeRuntime` used by engine tests.
pub trait Runtime: Send + Sync + 'static {
    /// Create the pod's sandbox (RunPodSandbox): network, UTS and IPC namespaces and the pod IP.
    fn create_sandbox(
        &self,
        spec: &SandboxSpec,
    ) -> impl Future<Output = Result<SandboxInfo, RuntimeError>> + Send;

    /// Tear the sandbox down (StopPodSandbox + RemovePodSandbox). Every container of the pod has
    /// already exited; any straggler process is killed.
    fn remove_sandbox(
        &self,
        id: &SandboxId,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;

    /// Create and start a container instance in the sandbox (CreateContainer + StartContainer).
    /// Returns once the entrypoint has been exec'd (or failed to be).
    fn start_container(
        &self,
        sandbox: &SandboxId,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<StartedContainer, RuntimeError>> + Send;

    /// Resolves when the container's main process has exited (and every process of the
    /// instance is gone). May be called more than once and from several tasks.
    fn wait(
        &self,
        id: &ContainerId,
    ) -> impl Future<Output = Result<ExitStatus, RuntimeError>> + Send;

    /// Send a signal (by name: `SIGTERM`, `SIGKILL`, `SIGUSR1`, ...) to the main process.
    /// Sending to an exited container is not an error.
    fn signal(&self, id: &ContainerId, signal: Signal) -> Result<(), RuntimeError>;

    /// Run a command inside the container's namespaces and environment (CRI ExecSync). `None`
    /// timeout = run until it exits (hooks); on timeout the command is killed.
    fn exec_sync(
        &self,
        id: &ContainerId,
        argv: &[String],
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<ExecOutput, RuntimeError>> + Send;

    /// A command that runs `argv` inside the container's namespaces and environment, for
    /// interactive use (`kubectl exec`): the caller chooses its stdio and spawns it; its exit
    /// code is the command's.
    fn exec_command(
        &self,
        id: &ContainerId,
        argv: &[String],
    ) -> Result<tokio::process::Command, RuntimeError>;

    /// Prepare `argv` inside the container's namespaces and environment with a new
    /// pseudo-terminal (allocated in the container's own devpts) as its controlling terminal,
    /// stdin, stdout and stderr. Resolves once the terminal exists; the command runs after
    /// [`TtyExec::start`]; its exit code is the monitor's.
    fn exec_tty(
        &self,
        id: &ContainerId,
        argv: &[String],
    ) -> impl Future<Output = Result<TtyExec, RuntimeError>> + Send;

    /// A writer to the stdin of a container started with `stdin: true` (CRI Attach's stdin
    /// stream); several may be open at once, and closing one does not close the stdin.
    fn attach_stdin(
        &self,
        id: &ContainerId,
    ) -> Result<tokio::net::unix::pipe::Sender, RuntimeError>;

    /// Open a TCP connection from inside the pod's network namespace (how probes and httpGet
    /// hooks reach the pod IP). The returned stream is registered with the tokio reactor.
    fn connect_tcp(
        &self,
        sandbox: &SandboxId,
        addr: SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = Result<tokio::net::TcpStream, RuntimeError>> + Send;
}
