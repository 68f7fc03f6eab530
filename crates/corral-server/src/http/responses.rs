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

/// 202 for the asynchronous routes: the operation that tracks the work.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(
    status = 202,
    description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)"
)]
pub struct AcceptedOperation(corral_api::Operation);

/// 409 for changes to a cluster that another change or its deletion is holding.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(
    status = 409,
    description = "The cluster is being deleted or changed meanwhile (`conflict`)"
)]
pub struct ClusterBusy(ApiError);

/// 422 for changes that need room in the pool and in the owner's quota.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(
    status = 422,
    description = "Not enough capacity in the pool (`insufficient_capacity`) or over quota (`quota_exceeded`)"
)]
pub struct NoRoom(ApiError);

/// 404 for the routes that name a host.
#[derive(IntoResponses)]
#[allow(dead_code)] // never built: it only describes the route
#[response(status = 404, description = "No such host (`not_found`)")]
pub struct NoSuchHost(ApiError);
