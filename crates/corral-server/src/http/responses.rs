//! The responses many routes share, for their OpenAPI annotations
//! (`responses((status = 200, ...), Unauthorized, Internal)`): one wording per case.

use corral_api::{ApiError, Operation};
use utoipa::IntoResponses;

/// Declares response types: never built, each only describes a route's answer.
macro_rules! shared_responses {
    ($($(#[$doc:meta])* $name:ident($body:ty) = $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        #[derive(IntoResponses)]
        #[allow(dead_code)]
        #[response(status = $status, description = $description)]
        pub struct $name($body);
    )*};
}

shared_responses! {
    /// 400 for a route whose query string can be invalid.
    BadQuery(ApiError) = 400, "A query parameter is invalid (`invalid_request`)";
    /// 401 for every route that needs a token.
    Unauthorized(ApiError) = 401, "Missing, invalid or expired token (`unauthorized`)";
    /// 403 for the admin's routes.
    AdminOnly(ApiError) = 403, "Only the admin may do this (`forbidden`)";
    /// 404 for a route that names a resource.
    NotFound(ApiError) = 404, "No such resource, or not visible to the caller (`not_found`)";
    /// 404 for the routes that name a host.
    NoSuchHost(ApiError) = 404, "No such host (`not_found`)";
    /// 500, which every route may answer.
    Internal(ApiError) = 500, "Something went wrong inside Corral (`internal`)";
    /// 202 for the asynchronous routes: the operation that tracks the work.
    AcceptedOperation(Operation) = 202,
        "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)";
    /// 409 for changes to a cluster that another change or its deletion is holding.
    ClusterBusy(ApiError) = 409, "The cluster is being deleted or changed meanwhile (`conflict`)";
    /// 422 for changes that need room in the pool and in the owner's quota.
    NoRoom(ApiError) = 422,
        "Not enough capacity in the pool (`insufficient_capacity`) or over quota (`quota_exceeded`)";
}
