//! Query strings: parsed like axum's `Query`, but a bad one is answered with the
//! API's error body (400 `invalid_request`) instead of axum's plain-text rejection.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use corral_api::ApiError;
use serde::de::DeserializeOwned;

use super::error::HttpError;

/// The query string of a request, deserialised into `T`.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|q| Query(q.0))
            .map_err(|e| HttpError(ApiError::invalid(e.body_text())))
    }
}
