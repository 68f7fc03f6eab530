//! Request bodies in JSON or YAML, with malformed ones answered by a clear 400.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use corral_api::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;

use super::error::HttpError;

/// A body parsed as JSON, or as YAML when the content type says so.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let yaml = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("yaml"));
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            HttpError(ApiError::new(
                ErrorCode::MalformedRequest,
                format!("cannot read body: {e}"),
            ))
        })?;
        let malformed = |what: &str, e: String| {
            HttpError(ApiError::new(
                ErrorCode::MalformedRequest,
                format!("malformed {what} body: {e}"),
            ))
        };
        let value = if yaml {
            // Through JSON's data model, so YAML is typed as strictly as JSON: serde_yaml
            // alone would take `name: false` or `name: null` as the strings "false" and
            // "null", which the schema (type: string) says are refused.
            let data: serde_json::Value =
                serde_yaml::from_slice(&bytes).map_err(|e| malformed("YAML", e.to_string()))?;
            if !data.is_object() {
                return Err(malformed("YAML", "expected a mapping".into()));
            }
            serde_json::from_value(data).map_err(|e| malformed("YAML", e.to_string()))?
        } else {
            // Every body is an object; serde would also read a struct from an array.
            if !bytes.trim_ascii_start().starts_with(b"{") {
                return Err(malformed("JSON", "expected an object".into()));
            }
            serde_json::from_slice(&bytes).map_err(|e| malformed("JSON", e.to_string()))?
        };
        Ok(Body(value))
    }
}
