//! Corral's decision code, pure: snapshots and a time in, decisions out. No store, no
//! I/O, no clock of its own, so the server's control loops and `corral sim` run the
//! same code, the latter with simulated hosts and a simulated clock.
//!
//! Times are seconds on one clock chosen by the caller (Unix seconds in the server,
//! simulated seconds in `corral sim`).

pub mod consolidate;
pub mod elastic;
pub mod energy;
pub mod placement;
pub mod power;
