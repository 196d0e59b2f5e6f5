//! The master side of an exec's pseudo-terminal, as the runtime hands it to the streaming
//! server (containerd's console for `Terminal: true` exec processes): read the command's
//! output, write its input, set its window size.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;

use super::sys;
use crate::runtime::TerminalSize;

/// A pty master registered with the tokio reactor.
#[derive(Debug)]
pub struct Terminal {
    fd: AsyncFd<OwnedFd>,
}

impl Terminal {
    /// Takes a pty master descriptor (made non-blocking here).
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        let flags = fcntl(&fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
        Ok(Terminal {
            fd: sys::async_fd(fd)?,
        })
    }

    /// Reads output; `Ok(0)` once every slave descriptor is closed (Linux answers EIO then).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(io::Error::from)) {
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `buf` as the command's input.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), buf).map_err(io::Error::from))
            {
                Ok(Ok(n)) => buf = &buf[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Sets the window size (TIOCSWINSZ); the command's foreground process group gets SIGWINCH.
    pub fn resize(&self, size: TerminalSize) -> io::Result<()> {
        let ws = nix::pty::Winsize {
            ws_row: size.height,
            ws_col: size.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        sys::set_window_size(self.fd.get_ref().as_fd(), &ws).map_err(io::Error::from)
    }
}
