//! `corral user ...`: list, create, add-key.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use corral_api::{AddSshKeyRequest, CreateUserRequest, Role, User};

use super::page::{self, PageArgs};
use super::Ctx;
use crate::password::PasswordArgs;

/// Verbs of `corral user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users (admins only)
    List(PageArgs),
    /// Create a user (admins only)
    Create(CreateUserArgs),
    /// Add an SSH public key, installed into the user's nodes
    AddKey {
        /// User name
        name: String,
        /// OpenSSH public key file, e.g. ~/.ssh/id_ed25519.pub
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
}

/// Arguments of `corral user create`.
#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// User name
    pub name: String,
    /// Make the user an operator of the pool
    #[arg(long)]
    pub admin: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Runs one `corral user` verb.
pub async fn run(cmd: UserCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        UserCommand::List(p) => page::show::<User>(ctx, &["v1", "users"], Vec::new(), p).await?,
        UserCommand::Create(a) => {
            let password = a.password.read(&format!("Password for new user {}: ", a.name), true)?;
            let body = CreateUserRequest {
                name: a.name,
                password,
                role: if a.admin { Role::Admin } else { Role::User },
            };
            let user: User = ctx.client.post(&["v1", "users"], &body).await?;
            ctx.show(&user)?;
        }
        UserCommand::AddKey { name, key_file } => {
            let key = read_key(&key_file)?;
            let user: User = ctx
                .client
                .post(&["v1", "users", &name, "ssh-keys"], &AddSshKeyRequest { key })
                .await?;
            ctx.show(&user)?;
        }
    }
    Ok(0)
}

/// The key line of a public key file; a private key given by mistake is refused
/// before it leaves the machine.
fn read_key(path: &PathBuf) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
    let key = text.trim();
    if key.contains("PRIVATE KEY") {
        bail!("{} is a private key; give the .pub file", path.display());
    }
    if key.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_private_keys() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("id");
        std::fs::write(&private, "-----BEGIN OPENSSH PRIVATE KEY-----\n...").unwrap();
        assert!(read_key(&private).is_err());
        let public = dir.path().join("id.pub");
        std::fs::write(&public, "ssh-ed25519 AAAA me@host\n").unwrap();
        assert_eq!(read_key(&public).unwrap(), "ssh-ed25519 AAAA me@host");
    }
}
