//! Building images from recipes: a busybox image in seconds, a Debian one in minutes,
//! a Slurm one (Debian plus Slurm, munge and Open MPI) in a few more.

mod debian;
mod minimal;
mod mirror;
mod slurm;

use crate::{ImageConfig, ImageError, ImageManifest, ImageStore};

impl ImageStore {
    /// Builds a one-layer busybox image from the host's busybox-static; takes seconds.
    pub fn build_minimal(&self) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        let staging = self.stage("minimal")?;
        let root = staging.path().join("layer");
        minimal::populate(&root)?;
        let summary = self.commit_layer(&root)?;
        let config = ImageConfig {
            env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
            workdir: None,
        };
        self.commit_manifest(vec![summary.digest], config, summary.size_bytes)
    }

    /// Builds a one-layer Debian bookworm image with debootstrap from the host's apt
    /// mirror, reporting debootstrap's output lines; takes minutes and needs the network.
    pub fn build_debian(&self, progress: &mut dyn FnMut(&str)) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        let mirror = mirror::bookworm_mirror()?;
        progress(&format!("using mirror {mirror}"));
        let staging = self.stage("debian")?;
        let root = staging.path().join("layer");
        debian::debootstrap(&root, &mirror, progress)?;
        debian::prepare_for_nodes(&root)?;
        progress("digesting the layer");
        let summary = self.commit_layer(&root)?;
        let config = ImageConfig {
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            workdir: None,
        };
        self.commit_manifest(vec![summary.digest], config, summary.size_bytes)
    }

    /// Builds a one-layer Slurm image: the Debian recipe, then Slurm, munge, Open MPI
    /// and mpi4py installed with apt-get from the same mirror; takes minutes.
    pub fn build_slurm(&self, progress: &mut dyn FnMut(&str)) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        let mirror = mirror::bookworm_mirror()?;
        progress(&format!("using mirror {mirror}"));
        let staging = self.stage("slurm")?;
        let root = staging.path().join("layer");
        debian::debootstrap(&root, &mirror, progress)?;
        slurm::install(&root, progress)?;
        debian::prepare_for_nodes(&root)?;
        slurm::prepare_for_nodes(&root)?;
        progress("digesting the layer");
        let summary = self.commit_layer(&root)?;
        let config = ImageConfig {
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            workdir: None,
        };
        self.commit_manifest(vec![summary.digest], config, summary.size_bytes)
    }
}
