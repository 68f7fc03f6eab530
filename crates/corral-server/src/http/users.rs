//! `/v1/login`, `/v1/whoami`, `/v1/users`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use corral_api::{AddSshKeyRequest, ApiError, CreateUserRequest, ErrorCode, LoginRequest, TokenResponse, User};

use super::auth::{require_admin, Caller};
use super::body::Body;
use super::error::{HttpError, HttpResult};
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{AdminOnly, BadQuery, Internal, NotFound, Unauthorized};
use crate::context::Context;
use crate::{event, user};

/// `POST /v1/login`: a token for a name and password.
#[utoipa::path(
    post,
    path = "/v1/login",
    operation_id = "login",
    tag = "users",
    request_body(description = "Name and password (JSON, or YAML with a `yaml` content type)", content((LoginRequest = "application/json"), (LoginRequest = "application/yaml"))),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 400, description = "Malformed body (`malformed_request`)", body = ApiError),
        (status = 401, description = "Wrong user name or password (`unauthorized`)", body = ApiError),
        Internal,
    ),
)]
pub async fn login(State(ctx): State<Arc<Context>>, Body(req): Body<LoginRequest>) -> HttpResult<Json<TokenResponse>> {
    // argon2 takes tens of milliseconds of cpu: keep it off the async workers.
    let c = ctx.clone();
    let t = tokio::task::spawn_blocking(move || user::login(&c, &req.name, &req.password, req.ttl_seconds))
        .await
        .map_err(|e| HttpError(ApiError::new(ErrorCode::Internal, e.to_string())))??;
    Ok(Json(t))
}

/// `GET /v1/whoami`.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    operation_id = "whoami",
    tag = "users",
    responses(
        (status = 200, description = "The caller", body = User),
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn whoami(caller: Caller) -> Json<User> {
    Json(caller.0.to_api())
}

/// `GET /v1/users`: every user (admin) or oneself, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/users",
    operation_id = "list_users",
    tag = "users",
    params(PageQuery),
    responses(
        (status = 200, description = "Every user for the admin, oneself for a user, by name", body = [User],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<User>> {
    let users = if caller.0.is_admin() {
        user::list(&ctx)?.iter().map(|u| u.to_api()).collect()
    } else {
        vec![caller.0.to_api()]
    };
    page::paginate(users, |u| u.name.clone(), &p, &uri)
}

/// `POST /v1/users` (admin).
#[utoipa::path(
    post,
    path = "/v1/users",
    operation_id = "create_user",
    tag = "users",
    request_body(description = "The new user (JSON, or YAML with a `yaml` content type)", content((CreateUserRequest = "application/json"), (CreateUserRequest = "application/yaml"))),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Malformed body (`malformed_request`), a bad name (`invalid_name`) or a password too short (`invalid_request`)", body = ApiError),
        Unauthorized,
        AdminOnly,
        (status = 409, description = "A user of this name exists (`already_exists`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Body(req): Body<CreateUserRequest>,
) -> HttpResult<(StatusCode, Json<User>)> {
    require_admin(&caller)?;
    let c = ctx.clone();
    let rec = tokio::task::spawn_blocking(move || user::create(&c, &req))
        .await
        .map_err(|e| HttpError(ApiError::new(ErrorCode::Internal, e.to_string())))??;
    event::record(
        &ctx,
        &caller.0.name,
        &format!("users/{}", rec.name),
        "user.created",
        "created",
    );
    Ok((StatusCode::CREATED, Json(rec.to_api())))
}

/// `POST /v1/users/{name}/ssh-keys`: oneself, or anyone for the admin.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/ssh-keys",
    operation_id = "add_ssh_key",
    tag = "users",
    params(
        ("name" = String, Path, description = "User name", example = "alice"),
    ),
    request_body(description = "An OpenSSH public key line (JSON, or YAML with a `yaml` content type)", content((AddSshKeyRequest = "application/json"), (AddSshKeyRequest = "application/yaml"))),
    responses(
        (status = 200, description = "The user with the key added", body = User),
        (status = 400, description = "Malformed body (`malformed_request`) or not an OpenSSH public key line (`invalid_request`)", body = ApiError),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn add_key(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<AddSshKeyRequest>,
) -> HttpResult<Json<User>> {
    if !caller.0.may_access(&name) {
        return Err(ApiError::not_found("user", &name).into());
    }
    Ok(Json(user::add_ssh_key(&ctx, &name, &req.key)?.to_api()))
}
