//! The saved login: which server and token later commands use when no flag says.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::ClientOptions;

/// Server used when neither a flag, the environment nor the config names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7700";

/// What `corral login` saves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The user the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Config {
    /// Reads the config; a missing file is an empty config (nobody logged in yet).
    pub fn load(path: &Path) -> Result<Config> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading config {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("reading config {}", path.display())),
        }
    }

    /// Writes the config readable by its owner only, since it holds a token; the
    /// file is replaced whole so a crash never leaves half a config.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let _ = fs::remove_file(&tmp);
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&serde_json::to_vec_pretty(self)?)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().with_context(|| format!("writing config {}", path.display()))
    }
}

/// The config file: `--config`/`CORRAL_CONFIG`, else the XDG config directory.
pub fn config_path(opts: &ClientOptions) -> Result<PathBuf> {
    if let Some(p) = &opts.config {
        return Ok(p.clone());
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("cannot find the config file: HOME is not set; use --config")?;
            PathBuf::from(home).join(".config")
        }
    };
    Ok(base.join("corral").join("config.json"))
}

/// Where to connect and with which token, after flags, environment and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Server URL without a trailing slash.
    pub server: String,
    /// Bearer token, if any.
    pub token: Option<String>,
}

/// Resolves the server and token: flags and environment win over the saved config.
pub fn resolve(opts: &ClientOptions, saved: &Config) -> Target {
    let server = opts
        .server
        .clone()
        .or_else(|| saved.server.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    // A token belongs to the server it came from, so a saved token is not sent to
    // another server named on the command line.
    let saved_token = match (&opts.server, &saved.server) {
        (Some(flag), Some(saved_server)) if trim(flag) != trim(saved_server) => None,
        _ => saved.token.clone(),
    };
    Target {
        server: trim(&server).to_string(),
        token: opts.token.clone().or(saved_token),
    }
}

fn trim(url: &str) -> &str {
    url.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::OutputFormat;

    fn opts(server: Option<&str>, token: Option<&str>) -> ClientOptions {
        ClientOptions {
            server: server.map(Into::into),
            token: token.map(Into::into),
            output: OutputFormat::Table,
            config: None,
        }
    }

    #[test]
    fn save_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let cfg = Config {
            server: Some("http://h:1".into()),
            token: Some("t".into()),
            user: Some("alice".into()),
        };
        cfg.save(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(Config::load(&path).unwrap(), cfg);
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(&dir.path().join("none.json")).unwrap(), Config::default());
    }

    #[test]
    fn flags_override_config() {
        let saved = Config {
            server: Some("http://saved:1/".into()),
            token: Some("saved-token".into()),
            user: None,
        };
        let t = resolve(&opts(None, None), &saved);
        assert_eq!(t.server, "http://saved:1");
        assert_eq!(t.token.as_deref(), Some("saved-token"));

        let t = resolve(&opts(None, Some("flag-token")), &saved);
        assert_eq!(t.token.as_deref(), Some("flag-token"));

        // Another server: the saved token is not leaked to it.
        let t = resolve(&opts(Some("http://other:2"), None), &saved);
        assert_eq!(t.server, "http://other:2");
        assert_eq!(t.token, None);

        let t = resolve(&opts(None, None), &Config::default());
        assert_eq!(t.server, DEFAULT_SERVER);
    }
}
