//! `corral sim` without the rest of the binary: `cargo run --release -p corral-sim
//! --example sim -- --question 2` builds only the simulator and its policy code.

use clap::Parser;

/// The same flags as `corral sim`.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: corral_sim::SimArgs,
}

fn main() {
    let cli = Cli::parse();
    match corral_sim::run(&cli.sim) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
