//! The local terminal: raw mode for interactive sessions, no echo for passwords, size.

use std::io;
use std::os::fd::AsFd;

use nix::sys::termios::{self, LocalFlags, SetArg, Termios};

/// Changed terminal settings, put back when dropped, whichever way the caller exits.
pub struct TermiosGuard<F: AsFd> {
    fd: F,
    saved: Termios,
}

impl<F: AsFd> TermiosGuard<F> {
    /// Applies `change` to the terminal's settings until the guard is dropped.
    pub fn new(fd: F, change: impl FnOnce(&mut Termios)) -> io::Result<Self> {
        let saved = termios::tcgetattr(&fd)?;
        let mut new = saved.clone();
        change(&mut new);
        termios::tcsetattr(&fd, SetArg::TCSADRAIN, &new)?;
        Ok(TermiosGuard { fd, saved })
    }

    /// Raw mode: keys go to the remote side as typed, Ctrl-C included.
    pub fn raw(fd: F) -> io::Result<Self> {
        Self::new(fd, termios::cfmakeraw)
    }

    /// Line input without echo, for passwords.
    pub fn no_echo(fd: F) -> io::Result<Self> {
        Self::new(fd, |t| {
            t.local_flags.remove(LocalFlags::ECHO);
            t.local_flags.insert(LocalFlags::ECHONL);
        })
    }
}

impl<F: AsFd> Drop for TermiosGuard<F> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, SetArg::TCSADRAIN, &self.saved);
    }
}

nix::ioctl_read_bad!(tiocgwinsz, nix::libc::TIOCGWINSZ, nix::libc::winsize);

/// The size (rows, columns) of the terminal on stdout, else stdin, if either is one.
pub fn size() -> Option<(u16, u16)> {
    [io::stdout().as_fd(), io::stdin().as_fd()].into_iter().find_map(|fd| {
        use std::os::fd::AsRawFd;
        let mut ws = nix::libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ only writes one winsize into `ws`, which lives for
        // the call, and the descriptor is borrowed from an open standard stream.
        let ok = unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }.is_ok();
        (ok && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    })
}
