//! The only `unsafe` of podvisor: `fork` in the single-threaded monitor process ("shim").

#![allow(unsafe_code)]

use nix::unistd::ForkResult;

/// `fork(2)`.
pub(crate) fn fork() -> nix::Result<ForkResult> {
    // SAFETY: only called from the shim, a freshly exec'd single-threaded process (it never
    // starts a thread or an async runtime), so the child may run arbitrary code after the fork.
    unsafe { nix::unistd::fork() }
}

/// `kill(2)` with a signal number, real-time signals included (nix's `Signal` has none).
pub(crate) fn kill(pid: i32, signo: i32) -> nix::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let r = unsafe { libc::kill(pid, signo) };
    nix::errno::Errno::result(r).map(drop)
}

/// Restores default dispositions of the signals the Rust runtime or a parent may ignore
/// (SIGPIPE above all) and unblocks every signal, before exec'ing a workload.
pub(crate) fn reset_signals_for_exec() {
    use nix::sys::signal::{SigHandler, SigSet, Signal};
    for s in [
        Signal::SIGPIPE,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: installing SIG_DFL runs no code of ours in signal context; the process is
        // single-threaded and about to exec.
        let _ = unsafe { nix::sys::signal::signal(s, SigHandler::SigDfl) };
    }
    let _ = SigSet::all().thread_unblock();
}
