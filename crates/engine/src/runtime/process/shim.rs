//! The per-instance monitor ("shim", like conmon or containerd-shim): the same binary started
//! as `podvisor __shim <mode> ...` in a fresh, single-threaded process. Modes:
//! * `sandbox <hostname>`: the pause process. Unshares the pod's network, UTS and IPC
//!   namespaces, sets the hostname, brings `lo` up, says `ready`, and waits to be killed.
//! * `container <config.json>`: joins the sandbox's namespaces, unshares mount and PID
//!   namespaces, forks the container's main process (PID 1 in its namespace) with its mounts,
//!   log file and environment, reports `started`, reaps it (and any orphan: it is a child
//!   subreaper) and reports `exited`.
//! * `exec <pid> <cwd> -- argv...`: runs a command inside a container's namespaces with its
//!   environment (CRI ExecSync), exiting with its code.
//!
//! Mirrors runc's init + containerd-shim split. Reports are JSON lines on stdout.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
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
    /// stdout/stderr file.
    pub log_path: PathBuf,
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
    /// The entrypoint could not be exec'd.
    StartFailed {
        /// errno.
        errno: i32,
        /// Which step failed.
        step: String,
    },
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
        _ => {
            eprintln!("usage: podvisor __shim sandbox|container|exec ...");
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

fn join_namespaces(pid: i32, kinds: &[(&str, CloneFlags)]) -> Result<(), (String, Errno)> {
    // Open every namespace first: entering the mount namespace changes what /proc shows.
    let mut files = Vec::new();
    for (name, flag) in kinds {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path).map_err(|e| {
            (
                format!("open {path}"),
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
        files.push((f, *flag, *name));
    }
    for (f, flag, name) in files {
        setns(f.as_fd(), flag).map_err(|e| (format!("setns {name}"), e))?;
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
fn private_dev() -> Result<(), (String, Errno)> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let ms = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        ms,
        Some("mode=755,size=65536k"),
    )
    .map_err(|e| ("mount /dev".to_string(), e))?;
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
        .map_err(|e| (format!("mknod {path}"), e))?;
        // The umask trimmed the mode.
        let _ = nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            path.as_str(),
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        );
    }
    for dir in ["/dev/pts", "/dev/shm"] {
        std::fs::create_dir_all(dir).map_err(|e| {
            (
                format!("mkdir {dir}"),
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
    }
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| ("mount /dev/pts".to_string(), e))?;
    mount(
        Some("shm"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(|e| ("mount /dev/shm".to_string(), e))?;
    for (link, target) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, link).map_err(|e| {
            (
                format!("symlink {link}"),
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        })?;
    }
    Ok(())
}

/// Prepares the child (PID 1) and execs; returns only on failure, with the failed step.
fn child_setup_and_exec(cfg: &ContainerConfig, monitor: Pid) -> (String, Errno) {
    let fail = |step: &str, e: Errno| (step.to_string(), e);
    // The container never outlives its monitor (the parent may already be gone: check).
    if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        return fail("set the parent-death signal", e);
    }
    // PID 1 of a new PID namespace sees its parent as pid 0.
    let ppid = nix::unistd::getppid();
    if ppid != monitor && !(cfg.namespaces && ppid.as_raw() == 0) {
        // (In a shared pod PID namespace the monitor is outside it too: ppid is 0 as well.)
        return fail("monitor exited", Errno::ESRCH);
    }
    if cfg.namespaces {
        if let Err(e) = mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        ) {
            return fail("mount /proc", e);
        }
        if let Err((step, e)) = private_dev() {
            return fail(&step, e);
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
                    return fail(
                        &format!("create mount point {}", target.display()),
                        Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                    );
                }
            }
            if let Err(e) = mount(
                Some(source.as_path()),
                target.as_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            ) {
                return fail(
                    &format!("bind mount {} on {}", source.display(), target.display()),
                    e,
                );
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
                    return fail(&format!("remount {} read-only", target.display()), e);
                }
            }
        }
    }
    let _ = nix::unistd::setsid();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&cfg.log_path);
    match log {
        Ok(f) => {
            let _ = nix::unistd::dup2_stdout(&f);
            let _ = nix::unistd::dup2_stderr(&f);
        }
        Err(e) => {
            return fail(
                "open log file",
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            )
        }
    }
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
    }
    let cwd = if cfg.cwd.is_empty() {
        "/"
    } else {
        cfg.cwd.as_str()
    };
    if let Err(e) = nix::unistd::chdir(cwd) {
        return fail(&format!("chdir {cwd}"), e);
    }
    let env = final_env(&cfg.hostname, &cfg.env);
    let program = resolve_program(cfg.argv.first().map_or("", String::as_str), &env);
    let Ok(prog) = CString::new(program.as_os_str().as_encoded_bytes().to_vec()) else {
        return fail("exec", Errno::EINVAL);
    };
    let argv = cstrings(cfg.argv.iter().cloned());
    let envp = cstrings(env.iter().map(|(k, v)| format!("{k}={v}")));
    sys::reset_signals_for_exec();
    match execve(&prog, &argv, &envp) {
        Err(e) => fail("exec", e),
        Ok(never) => match never {},
    }
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
    let start_failed = |step: String, e: Errno| {
        report(&Report::StartFailed {
            errno: e as i32,
            step,
        });
        1
    };
    if cfg.die_with_parent {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let _ = nix::sys::prctl::set_child_subreaper(true);
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
            if let Err((step, e)) = join_namespaces(cfg.sandbox_pid, &kinds) {
                return start_failed(step, e);
            }
        }
        let new_pid = if cfg.share_pid && cfg.sandbox_pid > 0 {
            CloneFlags::empty()
        } else {
            CloneFlags::CLONE_NEWPID
        };
        if let Err(e) = unshare(CloneFlags::CLONE_NEWNS | new_pid) {
            return start_failed("unshare mount and pid namespaces".into(), e);
        }
        if let Err(e) = mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ) {
            return start_failed("make / private".into(), e);
        }
    }
    let (rd, wr) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return start_failed("pipe".into(), e),
    };
    let monitor = nix::unistd::getpid();
    let child = match sys::fork() {
        Ok(ForkResult::Child) => {
            drop(rd);
            let (step, e) = child_setup_and_exec(&cfg, monitor);
            let mut w = File::from(wr);
            let _ = w.write_all(format!("{}\n{step}", e as i32).as_bytes());
            // SAFETY-free exit without running the parent's destructors.
            std::process::exit(127);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return start_failed("fork".into(), e),
    };
    drop(wr);
    let mut msg = String::new();
    let _ = File::from(rd).read_to_string(&mut msg);
    if !msg.is_empty() {
        let mut parts = msg.splitn(2, '\n');
        let errno = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let step = parts.next().unwrap_or("exec").to_string();
        let _ = waitpid(child, None);
        report(&Report::StartFailed { errno, step });
        return 1;
    }
    report(&Report::Started {
        pid: child.as_raw(),
    });
    // Reap the main process and every orphan that re-parents to us.
    let mut main_status = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(ws) => {
                if ws.pid() == Some(child) {
                    if let Some(s) = status_of(ws) {
                        main_status = Some(s);
                        if !cfg.namespaces {
                            // No PID namespace: end whatever the instance left behind.
                            let _ = nix::sys::signal::killpg(child, Signal::SIGKILL);
                        }
                    }
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: nothing left.
        }
        if main_status.is_some() && !cfg.namespaces {
            // Orphans outside the process group are still our children (subreaper): kill them.
            kill_remaining_children();
        }
    }
    let (code, signal) = main_status.unwrap_or((137, Some(9)));
    report(&Report::Exited { code, signal });
    0
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

fn exec(args: &[String]) -> i32 {
    // exec <pid> <cwd> <namespaces 0|1> -- argv...
    let (Some(pid), Some(cwd), Some(ns)) = (
        args.first().and_then(|p| p.parse::<i32>().ok()),
        args.get(1),
        args.get(2),
    ) else {
        eprintln!("usage: exec <pid> <cwd> <0|1> -- argv...");
        return 126;
    };
    let argv: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    if argv.is_empty() {
        eprintln!("exec: empty command");
        return 126;
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
        if let Err((step, e)) = join_namespaces(pid, &kinds) {
            eprintln!("{step}: {e}");
            return 126;
        }
    }
    let child = match sys::fork() {
        Ok(ForkResult::Child) => {
            // The command dies with its exec monitor (a client that goes away ends it).
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            let _ = nix::unistd::chdir(if cwd.is_empty() { "/" } else { cwd.as_str() });
            let program = resolve_program(&argv[0], &env);
            let prog =
                CString::new(program.as_os_str().as_encoded_bytes().to_vec()).unwrap_or_default();
            let a = cstrings(argv.iter().cloned());
            let e = cstrings(env.iter().map(|(k, v)| format!("{k}={v}")));
            sys::reset_signals_for_exec();
            let err = match execve(&prog, &a, &e) {
                Err(e) => e,
                Ok(never) => match never {},
            };
            eprintln!("exec {:?}: {err}", argv[0]);
            std::process::exit(if err == Errno::ENOENT { 127 } else { 126 });
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("fork: {e}");
            return 126;
        }
    };
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
