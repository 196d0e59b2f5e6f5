//! The per-instance monitor ("shim", like conmon or containerd-shim): the same binary started
//! as `podvisor __shim <mode> ...` in a fresh, single-threaded process. Modes:
//! * `sandbox <hostname>`: the pause process. Unshares the pod's network, UTS and IPC
//!   namespaces, sets the hostname, brings `lo` up, says `ready`, and waits to be killed.
//! * `container <config.json>`: joins the sandbox's namespaces, unshares mount and PID
//!   namespaces, forks the container's main process (PID 1 in its namespace) with its mounts,
//!   environment, stdin (`/dev/null`, or for `stdin: true` a FIFO the monitor holds open for
//!   writing) and stdout/stderr on two pipes, reports `started`, then in one poll(2) loop
//!   (pipes + a signalfd for SIGCHLD, no timeout) writes the output to the log file in the
//!   CRI format ([`crate::logs`], as containerd's CRI logger) and reaps the main process and
//!   any orphan (it is a child subreaper); once all are reaped it drains the pipes and
//!   reports `exited`. It rotates the log itself when the file reaches its maximum size (the
//!   kubelet renames the file and asks the runtime to `ReopenContainerLog`; the monitor owns
//!   the file, so it does both).
//! * `exec <pid> <cwd> <ns> -- argv...`: runs a command inside a container's namespaces with
//!   its environment (CRI ExecSync), exiting with its code.
//! * `exec-tty <pid> <cwd> <ns> -- argv...`: the same with a pseudo-terminal opened inside the
//!   container, its master handed back over the console socket on stdin (CRI Exec with
//!   `tty`, runc's `--console-socket`).
//!
//! Mirrors runc's init + containerd-shim split. Reports are JSON lines on stdout.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execve, pipe2, ForkResult, Pid};
use serde::{Deserialize, Serialize};

use super::sys;

/// What the runtime hands a container shim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Pid of the sandbox (pause) process whose namespaces to join; 0 = none.
    pub sandbox_pid: i32,
    /// Whether to create mount + PID namespaces for the container.
    pub namespaces: bool,
    /// Join the pod's PID namespace (`shareProcessNamespace`) instead of creating one.
    #[serde(default)]
    pub share_pid: bool,
    /// Die when the supervisor dies.
    pub die_with_parent: bool,
    /// HOSTNAME.
    pub hostname: String,
    /// argv.
    pub argv: Vec<String>,
    /// Environment (later duplicates win).
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: String,
    /// Bind mounts (source, target, read-only).
    pub mounts: Vec<(PathBuf, PathBuf, bool)>,
    /// The log file the monitor writes the container's stdout and stderr to, in the CRI
    /// format (see [`crate::logs`]).
    pub log_path: PathBuf,
    /// Rotate the log when it reaches this many bytes (`containerLogMaxSize`); `None`: never.
    #[serde(default = "default_log_max_size")]
    pub log_max_size: Option<u64>,
    /// Log files kept per instance, the current one included (`containerLogMaxFiles`, ≥ 2).
    #[serde(default = "default_log_max_files")]
    pub log_max_files: usize,
    /// `stdin: true`: the FIFO the main process reads as stdin (created by the monitor, which
    /// holds it open for writing so it never reaches end of file; removed at exit).
    #[serde(default)]
    pub stdin_fifo: Option<PathBuf>,
}

fn default_log_max_size() -> Option<u64> {
    Some(crate::logs::DEFAULT_MAX_SIZE)
}

fn default_log_max_files() -> usize {
    crate::logs::DEFAULT_MAX_FILES
}

/// The container set-up step that failed, as the monitor reports it (runc's init reports the
/// same way: which step, and errno).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SetupStep {
    /// Opening `/proc/<pid>/ns/<kind>` of the sandbox.
    OpenNamespace {
        /// The path.
        path: String,
    },
    /// Joining one of the sandbox's namespaces.
    Setns {
        /// `net`, `uts`, `ipc` or `pid`.
        namespace: String,
    },
    /// Creating the mount and PID namespaces.
    Unshare,
    /// Making `/` a private mount so nothing propagates to the host.
    MakeRootPrivate,
    /// The pipe the child reports its failure on.
    Pipe,
    /// Forking the container's main process.
    Fork,
    /// Setting the parent-death signal.
    ParentDeathSignal,
    /// The monitor was gone before the main process could start.
    MonitorExited,
    /// Mounting a filesystem (`/proc`, the private `/dev`, `/dev/pts`, `/dev/shm`).
    Mount {
        /// Where.
        target: String,
    },
    /// Creating a device node of the private `/dev`.
    Mknod {
        /// The node.
        path: String,
    },
    /// Creating a directory of the private `/dev`.
    Mkdir {
        /// The directory.
        path: String,
    },
    /// Creating a symlink of the private `/dev`.
    Symlink {
        /// The link.
        link: String,
    },
    /// Creating a missing mount point for a volume.
    CreateMountPoint {
        /// The mount point.
        target: PathBuf,
    },
    /// Bind-mounting a volume.
    BindMount {
        /// Host path.
        source: PathBuf,
        /// Container path.
        target: PathBuf,
    },
    /// Making a volume mount read-only.
    RemountReadOnly {
        /// Container path.
        target: PathBuf,
    },
    /// Opening the container's log file.
    OpenLogFile,
    /// Creating or opening the stdin FIFO (`stdin: true`).
    OpenStdin,
    /// Creating the signalfd the monitor learns of exits through.
    SignalFd,
    /// Changing to the working directory.
    Chdir {
        /// `workingDir`.
        dir: String,
    },
    /// Executing the entrypoint (the kubelet's `RunContainerError` case).
    Exec,
}

