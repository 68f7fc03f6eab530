//! Where a command prints: the process's stdout and stderr, or buffers in tests.

use std::io::{self, IsTerminal, Write};

/// The two output streams of a command and whether a person watches stderr.
pub struct Console {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    err_is_terminal: bool,
}

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio() -> Self {
        Console {
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
            err_is_terminal: io::stderr().is_terminal(),
        }
    }

    /// Any two writers; progress is shown only when `err_is_terminal`.
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, err_is_terminal: bool) -> Self {
        Console {
            out,
            err,
            err_is_terminal,
        }
    }

    /// Writes text to stdout; a closed pipe is not worth an error message.
    pub fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Writes a message line to stderr.
    pub fn note(&mut self, line: &str) {
        let _ = writeln!(self.err, "{line}");
    }

    /// Writes an error report (already formatted as `error: ...` lines) to stderr.
    pub fn error(&mut self, report: &str) {
        let _ = writeln!(self.err, "{report}");
        let _ = self.err.flush();
    }

    /// Rewrites the current stderr line with a progress message, if a person watches.
    pub fn progress(&mut self, line: &str) {
        if self.err_is_terminal {
            let _ = write!(self.err, "\r\x1b[2K{line}");
            let _ = self.err.flush();
        }
    }

    /// Clears the progress line, if one was shown.
    pub fn end_progress(&mut self) {
        if self.err_is_terminal {
            let _ = write!(self.err, "\r\x1b[2K");
            let _ = self.err.flush();
        }
    }

    /// Writes raw bytes to stdout or stderr (command output) and flushes them at once.
    pub fn write_stream(&mut self, to_stderr: bool, bytes: &[u8]) -> io::Result<()> {
        let w = if to_stderr { &mut self.err } else { &mut self.out };
        w.write_all(bytes)?;
        w.flush()
    }
}
