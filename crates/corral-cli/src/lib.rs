//! Corral cli.