impl std::fmt::Display for SetupStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupStep::OpenNamespace { path } => write!(f, "open {path}"),
            SetupStep::Setns { namespace } => write!(f, "setns {namespace}"),
            SetupStep::Unshare => write!(f, "unshare mount and pid namespaces"),
            SetupStep::MakeRootPrivate => write!(f, "make / private"),
            SetupStep::Pipe => write!(f, "pipe"),
            SetupStep::Fork => write!(f, "fork"),
            SetupStep::ParentDeathSignal => write!(f, "set the parent-death signal"),
            SetupStep::MonitorExited => write!(f, "monitor exited"),
            SetupStep::Mount { target } => write!(f, "mount {target}"),
            SetupStep::Mknod { path } => write!(f, "mknod {path}"),
            SetupStep::Mkdir { path } => write!(f, "mkdir {path}"),
            SetupStep::Symlink { link } => write!(f, "symlink {link}"),
            SetupStep::CreateMountPoint { target } => {
                write!(f, "create mount point {}", target.display())
            }
            SetupStep::BindMount { source, target } => {
                write!(f, "bind mount {} on {}", source.display(), target.display())
            }
            SetupStep::RemountReadOnly { target } => {
                write!(f, "remount {} read-only", target.display())
            }
            SetupStep::OpenLogFile => write!(f, "open log file"),
            SetupStep::OpenStdin => write!(f, "open stdin"),
            SetupStep::SignalFd => write!(f, "signalfd"),
            SetupStep::Chdir { dir } => write!(f, "chdir {dir}"),
            SetupStep::Exec => write!(f, "exec"),
        }
    }
}

/// A failed set-up step and its errno.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SetupFailure {
    /// Which step.
    pub step: SetupStep,
    /// errno.
    pub errno: i32,
}

impl SetupFailure {
    fn new(step: SetupStep, e: Errno) -> Self {
        SetupFailure {
            step,
            errno: e as i32,
        }
    }

    fn io(step: SetupStep, e: &std::io::Error) -> Self {
        SetupFailure {
            step,
            errno: e.raw_os_error().unwrap_or(0),
        }
    }
}

/// One report line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The sandbox namespaces exist; `pid` is the process holding them (the pod's PID 1 when
    /// the pod shares one PID namespace).
    Ready {
        /// Host pid whose `/proc/<pid>/ns/*` are the pod's namespaces.
        pid: i32,
    },
    /// The entrypoint was exec'd; host pid of the container's main process.
    Started {
        /// Host pid.
        pid: i32,
    },
    /// The container could not be set up or its entrypoint could not be exec'd.
    StartFailed(SetupFailure),
    /// The main process exited (and everything else of the instance is gone).
    Exited {
        /// Exit code (128 + signal when signalled).
        code: i32,
        /// Killing signal.
        signal: Option<i32>,
    },
}

fn report(r: &Report) {
    if let Ok(s) = serde_json::to_string(r) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }
}

/// Entry point of `podvisor __shim ...`; returns the process exit code.
pub fn shim_main(args: Vec<String>) -> i32 {
    match args.first().map(String::as_str) {
        Some("sandbox") => sandbox(
            args.get(1).map_or("pod", String::as_str),
            args.get(2).is_some_and(|a| a == "1"),
            args.get(3).is_some_and(|a| a == "1"),
        ),
        Some("container") => match args.get(1) {
            Some(path) => container(Path::new(path)),
            None => 2,
        },
        Some("exec") => exec(&args[1..]),
        Some("exec-tty") => exec_tty(&args[1..]),
        _ => {
            eprintln!("usage: podvisor __shim sandbox|container|exec|exec-tty ...");
            2
        }
    }
}

