//! Calls to the `crun` command line.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

use super::io_err;
use crate::RuntimeError;

/// Longest tool message kept in an error.
const MAX_MESSAGE: usize = 2000;

/// What `crun state` reports.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct ContainerState {
    /// created, running, paused or stopped.
    pub status: String,
    /// Host pid of init; 0 once stopped.
    #[serde(default)]
    pub pid: u32,
}

impl ContainerState {
    /// Init's pid while the container runs. A container left `created` (crun died
    /// between create and start) does not count: start replaces it.
    pub fn live_pid(&self) -> Option<u32> {
        let active = matches!(self.status.as_str(), "running" | "paused");
        (active && self.pid > 0 && process_alive(self.pid)).then_some(self.pid)
    }
}

/// The crun binary with its own state dir (`--root`).
#[derive(Debug, Clone)]
pub(crate) struct CrunCli {
    binary: PathBuf,
    root: PathBuf,
}

impl CrunCli {
    /// crun from `binary`, keeping its state under `root`.
    pub fn new(binary: PathBuf, root: PathBuf) -> Self {
        Self { binary, root }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command
    }

    /// Creates and starts the container in the background. Init inherits crun's
    /// stdio, so both go to the console log and nothing waits on a pipe.
    pub fn run(&self, id: &str, bundle: &Path, console: &Path) -> Result<(), RuntimeError> {
        let context = || format!("open {}", console.display());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(console)
            .map_err(io_err(context()))?;
        let offset = log.metadata().map_err(io_err(context()))?.len();
        let status = self
            .command()
            .args(["run", "--detach", "--bundle"])
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err(context()))?)
            .stderr(log)
            .status()
            .map_err(io_err("spawn crun run"))?;
        if status.success() {
            return Ok(());
        }
        // crun printed its error into the console log, after `offset`.
        Err(tool_error("run", &read_from(console, offset)))
    }

    /// Sends `signal` to init, or to every process of the container with `all`.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        let mut command = self.command();
        command.arg("kill");
        if all {
            command.arg("--all");
        }
        self.checked(command.arg(id).arg(signal), "kill")
    }

    /// Deletes the container, killing it first if needed; absent is fine.
    pub fn delete(&self, id: &str) -> Result<(), RuntimeError> {
        if !self.exists(id) {
            return Ok(());
        }
        self.checked(self.command().args(["delete", "--force", id]), "delete")
    }

    /// The container's state, `None` when crun does not know it.
    pub fn state(&self, id: &str) -> Result<Option<ContainerState>, RuntimeError> {
        if !self.exists(id) {
            return Ok(None);
        }
        let output = self.output(self.command().args(["state", id]))?;
        if !output.status.success() {
            // Deleted between our check and crun's read.
            if !self.exists(id) {
                return Ok(None);
            }
            return Err(tool_error("state", &String::from_utf8_lossy(&output.stderr)));
        }
        serde_json::from_slice(&output.stdout)
            .map(Some)
            .map_err(|e| tool_error("state", &format!("unreadable output: {e}")))
    }

    /// Ids of the containers crun knows.
    pub fn list(&self) -> Result<Vec<String>, RuntimeError> {
        if !self.root.is_dir() {
            return Ok(Vec::new());
        }
        let output = self.output(self.command().args(["list", "--quiet"]))?;
        if !output.status.success() {
            return Err(tool_error("list", &String::from_utf8_lossy(&output.stderr)));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// A command running `argv` in the container with init's environment, cwd and
    /// capabilities (crun exec takes them from the container's config, all but
    /// no_new_privs, which must be asked for).
    pub fn exec(&self, id: &str, argv: &[String], tty: bool) -> Command {
        let mut command = self.command();
        command.args(["exec", "--no-new-privs"]);
        if tty {
            command.arg("--tty");
        }
        command.arg(id).args(argv);
        command
    }

    /// crun keeps one dir per container under its root; checking it avoids spawning
    /// crun just to hear that a container does not exist.
    fn exists(&self, id: &str) -> bool {
        self.root.join(id).is_dir()
    }

    fn output(&self, command: &mut Command) -> Result<Output, RuntimeError> {
        command
            .stdin(Stdio::null())
            .output()
            .map_err(io_err(format!("spawn {}", self.binary.display())))
    }

    fn checked(&self, command: &mut Command, action: &str) -> Result<(), RuntimeError> {
        let output = self.output(command)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(tool_error(action, &String::from_utf8_lossy(&output.stderr)))
        }
    }
}

/// Whether a process lives: it exists and is not a zombie waiting to be reaped (the
/// container's init is reparented to the host's init, which may reap it late).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

fn tool_error(action: &str, message: &str) -> RuntimeError {
    let message = message.trim();
    let start = message.len().saturating_sub(MAX_MESSAGE);
    let start = (start..message.len())
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    RuntimeError::Tool {
        tool: "crun".to_string(),
        action: action.to_string(),
        message: message[start..].to_string(),
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crun_state() {
        let json = r#"{"ociVersion":"1.0.0","id":"a","pid":42,"status":"running","bundle":"/b"}"#;
        let state: ContainerState = serde_json::from_str(json).unwrap();
        assert_eq!(
            state,
            ContainerState {
                status: "running".into(),
                pid: 42
            }
        );
    }

    #[test]
    fn stopped_containers_have_no_live_pid() {
        let state = ContainerState {
            status: "stopped".into(),
            pid: std::process::id(),
        };
        assert_eq!(state.live_pid(), None);
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn tool_errors_keep_the_tail() {
        let long = "x".repeat(MAX_MESSAGE + 10) + "end";
        let RuntimeError::Tool { message, .. } = tool_error("run", &long) else {
            panic!("not a tool error");
        };
        assert!(message.ends_with("end"));
        assert_eq!(message.len(), MAX_MESSAGE);
    }
}
