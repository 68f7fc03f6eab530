//! Stable error codes and the error body every 4xx/5xx response carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stable, machine-readable error code; clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body could not be parsed as JSON or YAML of the expected shape.
    MalformedRequest,
    /// A field has a value outside what is allowed.
    InvalidRequest,
    /// A name breaks the DNS-label rules.
    InvalidName,
    /// The resource does not exist (or is not visible to the caller).
    NotFound,
    /// A resource with this name already exists.
    AlreadyExists,
    /// The image named in the request does not exist or is not visible.
    UnknownImage,
    /// The pool does not have the capacity the request needs.
    InsufficientCapacity,
    /// The request would exceed the caller's quota.
    QuotaExceeded,
    /// Missing, invalid or expired credentials.
    Unauthorized,
    /// Authenticated but not allowed.
    Forbidden,
    /// The resource is in a state that does not allow this action.
    Conflict,
    /// Too many requests in a short time; try again in a few seconds.
    RateLimited,
    /// Something went wrong inside Corral.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is returned with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedRequest
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidName
            | ErrorCode::UnknownImage => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists | ErrorCode::Conflict => 409,
            ErrorCode::InsufficientCapacity | ErrorCode::QuotaExceeded => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[schema(example = json!({"code": "not_found", "message": "cluster \"demo\" not found"}))]
#[error("{message} ({code:?})")]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, in words a person understands.
    pub message: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// A not-found error for a kind of resource and its name.
    pub fn not_found(kind: &str, name: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("{kind} {name:?} not found"))
    }

    /// An invalid-request error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }
}