fn sandbox(hostname: &str, die_with_parent: bool, share_pid: bool) -> i32 {
    if die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    if let Err(e) =
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
    {
        eprintln!("unshare: {e}");
        return 1;
    }
    if let Err(e) = nix::unistd::sethostname(hostname) {
        eprintln!("sethostname: {e}");
        return 1;
    }
    // `lo` is down in a new network namespace; the child inherits ours.
    match std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
    {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("ip link set lo up: {other:?}");
            return 1;
        }
    }
    if !share_pid {
        report(&Report::Ready {
            pid: nix::unistd::getpid().as_raw(),
        });
        loop {
            nix::unistd::pause();
        }
    }
    // `shareProcessNamespace`: a pause process is PID 1 of the pod's PID namespace and reaps
    // every orphan in it, as the pause container does.
    if let Err(e) = unshare(CloneFlags::CLONE_NEWPID) {
        eprintln!("unshare pid namespace: {e}");
        return 1;
    }
    match sys::fork() {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            loop {
                match waitpid(Pid::from_raw(-1), None) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => {
                        nix::unistd::pause();
                    }
                }
            }
        }
        Ok(ForkResult::Parent { child }) => {
            report(&Report::Ready {
                pid: child.as_raw(),
            });
            loop {
                nix::unistd::pause();
            }
        }
        Err(e) => {
            eprintln!("fork: {e}");
            1
        }
    }
}

fn join_namespaces(pid: i32, kinds: &[(&str, CloneFlags)]) -> Result<(), SetupFailure> {
    // Open every namespace first: entering the mount namespace changes what /proc shows.
    let mut files = Vec::new();
    for (name, flag) in kinds {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path)
            .map_err(|e| SetupFailure::io(SetupStep::OpenNamespace { path }, &e))?;
        files.push((f, *flag, *name));
    }
    for (f, flag, name) in files {
        setns(f.as_fd(), flag).map_err(|e| {
            SetupFailure::new(
                SetupStep::Setns {
                    namespace: name.to_string(),
                },
                e,
            )
        })?;
    }
    Ok(())
}

fn cstrings(items: impl IntoIterator<Item = String>) -> Vec<CString> {
    items
        .into_iter()
        .filter_map(|s| CString::new(s.replace('\0', "")).ok())
        .collect()
}

/// `execvpe`: search `PATH` of the container's environment.
fn resolve_program(program: &str, env: &[(String, String)]) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let path = env.iter().rev().find(|(k, _)| k == "PATH").map_or(
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        |(_, v)| v.as_str(),
    );
    for dir in path.split(':') {
        let candidate = Path::new(dir).join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from(program)
}

fn final_env(hostname: &str, env: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    )];
    out.push(("HOSTNAME".into(), hostname.into()));
    for (k, v) in env {
        if let Some(e) = out.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.clone();
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

fn status_of(ws: WaitStatus) -> Option<(i32, Option<i32>)> {
    match ws {
        WaitStatus::Exited(_, code) => Some((code, None)),
        WaitStatus::Signaled(_, sig, _) => Some((128 + sig as i32, Some(sig as i32))),
        _ => None,
    }
}

/// A container's own `/dev` (as runc makes it): a tmpfs with the standard device nodes, its own
/// devpts and shm, so files such as `/dev/termination-log` never land on the host's `/dev`.
fn private_dev() -> Result<(), SetupFailure> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let ms = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        ms,
        Some("mode=755,size=65536k"),
    )
    .map_err(|e| mount_failed("/dev", e))?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let path = format!("/dev/{name}");
        mknod(
            path.as_str(),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|e| SetupFailure::new(SetupStep::Mknod { path: path.clone() }, e))?;
        // The umask trimmed the mode.
        let _ = nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path.as_str(),
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        );
    }
    for dir in ["/dev/pts", "/dev/shm"] {
        std::fs::create_dir_all(dir)
            .map_err(|e| SetupFailure::io(SetupStep::Mkdir { path: dir.into() }, &e))?;
    }
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| mount_failed("/dev/pts", e))?;
    mount(
        Some("shm"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(|e| mount_failed("/dev/shm", e))?;
    for (link, target) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, link)
            .map_err(|e| SetupFailure::io(SetupStep::Symlink { link: link.into() }, &e))?;
    }
    Ok(())
}

fn mount_failed(target: &str, e: Errno) -> SetupFailure {
    SetupFailure::new(
        SetupStep::Mount {
            target: target.into(),
        },
        e,
    )
}

