//! Images as users see them: name, owner and visibility over the content-addressed
//! image store.

use corral_api::{names, ApiError, ErrorCode, Image, ImageSource, Visibility};
use corral_image::ImageManifest;
use corral_store::{typed, Compare, Op};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::time::now;
use crate::user::UserRecord;

/// A stored image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Who may use it.
    pub visibility: Visibility,
    /// Manifest digest in the image store.
    pub digest: String,
    /// Number of layers.
    pub layers: usize,
    /// Unpacked size.
    pub size_bytes: u64,
    /// How it was made.
    pub source: ImageSource,
    /// Creation time.
    pub created_at: u64,
}

impl ImageRecord {
    /// The API view.
    pub fn to_api(&self) -> Image {
        Image {
            name: self.name.clone(),
            owner: self.owner.clone(),
            visibility: self.visibility,
            digest: self.digest.clone(),
            layers: self.layers,
            size_bytes: self.size_bytes,
            source: self.source,
            created_at: self.created_at,
        }
    }
}

/// Every image `user` may use: their own, then public ones of others.
pub fn visible(ctx: &Context, user: &UserRecord) -> Result<Vec<ImageRecord>> {
    Ok(typed::list::<ImageRecord>(ctx.store.as_ref(), keys::IMAGES)?
        .into_iter()
        .map(|d| d.value)
        .filter(|i| user.is_admin() || i.owner == user.name || i.visibility == Visibility::Public)
        .collect())
}

/// Finds the image `name` for `user`: their own first, then a public one.
pub fn resolve(ctx: &Context, user: &UserRecord, name: &str) -> Result<Option<ImageRecord>> {
    if let Some(d) = typed::get::<ImageRecord>(ctx.store.as_ref(), &keys::image(&user.name, name))? {
        return Ok(Some(d.value));
    }
    Ok(visible(ctx, user)?
        .into_iter()
        .filter(|i| i.name == name)
        .min_by_key(|i| (i.visibility != Visibility::Public, i.created_at)))
}

/// Finds an image the user owns (or any, for the admin), for changes.
pub fn owned(ctx: &Context, user: &UserRecord, name: &str) -> Result<corral_store::typed::Doc<ImageRecord>> {
    if let Some(d) = typed::get::<ImageRecord>(ctx.store.as_ref(), &keys::image(&user.name, name))? {
        return Ok(d);
    }
    if user.is_admin() {
        if let Some(d) = typed::list::<ImageRecord>(ctx.store.as_ref(), keys::IMAGES)?
            .into_iter()
            .find(|d| d.value.name == name)
        {
            return Ok(d);
        }
    }
    Err(ApiError::not_found("image", name).into())
}

/// Records a new image made from a manifest; replaces an older image of the same
/// owner and name.
pub fn put(
    ctx: &Context,
    owner: &str,
    name: &str,
    manifest: &ImageManifest,
    source: ImageSource,
    visibility: Visibility,
) -> Result<ImageRecord> {
    names::validate_name("image", name)?;
    let rec = ImageRecord {
        name: name.to_string(),
        owner: owner.to_string(),
        visibility,
        digest: manifest.digest.clone(),
        layers: manifest.layers.len(),
        size_bytes: manifest.size_bytes,
        source,
        created_at: now(),
    };
    ctx.store.txn(&[], &[typed::put_op(&keys::image(owner, name), &rec)?])?;
    Ok(rec)
}

/// Sets an image's visibility.
pub fn set_visibility(ctx: &Context, user: &UserRecord, name: &str, v: Visibility) -> Result<ImageRecord> {
    loop {
        let doc = owned(ctx, user, name)?;
        let mut rec = doc.value;
        rec.visibility = v;
        let op = typed::put_op(&doc.key, &rec)?;
        if ctx
            .store
            .txn(&[Compare::ModRevision(doc.key, doc.revision)], &[op])?
            .is_some()
        {
            return Ok(rec);
        }
    }
}

/// Deletes an image record; its content goes when nothing references it.
pub fn delete(ctx: &Context, user: &UserRecord, name: &str, in_use: bool) -> Result<()> {
    let doc = owned(ctx, user, name)?;
    if in_use {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("image {name:?} is used by a cluster; delete the cluster first"),
        )
        .into());
    }
    ctx.store.txn(
        &[Compare::ModRevision(doc.key.clone(), doc.revision)],
        &[Op::Delete(doc.key)],
    )?;
    Ok(())
}

/// Makes a public image of the admin exist, building it with `build` when missing.
pub fn ensure_builtin(
    ctx: &Context,
    name: &str,
    build: impl FnOnce(&corral_image::ImageStore) -> std::result::Result<ImageManifest, corral_image::ImageError>,
) -> Result<()> {
    let key = keys::image(crate::bootstrap::ADMIN, name);
    if let Some(d) = typed::get::<ImageRecord>(ctx.store.as_ref(), &key)? {
        if ctx.images.manifest(&d.value.digest).is_ok() {
            return Ok(());
        }
    }
    let m = build(&ctx.images)?;
    put(
        ctx,
        crate::bootstrap::ADMIN,
        name,
        &m,
        ImageSource::Built,
        Visibility::Public,
    )?;
    Ok(())
}
