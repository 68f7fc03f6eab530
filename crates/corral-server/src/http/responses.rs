//! The error responses many routes share, for their OpenAPI annotations
//! (`responses((status = 200, ...), Unauthorized, Internal)`): one wording per case.

use corral_api::ApiError;
use utoipa::IntoResponses;

/// 400 for a route whose query string can be invalid.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(status = 400, description = "A query parameter is invalid (`invalid_request`)")]
pub struct BadQuery(ApiError);

/// 401 for every route that needs a token.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(status = 401, description = "Missing, invalid or expired token (`unauthorized`)")]
pub struct Unauthorized(ApiError);

/// 403 for the admin's routes.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(status = 403, description = "Only the admin may do this (`forbidden`)")]
pub struct AdminOnly(ApiError);

/// 404 for a route that names a resource.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(
    status = 404,
    description = "No such resource, or not visible to the caller (`not_found`)"
)]
pub struct NotFound(ApiError);

/// 500, which every route may answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(status = 500, description = "Something went wrong inside Corral (`internal`)")]
pub struct Internal(ApiError);
