//! Running commands in nodes: to completion (REST) or interactively (websocket,
//! optionally on a terminal).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;

use corral_agent::Agent;
use corral_api::{ApiError, ErrorCode, ExecRequest, ExecResult, NodeState};
use tokio::io::AsyncWriteExt;

use crate::context::Context;
use crate::error::{Result, ServerError};
use crate::node::NodeRecord;

/// The agent holding a running node.
pub fn agent_for(ctx: &Context, n: &NodeRecord) -> Result<Arc<Agent>> {
    if n.state != NodeState::Running {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("node {} is {}, not running", n.name, n.state.as_str()),
        )
        .into());
    }
    let host = n.host.as_deref().unwrap_or_default();
    ctx.local_agent(host).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Conflict,
            format!(
                "host {host} of node {} is not reachable from this server",
                n.name
            ),
        )
        .into()
    })
}

fn check(req: &ExecRequest) -> Result<()> {
    if req.command.is_empty() || req.command[0].is_empty() {
        return Err(
            ApiError::invalid("command is empty: say what to run, e.g. `-- hostname`").into(),
        );
    }
    Ok(())
}

/// Runs a command to completion and returns its output.
pub async fn run(ctx: &Context, n: &NodeRecord, req: &ExecRequest) -> Result<ExecResult> {
    check(req)?;
    let agent = agent_for(ctx, n)?;
    let std_cmd = agent.exec_command(&n.id, &req.command, false)?;
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| ServerError::Internal(format!("starting exec: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = req.stdin.clone().unwrap_or_default();
        tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
        });
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| ServerError::Internal(format!("exec: {e}")))?;
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

/// An interactive session: a child process and the ends to talk to it.
pub struct Session {
    /// The process.
    pub child: tokio::process::Child,
    /// Terminal master when on a terminal.
    pub pty: Option<OwnedFd>,
}

/// Starts an interactive command, on a new terminal when asked.
pub fn start(ctx: &Context, n: &NodeRecord, req: &ExecRequest) -> Result<Session> {
    check(req)?;
    let agent = agent_for(ctx, n)?;
    // The terminal is ours (below), not crun's: crun copies the size of its own
    // terminal only once, so resizes would be lost.
    let std_cmd = agent.exec_command(&n.id, &req.command, false)?;
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.kill_on_drop(true);
    if !req.tty {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd
            .spawn()
            .map_err(|e| ServerError::Internal(format!("starting exec: {e}")))?;
        return Ok(Session { child, pty: None });
    }
    let pty = nix::pty::openpty(None, None)
        .map_err(|e| ServerError::Internal(format!("openpty: {e}")))?;
    if let Some((rows, cols)) = req.size {
        resize(&pty.master, rows, cols);
    }
    let slave = pty.slave;
    let as_stdio = |fd: &OwnedFd| -> Result<Stdio> {
        Ok(Stdio::from(
            fd.try_clone()
                .map_err(|e| ServerError::Internal(format!("dup: {e}")))?,
        ))
    };
    cmd.stdin(as_stdio(&slave)?)
        .stdout(as_stdio(&slave)?)
        .stderr(as_stdio(&slave)?);
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, ioctl).
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc_ioctl_sctty(0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| ServerError::Internal(format!("starting exec: {e}")))?;
    drop(slave);
    Ok(Session {
        child,
        pty: Some(pty.master),
    })
}

nix::ioctl_write_int_bad!(tiocsctty, nix::libc::TIOCSCTTY);

fn libc_ioctl_sctty(fd: i32) -> i32 {
    // SAFETY: TIOCSCTTY on a valid fd with an int argument.
    match unsafe { tiocsctty(fd, 0) } {
        Ok(_) => 0,
        Err(_) => -1,
    }
}

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
