//! Building images from recipes: a busybox image in seconds, a Debian one in minutes,
//! a Slurm one (Debian plus Slurm, munge and Open MPI) in a few more.

mod debian;
mod minimal;
mod mirror;
mod slurm;

use std::path::Path;

use crate::{ImageConfig, ImageError, ImageManifest, ImageStore};

/// PATH of the busybox image.
const BUSYBOX_PATH: &str = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
/// PATH of the Debian-based images, as Debian's login shells have it.
const DEBIAN_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ImageStore {
    /// Builds a one-layer busybox image from the host's busybox-static; takes seconds.
    pub fn build_minimal(&self) -> Result<ImageManifest, ImageError> {
        self.build_one_layer("minimal", BUSYBOX_PATH, &mut |_| {}, |root, _| minimal::populate(root))
    }

    /// Builds a one-layer Debian bookworm image with debootstrap from the host's apt
    /// mirror, reporting debootstrap's output lines; takes minutes and needs the network.
    pub fn build_debian(&self, progress: &mut dyn FnMut(&str)) -> Result<ImageManifest, ImageError> {
        self.build_one_layer("debian", DEBIAN_PATH, progress, |root, progress| {
            let mirror = mirror::bookworm_mirror()?;
            progress(&format!("using mirror {mirror}"));
            debian::debootstrap(root, &mirror, progress)?;
            debian::prepare_for_nodes(root)
        })
    }

    /// Builds a one-layer Slurm image: the Debian recipe, then Slurm, munge, Open MPI
    /// and mpi4py installed with apt-get from the same mirror; takes minutes.
    pub fn build_slurm(&self, progress: &mut dyn FnMut(&str)) -> Result<ImageManifest, ImageError> {
        self.build_one_layer("slurm", DEBIAN_PATH, progress, |root, progress| {
            let mirror = mirror::bookworm_mirror()?;
            progress(&format!("using mirror {mirror}"));
            debian::debootstrap(root, &mirror, progress)?;
            slurm::install(root, progress)?;
            debian::prepare_for_nodes(root)?;
            slurm::prepare_for_nodes(root)
        })
    }

    /// Every recipe's frame: a staging dir named after the recipe, `populate` fills the
    /// layer's root, which is then digested and stored as the image's one layer with
    /// `path` as its environment.
    fn build_one_layer(
        &self,
        recipe: &str,
        path: &str,
        progress: &mut dyn FnMut(&str),
        populate: impl FnOnce(&Path, &mut dyn FnMut(&str)) -> Result<(), ImageError>,
    ) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        let staging = self.stage(recipe)?;
        let root = staging.path().join("layer");
        populate(&root, progress)?;
        progress("digesting the layer");
        let summary = self.commit_layer(&root)?;
        let config = ImageConfig {
            env: vec![path.to_string()],
            workdir: None,
        };
        self.commit_manifest(vec![summary.digest], config, summary.size_bytes)
    }
}