/// Prepares the child (PID 1) and execs; returns only on failure, with the failed step.
fn child_setup_and_exec(
    cfg: &ContainerConfig,
    monitor: Pid,
    output: (OwnedFd, OwnedFd),
) -> SetupFailure {
    let fail = SetupFailure::new;
    // The container never outlives its monitor (the parent may already be gone: check).
    if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        return fail(SetupStep::ParentDeathSignal, e);
    }
    // PID 1 of a new PID namespace sees its parent as pid 0.
    let ppid = nix::unistd::getppid();
    if ppid != monitor && !(cfg.namespaces && ppid.as_raw() == 0) {
        // (In a shared pod PID namespace the monitor is outside it too: ppid is 0 as well.)
        return fail(SetupStep::MonitorExited, Errno::ESRCH);
    }
    if cfg.namespaces {
        if let Err(e) = mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        ) {
            return mount_failed("/proc", e);
        }
        if let Err(f) = private_dev() {
            return f;
        }
        for (source, target, ro) in &cfg.mounts {
            if !target.exists() {
                let made = if source.is_dir() {
                    std::fs::create_dir_all(target)
                } else {
                    target
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|()| {
                            std::fs::OpenOptions::new()
                                .create(true)
                                .truncate(false)
                                .write(true)
                                .open(target)
                                .map(|_| ())
                        })
                };
                if let Err(e) = made {
                    let step = SetupStep::CreateMountPoint {
                        target: target.clone(),
                    };
                    return SetupFailure::io(step, &e);
                }
            }
            if let Err(e) = mount(
                Some(source.as_path()),
                target.as_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            ) {
                let step = SetupStep::BindMount {
                    source: source.clone(),
                    target: target.clone(),
                };
                return fail(step, e);
            }
            if *ro {
                let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                if let Err(e) = mount(
                    None::<&str>,
                    target.as_path(),
                    None::<&str>,
                    flags,
                    None::<&str>,
                ) {
                    let step = SetupStep::RemountReadOnly {
                        target: target.clone(),
                    };
                    return fail(step, e);
                }
            }
        }
    }
    let _ = nix::unistd::setsid();
    // stdout and stderr are pipes the monitor reads (and writes to the log).
    let _ = nix::unistd::dup2_stdout(&output.0);
    let _ = nix::unistd::dup2_stderr(&output.1);
    match &cfg.stdin_fifo {
        // The monitor holds a writer: opening for reading does not block.
        Some(fifo) => match File::open(fifo) {
            Ok(f) => {
                let _ = nix::unistd::dup2_stdin(&f);
            }
            Err(e) => return SetupFailure::io(SetupStep::OpenStdin, &e),
        },
        None => {
            if let Ok(null) = File::open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(&null);
            }
        }
    }
    let cwd = if cfg.cwd.is_empty() {
        "/"
    } else {
        cfg.cwd.as_str()
    };
    if let Err(e) = nix::unistd::chdir(cwd) {
        return fail(SetupStep::Chdir { dir: cwd.into() }, e);
    }
    let env = final_env(&cfg.hostname, &cfg.env);
    let program = resolve_program(cfg.argv.first().map_or("", String::as_str), &env);
    let Ok(prog) = CString::new(program.as_os_str().as_encoded_bytes().to_vec()) else {
        return fail(SetupStep::Exec, Errno::EINVAL);
    };
    let argv = cstrings(cfg.argv.iter().cloned());
    let envp = cstrings(env.iter().map(|(k, v)| format!("{k}={v}")));
    sys::reset_signals_for_exec();
    match execve(&prog, &argv, &envp) {
        Err(e) => fail(SetupStep::Exec, e),
        Ok(never) => match never {},
    }
}

/// Joins the sandbox's namespaces (net, UTS, IPC; PID too when the pod shares one) and creates
/// the instance's mount (and PID) namespaces, with `/` private so nothing propagates out.
fn enter_container_namespaces(cfg: &ContainerConfig) -> Result<(), SetupFailure> {
    if cfg.namespaces {
        if cfg.sandbox_pid > 0 {
            let mut kinds = vec![
                ("net", CloneFlags::CLONE_NEWNET),
                ("uts", CloneFlags::CLONE_NEWUTS),
                ("ipc", CloneFlags::CLONE_NEWIPC),
            ];
            if cfg.share_pid {
                kinds.push(("pid", CloneFlags::CLONE_NEWPID));
            }
            join_namespaces(cfg.sandbox_pid, &kinds)?;
        }
        let new_pid = if cfg.share_pid && cfg.sandbox_pid > 0 {
            CloneFlags::empty()
        } else {
            CloneFlags::CLONE_NEWPID
        };
        unshare(CloneFlags::CLONE_NEWNS | new_pid)
            .map_err(|e| SetupFailure::new(SetupStep::Unshare, e))?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| SetupFailure::new(SetupStep::MakeRootPrivate, e))?;
    }
    Ok(())
}

