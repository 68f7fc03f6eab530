//! Errors of the controller and how they become API errors.

use corral_api::{ApiError, ErrorCode};

/// An error inside the controller.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// An error to return to the caller as it is.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] corral_store::StoreError),
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] corral_image::ImageError),
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] corral_agent::AgentError),
    /// Something else went wrong.
    #[error("{0}")]
    Internal(String),
}

impl ServerError {
    /// The API error a caller sees; internals are logged, not leaked.
    pub fn to_api(&self) -> ApiError {
        match self {
            ServerError::Api(e) => e.clone(),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(ErrorCode::Internal, format!("internal error: {other}"))
            }
        }
    }
}

/// Shorthand for results of the controller.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;
