//! Users: records, password hashing (argon2), API tokens and who may see what.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use corral_api::{names, ApiError, CreateUserRequest, ErrorCode, Role, TokenResponse, User};
use corral_store::{typed, Compare, Op};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;

/// Shortest password accepted.
const MIN_PASSWORD_LEN: usize = 8;

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// argon2 PHC string.
    pub password_hash: String,
    /// SSH public keys.
    pub ssh_keys: Vec<String>,
    /// Creation time.
    pub created_at: u64,
}

impl UserRecord {
    /// The API view.
    pub fn to_api(&self) -> User {
        User {
            name: self.name.clone(),
            role: self.role,
            ssh_keys: self.ssh_keys.clone(),
            created_at: self.created_at,
        }
    }

    /// Whether this user is the operator.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether this user may see and touch something owned by `owner`.
    pub fn may_access(&self, owner: &str) -> bool {
        self.is_admin() || self.name == owner
    }
}

/// A stored token (the token itself is never stored, only its sha256).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// User it belongs to.
    pub user: String,
    /// Expiry.
    pub expires_at: u64,
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| crate::error::ServerError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crate::error::ServerError::Internal(format!("hashing password: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A random secret of `bytes` bytes, hex-encoded.
pub fn random_secret(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(v)
}

/// Reads a user.
pub fn get(ctx: &Context, name: &str) -> Result<Option<UserRecord>> {
    Ok(typed::get::<UserRecord>(ctx.store.as_ref(), &keys::user(name))?.map(|d| d.value))
}

/// All users.
pub fn list(ctx: &Context) -> Result<Vec<UserRecord>> {
    Ok(typed::list::<UserRecord>(ctx.store.as_ref(), keys::USERS)?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Creates a user; fails with `already_exists` when the name is taken.
pub fn create(ctx: &Context, req: &CreateUserRequest) -> Result<UserRecord> {
    names::validate_name("user", &req.name)?;
    if req.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(format!("password too short: at least {MIN_PASSWORD_LEN} characters")).into());
    }
    let rec = UserRecord {
        name: req.name.clone(),
        role: req.role,
        password_hash: hash_password(&req.password)?,
        ssh_keys: Vec::new(),
        created_at: now(),
    };
    let key = keys::user(&req.name);
    let op = typed::put_op(&key, &rec)?;
    if ctx.store.txn(&[Compare::Absent(key)], &[op])?.is_none() {
        return Err(ApiError::new(ErrorCode::AlreadyExists, format!("user {:?} already exists", req.name)).into());
    }
    Ok(rec)
}

/// Adds an SSH public key to a user.
pub fn add_ssh_key(ctx: &Context, name: &str, key: &str) -> Result<UserRecord> {
    let key = key.trim();
    let looks_right = key.split_whitespace().count() >= 2
        && (key.starts_with("ssh-") || key.starts_with("ecdsa-") || key.starts_with("sk-"));
    if !looks_right || key.contains('\n') {
        return Err(ApiError::invalid("not an OpenSSH public key line (e.g. \"ssh-ed25519 AAAA... me@host\")").into());
    }
    loop {
        let doc = typed::get::<UserRecord>(ctx.store.as_ref(), &keys::user(name))?
            .ok_or_else(|| ApiError::not_found("user", name))?;
        let mut rec = doc.value;
        if !rec.ssh_keys.iter().any(|k| k == key) {
            rec.ssh_keys.push(key.to_string());
        }
        let op = typed::put_op(&doc.key, &rec)?;
        if ctx
            .store
            .txn(&[Compare::ModRevision(doc.key.clone(), doc.revision)], &[op])?
            .is_some()
        {
            return Ok(rec);
        }
    }
}

/// Checks a password and issues a token.
pub fn login(ctx: &Context, name: &str, password: &str, ttl: Option<u64>) -> Result<TokenResponse> {
    let denied = || ApiError::new(ErrorCode::Unauthorized, "wrong user name or password");
    let rec = get(ctx, name)?.ok_or_else(denied)?;
    if !verify_password(password, &rec.password_hash) {
        return Err(denied().into());
    }
    let ttl = ttl.unwrap_or(ctx.cfg.default_token_ttl).clamp(1, ctx.cfg.max_token_ttl);
    issue_token(ctx, &rec.name, ttl)
}

/// Issues a token for a user.
pub fn issue_token(ctx: &Context, user: &str, ttl: u64) -> Result<TokenResponse> {
    let token = format!("crl_{}", random_secret(24));
    let expires_at = now() + ttl;
    let rec = TokenRecord {
        user: user.to_string(),
        expires_at,
    };
    let op = typed::put_op(&keys::token(&token_hash(&token)), &rec)?;
    ctx.store.txn(&[], &[op])?;
    Ok(TokenResponse {
        token,
        expires_at,
        user: user.to_string(),
    })
}

/// The user a bearer token belongs to; expired tokens are removed and refused.
pub fn authenticate(ctx: &Context, token: &str) -> Result<UserRecord> {
    let denied = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_string());
    let key = keys::token(&token_hash(token));
    let rec = typed::get::<TokenRecord>(ctx.store.as_ref(), &key)?
        .ok_or_else(|| denied("invalid token: log in again with `corral login`"))?
        .value;
    if rec.expires_at <= now() {
        let _ = ctx.store.txn(&[], &[Op::Delete(key)]);
        return Err(denied("token expired: log in again with `corral login`").into());
    }
    Ok(get(ctx, &rec.user)?.ok_or_else(|| denied("the token's user no longer exists"))?)
}

impl UserRecord {
    /// Corral itself, for internal look-ups that must see everything.
    pub fn system() -> UserRecord {
        UserRecord {
            name: "corral".into(),
            role: Role::Admin,
            password_hash: String::new(),
            ssh_keys: Vec::new(),
            created_at: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_roundtrip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
    }
}
