//! `/v1/images`: list, show, build, import, share, unshare, delete.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use corral_api::{ApiError, BuildImageRequest, ErrorCode, Image, ImageSource, Operation, Visibility};
use futures_util::TryStreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::auth::Caller;
use super::body::Body;
use super::error::{HttpError, HttpResult};
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{AcceptedOperation, BadQuery, Internal, NotFound, Unauthorized};
use crate::context::Context;
use crate::node::{self, Desired};
use crate::operation::{self, WaitFor};
use crate::{event, image};

type Accepted = (StatusCode, Json<Operation>);

/// `GET /v1/images`: sorted by name, then owner.
#[utoipa::path(
    get,
    path = "/v1/images",
    operation_id = "list_images",
    tag = "images",
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's images and the public ones, by name and owner", body = [Image],
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
) -> HttpResult<Paged<Image>> {
    let v: Vec<Image> = image::visible(&ctx, &caller.0)?.iter().map(|i| i.to_api()).collect();
    page::paginate(v, |i| format!("{}\0{}", i.name, i.owner), &p, &uri)
}

/// `GET /v1/images/{name}`.
#[utoipa::path(
    get,
    path = "/v1/images/{name}",
    operation_id = "get_image",
    tag = "images",
    params(
        ("name" = String, Path, description = "Image name", example = "minimal"),
    ),
    responses(
        (status = 200, description = "OK", body = Image),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Image>> {
    let rec = image::resolve(&ctx, &caller.0, &name)?.ok_or_else(|| ApiError::not_found("image", &name))?;
    Ok(Json(rec.to_api()))
}

/// Runs a blocking image-store task as an operation that records the image at the end.
fn spawn_task<F>(
    ctx: &Arc<Context>,
    op_id: String,
    owner: String,
    name: String,
    source: ImageSource,
    vis: Visibility,
    f: F,
) where
    F: FnOnce(&Context) -> Result<corral_image::ImageManifest, corral_image::ImageError> + Send + 'static,
{
    let c = ctx.clone();
    tokio::spawn(async move {
        let c2 = c.clone();
        let made = tokio::task::spawn_blocking(move || f(&c2)).await;
        let result = match made {
            Ok(Ok(m)) => image::put(&c, &owner, &name, &m, source, vis)
                .map(|r| format!("image {} ready ({})", r.name, &r.digest[..19.min(r.digest.len())]))
                .map_err(|e| e.to_api()),
            Ok(Err(e)) => Err(ApiError::new(ErrorCode::InvalidRequest, e.to_string())),
            Err(e) => Err(ApiError::new(ErrorCode::Internal, e.to_string())),
        };
        if result.is_ok() {
            event::record(&c, &owner, &format!("images/{name}"), "image.created", "created");
        }
        let _ = operation::finish(&c, &op_id, result);
    });
}

/// `POST /v1/images/build`: builds a recipe; admin builds are public.
#[utoipa::path(
    post,
    path = "/v1/images/build",
    operation_id = "build_image",
    tag = "images",
    request_body(description = "The recipe to build (JSON, or YAML with a `yaml` content type)", content((BuildImageRequest = "application/json"), (BuildImageRequest = "application/yaml"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "Malformed body (`malformed_request`), an unknown recipe (`invalid_request`) or a bad name (`invalid_name`)", body = ApiError),
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn build(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Body(req): Body<BuildImageRequest>,
) -> HttpResult<Accepted> {
    let name = req.name.clone().unwrap_or_else(|| req.recipe.clone());
    corral_api::names::validate_name("image", &name)?;
    let recipe = req.recipe.clone();
    if !["minimal", "debian", "slurm"].contains(&recipe.as_str()) {
        return Err(ApiError::invalid(format!("unknown recipe {recipe:?}: choose minimal, debian or slurm")).into());
    }
    let op = operation::new("image.build", &format!("images/{name}"), &caller.0.name, WaitFor::Task);
    operation::insert(&ctx, &op)?;
    let vis = if caller.0.is_admin() {
        Visibility::Public
    } else {
        Visibility::Private
    };
    spawn_task(
        &ctx,
        op.op.id.clone(),
        caller.0.name.clone(),
        name,
        ImageSource::Built,
        vis,
        move |c| {
            let mut progress = |line: &str| tracing::info!(target: "corral::image", "{line}");
            match recipe.as_str() {
                "minimal" => c.images.build_minimal(),
                "slurm" => c.images.build_slurm(&mut progress),
                _ => c.images.build_debian(&mut progress),
            }
        },
    );
    Ok((StatusCode::ACCEPTED, Json(op.op)))
}

/// `?name=` of an import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Name of the new image.
    #[param(example = "my-rootfs")]
    pub name: String,
}

/// `POST /v1/images/import?name=N`: the body is a rootfs tarball or an OCI archive,
/// streamed to disk before it is unpacked.
#[utoipa::path(
    post,
    path = "/v1/images/import",
    operation_id = "import_image",
    tag = "images",
    params(
        ImportQuery,
    ),
    request_body(description = "A rootfs tarball or an OCI archive, streamed (no size limit)", content(("application/octet-stream"), ("application/x-tar"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "No or a bad `name` (`invalid_request`, `invalid_name`) or the upload broke off (`malformed_request`)", body = ApiError),
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn import(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> HttpResult<Accepted> {
    corral_api::names::validate_name("image", &q.name)?;
    let dir = ctx.cfg.data_dir.join("uploads");
    let internal = |e: std::io::Error| HttpError(ApiError::new(ErrorCode::Internal, format!("storing upload: {e}")));
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let path = dir.join(format!("upload-{}", crate::user::random_secret(8)));
    let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
    let mut stream = req.into_body().into_data_stream();
    while let Some(chunk) = stream.try_next().await.map_err(|e| {
        HttpError(ApiError::new(
            ErrorCode::MalformedRequest,
            format!("reading upload: {e}"),
        ))
    })? {
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    drop(file);
    let op = operation::new(
        "image.import",
        &format!("images/{}", q.name),
        &caller.0.name,
        WaitFor::Task,
    );
    operation::insert(&ctx, &op)?;
    spawn_task(
        &ctx,
        op.op.id.clone(),
        caller.0.name.clone(),
        q.name,
        ImageSource::Imported,
        Visibility::Private,
        move |c| {
            let r = c.images.import(&path);
            let _ = std::fs::remove_file(&path);
            r
        },
    );
    Ok((StatusCode::ACCEPTED, Json(op.op)))
}

/// `POST /v1/images/{name}/share`.
#[utoipa::path(
    post,
    path = "/v1/images/{name}/share",
    operation_id = "share_image",
    tag = "images",
    params(
        ("name" = String, Path, description = "Image name", example = "minimal"),
    ),
    responses(
        (status = 200, description = "The image, now public", body = Image),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn share(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Image>> {
    Ok(Json(
        image::set_visibility(&ctx, &caller.0, &name, Visibility::Public)?.to_api(),
    ))
}

/// `POST /v1/images/{name}/unshare`.
#[utoipa::path(
    post,
    path = "/v1/images/{name}/unshare",
    operation_id = "unshare_image",
    tag = "images",
    params(
        ("name" = String, Path, description = "Image name", example = "minimal"),
    ),
    responses(
        (status = 200, description = "The image, now private", body = Image),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn unshare(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Image>> {
    Ok(Json(
        image::set_visibility(&ctx, &caller.0, &name, Visibility::Private)?.to_api(),
    ))
}

/// `DELETE /v1/images/{name}`: refused while a node uses it; content is collected
/// once no image or node refers to it.
#[utoipa::path(
    delete,
    path = "/v1/images/{name}",
    operation_id = "delete_image",
    tag = "images",
    params(
        ("name" = String, Path, description = "Image name", example = "minimal"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        NotFound,
        (status = 409, description = "A cluster uses the image (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<StatusCode> {
    let doc = image::owned(&ctx, &caller.0, &name)?;
    let nodes = node::all(&ctx)?;
    let in_use = nodes
        .iter()
        .any(|d| d.value.desired != Desired::Deleted && d.value.image == name && d.value.owner == doc.value.owner);
    image::delete(&ctx, &caller.0, &name, in_use)?;
    let mut keep: Vec<String> = image::visible(&ctx, &crate::user::UserRecord::system())?
        .into_iter()
        .map(|i| i.digest)
        .collect();
    keep.extend(nodes.into_iter().map(|d| d.value.image_digest));
    let c = ctx.clone();
    let _ = tokio::task::spawn_blocking(move || c.images.gc(&keep)).await;
    event::record(
        &ctx,
        &caller.0.name,
        &format!("images/{name}"),
        "image.deleted",
        "deleted",
    );
    Ok(StatusCode::NO_CONTENT)
}