/// Until every child is reaped: copy output to the log as it comes and reap on SIGCHLD (the
/// main process and every orphan that re-parents to the monitor); then read what is left.
fn relay_until_exit(
    sfd: &nix::sys::signalfd::SignalFd,
    outputs: &mut [Output; 2],
    log: &mut LogWriter,
    reaper: &mut Reaper,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // Until every child is reaped: copy output to the log as it comes, reap on SIGCHLD (the
    // main process and every orphan that re-parents to us).
    while reaper.children_left {
        let (ready, sig_ready) = {
            let mut fds = vec![nix::poll::PollFd::new(
                sfd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            for o in outputs.iter() {
                if let Some(fd) = &o.fd {
                    fds.push(nix::poll::PollFd::new(
                        fd.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    ));
                }
            }
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => {
                    // Cannot wait for both: wait for the children alone, as before.
                    reaper.reap(true);
                    continue;
                }
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let sig = ready(0);
            let mut ready_outputs = [false; 2];
            let mut i = 1;
            for (k, o) in outputs.iter().enumerate() {
                if o.fd.is_some() {
                    ready_outputs[k] = ready(i);
                    i += 1;
                }
            }
            (ready_outputs, sig)
        };
        // Output first: what was written before an exit lands in the log before it is
        // reported.
        for (o, r) in outputs.iter_mut().zip(ready) {
            if r {
                o.pump(&mut buf, log, false);
            }
        }
        log.flush();
        if sig_ready {
            while let Ok(Some(_)) = sfd.read_signal() {}
            reaper.reap(false);
        }
    }
    // Every process of the instance is gone (its PID namespace died with its PID 1): what is
    // left in the pipes is the end of its output. Writers outside the instance's reach (a
    // shared PID namespace's leftovers) do not hold the report back: read what is there.
    for o in outputs.iter_mut() {
        o.pump(&mut buf, log, true);
        o.finish(log);
    }
    log.flush();
}

fn container(config_path: &Path) -> i32 {
    let cfg: ContainerConfig = match std::fs::read(config_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(c) => c,
        None => {
            eprintln!("cannot read container config {}", config_path.display());
            return 2;
        }
    };
    let start_failed = |step: SetupStep, e: Errno| {
        report(&Report::StartFailed(SetupFailure::new(step, e)));
        1
    };
    if cfg.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let _ = nix::sys::prctl::set_child_subreaper(true);
    if let Err(f) = enter_container_namespaces(&cfg) {
        report(&Report::StartFailed(f));
        return 1;
    }
    // `stdin: true`: a FIFO held open for writing by the monitor (containerd's stdin FIFO);
    // attach opens it to write, and the main process never sees end of file.
    let _stdin_keeper = match &cfg.stdin_fifo {
        Some(fifo) => {
            let _ = std::fs::remove_file(fifo);
            if let Err(e) = nix::unistd::mkfifo(fifo.as_path(), nix::sys::stat::Mode::S_IRWXU) {
                return start_failed(SetupStep::OpenStdin, e);
            }
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(fifo)
            {
                Ok(f) => Some(f),
                Err(e) => {
                    let _ = std::fs::remove_file(fifo);
                    report(&Report::StartFailed(SetupFailure::io(
                        SetupStep::OpenStdin,
                        &e,
                    )));
                    return 1;
                }
            }
        }
        None => None,
    };
    let remove_fifo = || {
        if let Some(fifo) = &cfg.stdin_fifo {
            let _ = std::fs::remove_file(fifo);
        }
    };
    // The monitor writes the log (containerd's CRI logger): the container's stdout and stderr
    // are pipes it reads.
    let mut log = match LogWriter::open(&cfg) {
        Ok(l) => l,
        Err(e) => {
            remove_fifo();
            report(&Report::StartFailed(SetupFailure::io(
                SetupStep::OpenLogFile,
                &e,
            )));
            return 1;
        }
    };
    let (out_r, out_w, err_r, err_w) = match (pipe2(OFlag::O_CLOEXEC), pipe2(OFlag::O_CLOEXEC)) {
        (Ok((or, ow)), Ok((er, ew))) => (or, ow, er, ew),
        (Err(e), _) | (_, Err(e)) => {
            remove_fifo();
            return start_failed(SetupStep::Pipe, e);
        }
    };
    for fd in [&out_r, &err_r] {
        if let Err(e) = set_nonblocking(fd) {
            remove_fifo();
            return start_failed(SetupStep::Pipe, e);
        }
    }
    // SIGCHLD is read from a signalfd, so one poll(2) waits for output and exits alike. It is
    // blocked before the fork (no exit is missed); the child unblocks every signal before exec.
    let mut sigchld = nix::sys::signal::SigSet::empty();
    sigchld.add(Signal::SIGCHLD);
    if let Err(e) = sigchld.thread_block() {
        remove_fifo();
        return start_failed(SetupStep::SignalFd, e);
    }
    let sfd = match nix::sys::signalfd::SignalFd::with_flags(
        &sigchld,
        nix::sys::signalfd::SfdFlags::SFD_NONBLOCK | nix::sys::signalfd::SfdFlags::SFD_CLOEXEC,
    ) {
        Ok(f) => f,
        Err(e) => {
            remove_fifo();
            return start_failed(SetupStep::SignalFd, e);
        }
    };
    let (rd, wr) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            remove_fifo();
            return start_failed(SetupStep::Pipe, e);
        }
    };
    let monitor = nix::unistd::getpid();
    let child = match sys::fork() {
        Ok(ForkResult::Child) => {
            drop(rd);
            drop((out_r, err_r, sfd));
            let failure = child_setup_and_exec(&cfg, monitor, (out_w, err_w));
            let mut w = File::from(wr);
            if let Ok(json) = serde_json::to_vec(&failure) {
                let _ = w.write_all(&json);
            }
            // SAFETY-free exit without running the parent's destructors.
            std::process::exit(127);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            remove_fifo();
            return start_failed(SetupStep::Fork, e);
        }
    };
    drop(wr);
    drop((out_w, err_w));
    let mut msg = String::new();
    let _ = File::from(rd).read_to_string(&mut msg);
    if !msg.is_empty() {
        // The child died before or in exec; an unreadable report is still an exec failure.
        let failure = serde_json::from_str(&msg)
            .unwrap_or_else(|_| SetupFailure::new(SetupStep::Exec, Errno::UnknownErrno));
        let _ = waitpid(child, None);
        remove_fifo();
        report(&Report::StartFailed(failure));
        return 1;
    }
    report(&Report::Started {
        pid: child.as_raw(),
    });
    let mut outputs = [
        Output::new(out_r, crate::logs::Stream::Stdout),
        Output::new(err_r, crate::logs::Stream::Stderr),
    ];
    let mut reaper = Reaper {
        main: child,
        namespaces: cfg.namespaces,
        status: None,
        children_left: true,
    };
    relay_until_exit(&sfd, &mut outputs, &mut log, &mut reaper);
    let (code, signal) = reaper.status.unwrap_or((137, Some(9)));
    remove_fifo();
    report(&Report::Exited { code, signal });
    0
}

fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

/// Reaps the instance's processes: the main process's status, and in the end `ECHILD`.
struct Reaper {
    main: Pid,
    namespaces: bool,
    status: Option<(i32, Option<i32>)>,
    children_left: bool,
}

impl Reaper {
    /// Reaps whatever has exited (waiting for one when `block`).
    fn reap(&mut self, block: bool) {
        let flags = if block {
            WaitPidFlag::__WALL
        } else {
            WaitPidFlag::__WALL | WaitPidFlag::WNOHANG
        };
        loop {
            match waitpid(Pid::from_raw(-1), Some(flags)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ws) => {
                    if ws.pid() == Some(self.main) {
                        if let Some(s) = status_of(ws) {
                            self.status = Some(s);
                            if !self.namespaces {
                                // No PID namespace: end whatever the instance left behind.
                                let _ = nix::sys::signal::killpg(self.main, Signal::SIGKILL);
                            }
                        }
                    }
                    if self.status.is_some() && !self.namespaces {
                        // Orphans outside the process group are still our children
                        // (subreaper): kill them.
                        kill_remaining_children();
                    }
                    if block {
                        break;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => {
                    // ECHILD: nothing left.
                    self.children_left = false;
                    break;
                }
            }
        }
    }
}

/// One of the container's output pipes and the records it is cut into.
struct Output {
    fd: Option<OwnedFd>,
    stream: crate::logs::Stream,
    splitter: crate::logs::Splitter,
}

impl Output {
    fn new(fd: OwnedFd, stream: crate::logs::Stream) -> Self {
        Output {
            fd: Some(fd),
            stream,
            splitter: crate::logs::Splitter::new(crate::logs::MAX_LINE_BYTES),
        }
    }

