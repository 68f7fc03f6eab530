//! `corral image ...`: list, show, build, import, share, unshare, delete.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use corral_api::{BuildImageRequest, Image, Operation};

use super::page::{self, PageArgs};
use super::Ctx;

/// Verbs of `corral image`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List the images you may use, by name
    List(PageArgs),
    /// Show one image
    Show {
        /// Image name
        name: String,
    },
    /// Build an image from a recipe (`minimal`, `debian` or `slurm`)
    Build(BuildArgs),
    /// Import a root filesystem tarball or an OCI archive
    Import(ImportArgs),
    /// Make an image usable by every user
    Share {
        /// Image name
        name: String,
    },
    /// Make an image usable by its owner only
    Unshare {
        /// Image name
        name: String,
    },
    /// Delete an image
    Delete {
        /// Image name
        name: String,
    },
}

/// Arguments of `corral image build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Recipe: `minimal` (busybox), `debian` (debootstrap bookworm) or `slurm` (debian with Slurm, munge, Open MPI)
    pub recipe: String,
    /// Image name [default: the recipe's name]
    #[arg(long)]
    pub name: Option<String>,
    /// Return once the request is accepted instead of waiting for the build
    #[arg(long = "async")]
    pub no_wait: bool,
}

/// Arguments of `corral image import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Archive to upload
    pub file: PathBuf,
    /// Image name
    #[arg(long)]
    pub name: String,
    /// Return once the upload is accepted instead of waiting for the import
    #[arg(long = "async")]
    pub no_wait: bool,
}

/// Runs one `corral image` verb.
pub async fn run(cmd: ImageCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        ImageCommand::List(p) => page::show::<Image>(ctx, &["v1", "images"], Vec::new(), p).await?,
        ImageCommand::Show { name } => show(ctx, &name).await?,
        ImageCommand::Build(a) => {
            let body = BuildImageRequest {
                recipe: a.recipe.clone(),
                name: a.name.clone(),
            };
            let op: Operation = ctx.client.post(&["v1", "images", "build"], &body).await?;
            if let Some(done) = ctx.accepted(op, a.no_wait).await? {
                let name = image_name(&done).unwrap_or(a.name.as_ref().unwrap_or(&a.recipe));
                show(ctx, name).await?;
            }
        }
        ImageCommand::Import(a) => {
            // The archive is streamed from disk: images are often larger than memory
            // is worth spending on them.
            let file = tokio::fs::File::open(&a.file)
                .await
                .with_context(|| format!("opening {}", a.file.display()))?;
            let mut url = ctx.client.url(&["v1", "images", "import"]);
            url.query_pairs_mut().append_pair("name", &a.name);
            let op: Operation = ctx.client.post_stream(url, file.into()).await?;
            if ctx.accepted(op, a.no_wait).await?.is_some() {
                show(ctx, &a.name).await?;
            }
        }
        ImageCommand::Share { name } => visibility(ctx, &name, "share").await?,
        ImageCommand::Unshare { name } => visibility(ctx, &name, "unshare").await?,
        ImageCommand::Delete { name } => {
            ctx.client.delete_no_content(&["v1", "images", &name]).await?;
            ctx.console.note(&format!("deleted image {name}"));
        }
    }
    Ok(0)
}

/// The image an operation made, from its target `images/NAME`.
fn image_name(op: &Operation) -> Option<&str> {
    op.target.strip_prefix("images/").filter(|n| !n.is_empty())
}

async fn show(ctx: &mut Ctx<'_>, name: &str) -> anyhow::Result<()> {
    let image: Image = ctx.client.get(&["v1", "images", name]).await?;
    ctx.show(&image)
}

async fn visibility(ctx: &mut Ctx<'_>, name: &str, verb: &str) -> anyhow::Result<()> {
    let image: Image = ctx.client.post_empty(&["v1", "images", name, verb]).await?;
    ctx.show(&image)
}

#[cfg(test)]
mod tests {
    use corral_api::OperationStatus;

    use super::*;
    use crate::output::operation_for_tests as operation;

    #[test]
    fn image_name_comes_from_the_target() {
        let mut op = operation(OperationStatus::Succeeded);
        op.target = "images/debian".into();
        assert_eq!(image_name(&op), Some("debian"));
        op.target = "clusters/demo".into();
        assert_eq!(image_name(&op), None);
    }
}
