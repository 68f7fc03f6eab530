//! Users, logins and API tokens.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Operator of the pool: sees and touches everything, creates users.
    Admin,
    /// Sees and touches only what they own.
    User,
}

/// A user as the API returns it (never with a password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "alice", "role": "user", "ssh_keys": [], "created_at": 1795328211}))]
pub struct User {
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// SSH public keys installed into the user's nodes.
    pub ssh_keys: Vec<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

/// Body of `POST /v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "alice", "password": "correct-horse-battery", "role": "user"}))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// User name (a DNS label).
    pub name: String,
    /// Password, at least 8 characters.
    pub password: String,
    /// Role; `user` when absent.
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_role() -> Role {
    Role::User
}

/// Body of `POST /v1/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "alice", "password": "correct-horse-battery", "ttl_seconds": 86400}))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Token lifetime in seconds; bounded by the server's maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

/// An API token, returned once at login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"token": "crl_333c220e0451fc864242d14d47ec2457e01a016eee50923b", "expires_at": 1795414611, "user": "alice"}))]
pub struct TokenResponse {
    /// Bearer token.
    pub token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The user it belongs to.
    pub user: String,
}

/// Body of `POST /v1/users/{name}/ssh-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c2VyLWtleS1leGFtcGxlLW5vdC1yZWFs alice@laptop"}))]
#[serde(deny_unknown_fields)]
pub struct AddSshKeyRequest {
    /// OpenSSH public key line.
    pub key: String,
}