    /// Reads what the pipe holds (one buffer, or until it is empty when `drain`) into the log;
    /// at end of file the pipe is closed and what is left becomes a record.
    fn pump(&mut self, buf: &mut [u8], log: &mut LogWriter, drain: bool) {
        while let Some(fd) = &self.fd {
            match nix::unistd::read(fd, buf) {
                Ok(0) => {
                    self.fd = None;
                    self.finish(log);
                }
                Ok(n) => {
                    let stream = self.stream;
                    self.splitter.push(&buf[..n], &mut |partial, content| {
                        log.record(stream, partial, content)
                    });
                    if !drain {
                        return;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.fd = None;
                    self.finish(log);
                }
            }
        }
    }

    /// The stream ended: output without a final newline becomes a partial record.
    fn finish(&mut self, log: &mut LogWriter) {
        let stream = self.stream;
        self.splitter
            .finish(&mut |partial, content| log.record(stream, partial, content));
    }
}

/// The instance's log file, written in the CRI format and rotated by size. The kubelet's
/// container log manager rotates (renames) the file and asks the runtime to reopen it
/// (`ReopenContainerLog`); the monitor writes the file itself, so it does both at once when the
/// file reaches its maximum size.
struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: usize,
    pending: Vec<u8>,
}

impl LogWriter {
    fn open(cfg: &ContainerConfig) -> std::io::Result<Self> {
        let file = Self::open_file(&cfg.log_path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path: cfg.log_path.clone(),
            file,
            size,
            max_size: cfg.log_max_size,
            max_files: cfg.log_max_files.max(2),
            pending: Vec::new(),
        })
    }

    fn open_file(path: &Path) -> std::io::Result<File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)
    }

    /// Adds a record, stamped now.
    fn record(&mut self, stream: crate::logs::Stream, partial: bool, content: &[u8]) {
        let ts = crate::logs::write_timestamp(jiff::Timestamp::now());
        crate::logs::format_record(&mut self.pending, &ts, stream, partial, content);
        if self.pending.len() >= 64 * 1024 {
            self.flush();
        }
    }

    /// Writes the records added (whole records per write), rotating first when the file has
    /// reached its maximum size (so the current file is never left empty by a rotation: the
    /// kubelet, too, rotates only running containers' logs).
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if self.max_size.is_some_and(|max| self.size >= max) {
            self.rotate();
        }
        // A failed write loses the records, never the container: go on draining its output.
        if self.file.write_all(&self.pending).is_ok() {
            self.size += self.pending.len() as u64;
        }
        self.pending.clear();
    }

    /// `<log>` becomes `<log>.<YYYYMMDD-hhmmss>` (the kubelet's name, its local time), the
    /// oldest rotated files go so that at most `max_files` remain, and a new `<log>` is opened.
    /// A second rotation within the same second waits for the next one (names are unique).
    fn rotate(&mut self) {
        let (Some(dir), Some(name)) = (
            self.path.parent(),
            self.path.file_name().and_then(|n| n.to_str()),
        ) else {
            return;
        };
        let now = jiff::Zoned::now().datetime();
        let rotated = dir.join(crate::logs::rotated_name(name, now));
        if rotated.exists() {
            return;
        }
        let prefix = format!("{name}.");
        let existing: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&prefix) && !n.ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default();
        for old in crate::logs::excess_rotated(existing, self.max_files) {
            let _ = std::fs::remove_file(dir.join(old));
        }
        // (Renamed already when a reopen failed before.)
        if std::fs::rename(&self.path, &rotated).is_err() && self.path.exists() {
            return;
        }
        // When it cannot be opened, the records go on to the rotated file; the next flush
        // tries again.
        if let Ok(f) = Self::open_file(&self.path) {
            self.file = f;
            self.size = 0;
        }
    }
}

