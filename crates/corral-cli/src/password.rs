//! Reading a password from a file, from stdin or from the terminal without echo.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::terminal::TermiosGuard;

/// Where the password comes from; when neither flag is given, it is asked for.
#[derive(Debug, Clone, Default, Args)]
#[group(multiple = false)]
pub struct PasswordArgs {
    /// Read the password from the first line of this file
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordArgs {
    /// The password; `confirm` asks twice when prompting (new passwords).
    pub fn read(&self, prompt: &str, confirm: bool) -> Result<String> {
        let password = if let Some(path) = &self.password_file {
            let text = fs::read_to_string(path).with_context(|| format!("reading password file {}", path.display()))?;
            first_line(&text).to_string()
        } else if self.password_stdin {
            let mut line = String::new();
            io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            first_line(&line).to_string()
        } else {
            let first = prompt_hidden(prompt)?;
            if confirm && prompt_hidden("Repeat the password: ")? != first {
                bail!("the passwords do not match");
            }
            first
        };
        if password.is_empty() {
            bail!("the password is empty");
        }
        Ok(password)
    }
}

/// The first line without its line ending; other spaces may be part of a password.
fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

/// Asks on the controlling terminal, so a password never lands in a pipe or a log.
fn prompt_hidden(prompt: &str) -> Result<String> {
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("no terminal to ask for the password on; use --password-file or --password-stdin")?;
    let mut out = &tty;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let _guard = TermiosGuard::no_echo(&tty).context("turning off terminal echo")?;
    let mut line = String::new();
    BufReader::new(&tty).read_line(&mut line)?;
    Ok(first_line(&line).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_stripped() {
        assert_eq!(first_line("s3cret\n"), "s3cret");
        assert_eq!(first_line("s3cret\r\nmore"), "s3cret");
        assert_eq!(first_line(" spaced \n"), " spaced ");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn reads_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        fs::write(&path, "hunter22\n").unwrap();
        let args = PasswordArgs {
            password_file: Some(path),
            password_stdin: false,
        };
        assert_eq!(args.read("", false).unwrap(), "hunter22");
    }
}
