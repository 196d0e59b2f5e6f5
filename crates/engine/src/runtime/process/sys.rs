//! The only `unsafe` of podvisor: `fork` in the single-threaded monitor process ("shim"),
//! signals by number, the terminal ioctls (TIOCSWINSZ, TIOCSCTTY), receiving a descriptor and
//! registering one with the reactor.

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

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);
nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);

/// `ioctl(fd, TIOCSWINSZ, size)`: sets a terminal's window size (on a pty master it applies to
/// the pair and sends SIGWINCH to the slave's foreground process group).
pub(crate) fn set_window_size(
    fd: std::os::fd::BorrowedFd<'_>,
    size: &nix::pty::Winsize,
) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is borrowed, so open for the call; TIOCSWINSZ only reads a `winsize`,
    // which `size` points to for the duration of the call.
    unsafe { tiocswinsz(fd.as_raw_fd(), size) }.map(drop)
}

/// `ioctl(fd, TIOCSCTTY, 0)`: makes the terminal the calling session leader's controlling
/// terminal (after `setsid`, before exec'ing a command on a pty slave).
pub(crate) fn set_controlling_terminal(fd: std::os::fd::BorrowedFd<'_>) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is borrowed, so open for the call; TIOCSCTTY takes an integer argument
    // and touches no memory of ours.
    unsafe { tiocsctty(fd.as_raw_fd(), 0) }.map(drop)
}

/// Receives one file descriptor sent with `SCM_RIGHTS` on a Unix socket (the console-socket
/// handshake of `runc --console-socket`). Blocks; end of stream is `UnexpectedEof`.
pub(crate) fn recv_fd(sock: std::os::fd::BorrowedFd<'_>) -> std::io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(std::os::fd::RawFd);
    let msg = loop {
        match recvmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(std::io::Error::from)?,
        }
    };
    let mut received: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this descriptor in our table for us
                // (SCM_RIGHTS); nothing else owns it, so taking ownership is sound.
                received.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let mut fds = received.into_iter();
    match (fds.next(), msg.bytes) {
        (Some(fd), _) => Ok(fd),
        (None, 0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
        (None, _) => Err(std::io::Error::other("no file descriptor in the message")),
    }
}

/// Registers an owned descriptor with the tokio reactor.
pub(crate) fn async_fd(
    fd: std::os::fd::OwnedFd,
) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: an `OwnedFd` is a valid open descriptor that it alone closes (on drop, i.e. when
    // the AsyncFd drops it), and its `as_raw_fd` always returns that same descriptor.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(std::io::Error::from)
}
