//! Commands in this host's nodes: to completion, or as a session whose input,
//! output and terminal size travel over channels (to a websocket, in-process or
//! through the agent's listener).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use corral_api::{ExecRequest, ExecResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::control_plane::AgentError;
use crate::Agent;

/// How long a terminal's output is still read after its command ended: the master
/// stays readable for as long as anything else holds the terminal.
const PTY_DRAIN: Duration = Duration::from_millis(300);

/// What the caller of a session sends to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecInput {
    /// Bytes for the command's standard input (or terminal).
    Data(Vec<u8>),
    /// A new terminal size: rows, columns.
    Resize(u16, u16),
    /// No more input: the command's standard input is closed.
    Eof,
}

/// What a session sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    /// Output of the command (standard output and error, or the terminal).
    Data(Vec<u8>),
    /// The command ended with this code; nothing follows.
    Exit(i32),
    /// The session failed (e.g. the command could not start); nothing follows.
    Error(String),
}

/// The caller's ends of a session. Dropping `input` ends the session and kills the
/// command.
#[derive(Debug)]
pub struct ExecSession {
    /// Input, resizes and end of input.
    pub input: mpsc::Sender<ExecInput>,
    /// Output, then the exit code.
    pub output: mpsc::Receiver<ExecOutput>,
}

/// The ends that drive a session: where its input arrives, where its output goes.
pub struct SessionDriver {
    /// Input from the caller; closed when the caller leaves.
    pub input: mpsc::Receiver<ExecInput>,
    /// Output to the caller.
    pub output: mpsc::Sender<ExecOutput>,
}

impl ExecSession {
    /// A new session and the driver's ends of it.
    pub fn pair() -> (ExecSession, SessionDriver) {
        let (in_tx, in_rx) = mpsc::channel(64);
        let (out_tx, out_rx) = mpsc::channel(64);
        (
            ExecSession {
                input: in_tx,
                output: out_rx,
            },
            SessionDriver {
                input: in_rx,
                output: out_tx,
            },
        )
    }
}

/// Refuses an empty command before anything starts.
pub fn check(req: &ExecRequest) -> Result<(), AgentError> {
    if req.command.is_empty() || req.command[0].is_empty() {
        return Err(AgentError::Invalid(
            "command is empty: say what to run, e.g. `-- hostname`".into(),
        ));
    }
    Ok(())
}

fn spawn_err(e: std::io::Error) -> AgentError {
    AgentError::Io {
        context: "starting exec".into(),
        source: e,
    }
}

/// Runs a command in node `id` to completion and returns its output.
pub async fn run(agent: &Agent, id: &str, req: &ExecRequest) -> Result<ExecResult, AgentError> {
    check(req)?;
    let mut cmd = tokio::process::Command::from(agent.exec_command(id, &req.command, false)?);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = req.stdin.clone().unwrap_or_default();
        tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
        });
    }
    let out = child.wait_with_output().await.map_err(|e| AgentError::Io {
        context: "exec".into(),
        source: e,
    })?;
    Ok(ExecResult {
        exit_code: exit_code(out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The shell's convention: the exit status, or 128 + the signal that killed it.
pub fn exit_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Starts a command in node `id`, on a new terminal when asked, and returns the
/// session that carries its input and output.
pub fn start(agent: &Agent, id: &str, req: &ExecRequest) -> Result<ExecSession, AgentError> {
    check(req)?;
    // The terminal is ours (below), not crun's: crun copies the size of its own
    // terminal only once, so resizes would be lost.
    let mut cmd = tokio::process::Command::from(agent.exec_command(id, &req.command, false)?);
    cmd.kill_on_drop(true);
    let (session, driver) = ExecSession::pair();
    if !req.tty {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let input: Box<dyn AsyncWrite + Unpin + Send> = Box::new(child.stdin.take().expect("piped"));
        let pumps = vec![
            pump(child.stdout.take().expect("piped"), driver.output.clone()),
            pump(child.stderr.take().expect("piped"), driver.output.clone()),
        ];
        tokio::spawn(drive(child, input, None, pumps, driver));
        return Ok(session);
    }
    let pty = nix::pty::openpty(None, None).map_err(|e| AgentError::Invalid(format!("openpty: {e}")))?;
    if let Some((rows, cols)) = req.size {
        resize(&pty.master, rows, cols);
    }
    let dup = |fd: &OwnedFd| {
        fd.try_clone().map_err(|e| AgentError::Io {
            context: "dup of a terminal".into(),
            source: e,
        })
    };
    cmd.stdin(Stdio::from(dup(&pty.slave)?))
        .stdout(Stdio::from(dup(&pty.slave)?))
        .stderr(Stdio::from(dup(&pty.slave)?));
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, ioctl).
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // SAFETY: TIOCSCTTY on fd 0, the terminal's slave, with an int argument.
            tiocsctty(0, 0).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(spawn_err)?;
    drop(pty.slave);
    let reader = tokio::fs::File::from_std(std::fs::File::from(dup(&pty.master)?));
    let writer: Box<dyn AsyncWrite + Unpin + Send> =
        Box::new(tokio::fs::File::from_std(std::fs::File::from(dup(&pty.master)?)));
    let pumps = vec![pump(reader, driver.output.clone())];
    tokio::spawn(drive(child, writer, Some(pty.master), pumps, driver));
    Ok(session)
}

/// Copies a stream of the command to the session's output until it ends.
fn pump<R: AsyncRead + Unpin + Send + 'static>(mut r: R, out: mpsc::Sender<ExecOutput>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.send(ExecOutput::Data(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// Feeds input to the command until it ends, then sends the rest of its output and
/// its exit code. Returning early (the caller left) drops the child, which kills it.
async fn drive(
    mut child: Child,
    mut input: Box<dyn AsyncWrite + Unpin + Send>,
    master: Option<OwnedFd>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    mut driver: SessionDriver,
) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            msg = driver.input.recv() => match msg {
                Some(ExecInput::Data(b)) => {
                    let _ = input.write_all(&b).await;
                    let _ = input.flush().await;
                }
                Some(ExecInput::Resize(rows, cols)) => {
                    if let Some(m) = &master {
                        resize(m, rows, cols);
                    }
                }
                Some(ExecInput::Eof) => input = Box::new(tokio::io::sink()),
                None => return,
            },
        }
    };
    drop(input);
    let drained = async {
        for p in pumps {
            if master.is_some() {
                // A terminal's master does not end while something else holds it.
                let abort = p.abort_handle();
                if tokio::time::timeout(PTY_DRAIN, p).await.is_err() {
                    abort.abort();
                }
            } else {
                let _ = p.await;
            }
        }
    };
    let caller_gone = async { while driver.input.recv().await.is_some() {} };
    tokio::select! {
        _ = drained => {}
        _ = caller_gone => return,
    }
    let last = match status {
        Ok(st) => ExecOutput::Exit(exit_code(st)),
        Err(e) => ExecOutput::Error(format!("waiting for the command: {e}")),
    };
    let _ = driver.output.send(last).await;
}

nix::ioctl_write_int_bad!(tiocsctty, nix::libc::TIOCSCTTY);
nix::ioctl_write_ptr_bad!(tiocswinsz, nix::libc::TIOCSWINSZ, nix::libc::winsize);

/// Sets a terminal's size.
pub fn resize(master: &OwnedFd, rows: u16, cols: u16) {
    let ws = nix::libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a pointer to a valid winsize on a terminal fd.
    let _ = unsafe { tiocswinsz(master.as_raw_fd(), &ws) };
}