/// Kills every remaining child of this process (found through /proc).
fn kill_remaining_children() {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string));
        if ppid.as_deref() == Some(me.as_str()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// An exec inside a container: the working directory, the main process's environment, the
/// command.
struct ExecTarget {
    cwd: String,
    env: Vec<(String, String)>,
    argv: Vec<String>,
}

/// Parses `<pid> <cwd> <namespaces 0|1> -- argv...` and enters the container; the exit code
/// to return on failure.
fn enter_container(mode: &str, args: &[String]) -> Result<ExecTarget, i32> {
    let (Some(pid), Some(cwd), Some(ns)) = (
        args.first().and_then(|p| p.parse::<i32>().ok()),
        args.get(1),
        args.get(2),
    ) else {
        eprintln!("usage: {mode} <pid> <cwd> <0|1> -- argv...");
        return Err(126);
    };
    let argv: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    if argv.is_empty() {
        eprintln!("{mode}: empty command");
        return Err(126);
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let env: Vec<(String, String)> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let s = String::from_utf8_lossy(kv);
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    if ns == "1" {
        let kinds = [
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("net", CloneFlags::CLONE_NEWNET),
            ("pid", CloneFlags::CLONE_NEWPID),
            ("mnt", CloneFlags::CLONE_NEWNS),
        ];
        if let Err(f) = join_namespaces(pid, &kinds) {
            eprintln!("{}: {}", f.step, Errno::from_raw(f.errno));
            return Err(126);
        }
    }
    Ok(ExecTarget {
        cwd: cwd.clone(),
        env,
        argv,
    })
}

/// In the forked child: working directory, signals, exec. Never returns.
fn exec_in_child(t: &ExecTarget) -> ! {
    // The command dies with its exec monitor (a client that goes away ends it).
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let _ = nix::unistd::chdir(if t.cwd.is_empty() {
        "/"
    } else {
        t.cwd.as_str()
    });
    let program = resolve_program(&t.argv[0], &t.env);
    let prog = CString::new(program.as_os_str().as_encoded_bytes().to_vec()).unwrap_or_default();
    let a = cstrings(t.argv.iter().cloned());
    let e = cstrings(t.env.iter().map(|(k, v)| format!("{k}={v}")));
    sys::reset_signals_for_exec();
    let err = match execve(&prog, &a, &e) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    eprintln!("exec {:?}: {err}", t.argv[0]);
    std::process::exit(if err == Errno::ENOENT { 127 } else { 126 });
}

/// Waits for the exec'd command; its exit code (128 + signal when killed).
fn wait_exit_code(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(ws) => {
                if let Some((code, _)) = status_of(ws) {
                    return code;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return 126,
        }
    }
}

fn exec(args: &[String]) -> i32 {
    // exec <pid> <cwd> <namespaces 0|1> -- argv...
    let target = match enter_container("exec", args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    match sys::fork() {
        Ok(ForkResult::Child) => exec_in_child(&target),
        Ok(ForkResult::Parent { child }) => wait_exit_code(child),
        Err(e) => {
            eprintln!("fork: {e}");
            126
        }
    }
}

/// `exec-tty <pid> <cwd> <namespaces 0|1> -- argv...`, stdin being the console socket: opens a
/// pty inside the container (its `/dev/ptmx`, so the slave is one of the container's
/// `/dev/pts`), sends the master over the socket (`SCM_RIGHTS`), waits for one byte (the
/// first window size is set by then), and runs the command as a session leader with the slave
/// as its controlling terminal and stdio (runc's `exec --tty --console-socket`).
fn exec_tty(args: &[String]) -> i32 {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    use std::os::fd::AsRawFd;
    let target = match enter_container("exec-tty", args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let pty = match nix::pty::openpty(None, None) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("openpty: {e}");
            return 126;
        }
    };
    let console = libc::STDIN_FILENO;
    let sent = sendmsg::<UnixAddr>(
        console,
        &[std::io::IoSlice::new(b"m")],
        &[ControlMessage::ScmRights(&[pty.master.as_raw_fd()])],
        MsgFlags::empty(),
        None,
    );
    if let Err(e) = sent {
        eprintln!("send the terminal: {e}");
        return 126;
    }
    drop(pty.master);
    let mut go = [0u8; 1];
    loop {
        match nix::unistd::read(std::io::stdin().as_fd(), &mut go) {
            Ok(1) => break,
            Err(Errno::EINTR) => continue,
            // The caller went away before starting the command: run nothing.
            _ => return 126,
        }
    }
    match sys::fork() {
        Ok(ForkResult::Child) => {
            let slave = pty.slave;
            let _ = nix::unistd::setsid();
            if let Err(e) = sys::set_controlling_terminal(slave.as_fd()) {
                eprintln!("TIOCSCTTY: {e}");
                std::process::exit(126);
            }
            let _ = nix::unistd::dup2_stdin(&slave);
            let _ = nix::unistd::dup2_stdout(&slave);
            let _ = nix::unistd::dup2_stderr(&slave);
            // fds 0-2 were open (socket, stdout, stderr), so the slave's own fd is above them.
            drop(slave);
            exec_in_child(&target)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(pty.slave);
            wait_exit_code(child)
        }
        Err(e) => {
            eprintln!("fork: {e}");
            126
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_failure_report_round_trips_with_its_step_and_errno() {
        let r = Report::StartFailed(SetupFailure::new(
            SetupStep::BindMount {
                source: "/data".into(),
                target: "/srv".into(),
            },
            Errno::ENOENT,
        ));
        let line = serde_json::to_string(&r).expect("serialises");
        let back: Report = serde_json::from_str(&line).expect("parses");
        assert_eq!(back, r);
        let Report::StartFailed(f) = back else {
            panic!("not a start failure: {line}")
        };
        assert_eq!(f.step.to_string(), "bind mount /data on /srv");
        assert_eq!(f.errno, libc::ENOENT);
    }

    #[test]
    fn set_up_steps_read_as_before() {
        assert_eq!(SetupStep::Exec.to_string(), "exec");
        assert_eq!(
            SetupStep::Setns {
                namespace: "net".into()
            }
            .to_string(),
            "setns net"
        );
        assert_eq!(
            SetupStep::Mount {
                target: "/dev/pts".into()
            }
            .to_string(),
            "mount /dev/pts"
        );
    }
}
