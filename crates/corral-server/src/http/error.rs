//! Errors as HTTP responses: a status from the stable code and an `ApiError` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use corral_api::{ApiError, ErrorCode};

use crate::error::ServerError;

/// An error that becomes a JSON error response.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ServerError> for HttpError {
    fn from(e: ServerError) -> Self {
        HttpError(e.to_api())
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl From<corral_store::StoreError> for HttpError {
    fn from(e: corral_store::StoreError) -> Self {
        HttpError(ServerError::from(e).to_api())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

/// Result of a handler.
pub type HttpResult<T> = Result<T, HttpError>;

/// The answer for unknown paths.
pub async fn not_found(uri: axum::http::Uri) -> HttpError {
    HttpError(ApiError::new(
        ErrorCode::NotFound,
        format!("no such endpoint: {}", uri.path()),
    ))
}
