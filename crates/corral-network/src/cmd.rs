//! Runs the `ip` and `nft` tools; the one place that spawns processes, so a netlink
//! backend can replace it without touching the driver's logic.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::NetworkError;

/// Runs `program args…`, feeding `stdin` when given; returns what it printed.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, NetworkError> {
    let line = command_line(program, args);
    tracing::debug!(command = %line, "run");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| io_error(&line, source))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| io_error(&line, source))?;
    }
    let out = child.wait_with_output().map_err(|source| io_error(&line, source))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(NetworkError::Command {
        command: with_script(line, stdin),
        message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Runs a script of `ip` commands in one process, inside namespace `netns` if given.
pub fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<(), NetworkError> {
    if lines.is_empty() {
        return Ok(());
    }
    let script = lines.join("\n") + "\n";
    match netns {
        Some(ns) => run("ip", &["-n", ns, "-batch", "-"], Some(&script)),
        None => run("ip", &["-batch", "-"], Some(&script)),
    }
    .map(drop)
}

/// Runs a script of `bridge` commands (FDB entries) in one process.
pub fn bridge_batch(lines: &[String]) -> Result<(), NetworkError> {
    if lines.is_empty() {
        return Ok(());
    }
    run("bridge", &["-batch", "-"], Some(&(lines.join("\n") + "\n"))).map(drop)
}

/// Applies an nftables script as one transaction.
pub fn nft_script(script: &str) -> Result<(), NetworkError> {
    run("nft", &["-f", "-"], Some(script)).map(drop)
}

/// Applies an nftables script unless it is empty.
pub fn nft_script_if_any(script: &str) -> Result<(), NetworkError> {
    if script.is_empty() {
        return Ok(());
    }
    nft_script(script)
}

/// True when a failed command complained that its target does not exist.
pub fn is_not_found(err: &NetworkError) -> bool {
    match err {
        NetworkError::Command { message, .. } => {
            message.contains("Cannot find device")
                || message.contains("No such file or directory")
                || message.contains("does not exist")
        }
        _ => false,
    }
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Batch failures name a line number only, so keep the script in the error.
fn with_script(line: String, stdin: Option<&str>) -> String {
    match stdin {
        Some(script) => format!("{line} <<< '{}'", script.trim().replace('\n', "; ")),
        None => line,
    }
}

fn io_error(line: &str, source: std::io::Error) -> NetworkError {
    NetworkError::Io {
        context: format!("running {line}"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_command_and_stderr() {
        let err = run("sh", &["-c", "echo oops >&2; exit 3"], None).unwrap_err();
        assert_eq!(err.to_string(), "sh -c echo oops >&2; exit 3 failed: oops");
    }

    #[test]
    fn stdin_is_fed_and_stdout_returned() {
        assert_eq!(run("cat", &[], Some("hi")).unwrap(), "hi");
    }

    #[test]
    fn missing_things_are_recognised() {
        let err = run("sh", &["-c", "echo 'Cannot find device \"x\"' >&2; exit 1"], None).unwrap_err();
        assert!(is_not_found(&err));
    }
}
