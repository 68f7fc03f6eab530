//! First start: a bootstrap admin with a random password written to a 0600 file,
//! never a fixed default.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use corral_api::{CreateUserRequest, Role};

use crate::context::Context;
use crate::error::{Result, ServerError};
use crate::user;

/// Name of the bootstrap admin.
pub const ADMIN: &str = "admin";

/// Path of the bootstrap credential file.
pub fn credential_path(ctx: &Context) -> std::path::PathBuf {
    ctx.cfg.data_dir.join("admin.password")
}

/// Creates the admin on first start and writes its password to a 0600 file.
pub fn ensure_admin(ctx: &Context) -> Result<()> {
    if user::get(ctx, ADMIN)?.is_some() {
        return Ok(());
    }
    let password = user::random_secret(16);
    let path = credential_path(ctx);
    std::fs::create_dir_all(&ctx.cfg.data_dir)
        .map_err(|e| ServerError::Internal(format!("creating {}: {e}", ctx.cfg.data_dir.display())))?;
    // Write the file before the user exists: a crash in between leaves a file
    // with an unused password, never a user nobody can log in as.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| ServerError::Internal(format!("writing {}: {e}", path.display())))?;
    f.write_all(format!("{password}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| ServerError::Internal(format!("writing {}: {e}", path.display())))?;
    user::create(
        ctx,
        &CreateUserRequest {
            name: ADMIN.into(),
            password,
            role: Role::Admin,
        },
    )?;
    tracing::info!(path = %path.display(), "created the admin user; its password is in this file");
    Ok(())
}
