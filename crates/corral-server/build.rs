//! Rebuilds the crate when the web UI's build output appears or changes: rust-embed
//! embeds `web/dist` at compile time but does not tell cargo to watch the folder.

use std::path::Path;

fn main() {
    let dist = Path::new("../../web/dist");
    if dist.exists() {
        println!("cargo:rerun-if-changed=../../web/dist");
    } else {
        // Watching a missing path would rerun this on every build; watch its parent
        // (sources and lock file, committed) so that `scripts/web.sh` creating dist counts.
        println!("cargo:rerun-if-changed=../../web");
    }
}
