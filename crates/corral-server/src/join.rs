//! One-time join tokens: `crj1.<secret>.<CA fingerprint>`. Only the sha256 of the
//! secret is stored; using a token deletes it in the same transaction that checks it.

use corral_api::{ApiError, ErrorCode, JoinToken};
use corral_store::{typed, Compare, Op};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;

/// Default token lifetime.
pub const DEFAULT_TTL: u64 = 3600;
/// Longest token lifetime.
pub const MAX_TTL: u64 = 7 * 24 * 3600;

/// A stored join token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    expires_at: u64,
    created_by: String,
}

fn hash(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Makes a token valid for `ttl` seconds.
pub fn create(ctx: &Context, ca_fingerprint: &str, ttl: Option<u64>, by: &str) -> Result<JoinToken> {
    let ttl = ttl.unwrap_or(DEFAULT_TTL).clamp(1, MAX_TTL);
    let secret = crate::user::random_secret(20);
    let rec = TokenRecord {
        expires_at: now() + ttl,
        created_by: by.to_string(),
    };
    ctx.store
        .txn(&[], &[typed::put_op(&keys::join_token(&hash(&secret)), &rec)?])?;
    Ok(JoinToken {
        token: format!("crj1.{secret}.{ca_fingerprint}"),
        expires_at: rec.expires_at,
    })
}

/// Uses up a token; refuses unknown, used and expired ones alike.
pub fn consume(ctx: &Context, token: &str) -> Result<()> {
    let refused = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "join token is invalid, already used or expired: ask the operator for a new one (`corral host join-token`)",
        )
    };
    let secret = token.split('.').nth(1).ok_or_else(refused)?;
    let key = keys::join_token(&hash(secret));
    let doc = typed::get::<TokenRecord>(ctx.store.as_ref(), &key)?.ok_or_else(refused)?;
    // Deleted whether or not it is still valid: an expired token is of no use.
    let used = ctx
        .store
        .txn(&[Compare::ModRevision(key.clone(), doc.revision)], &[Op::Delete(key)])?;
    if used.is_none() || doc.value.expires_at <= now() {
        return Err(refused().into());
    }
    Ok(())
}
