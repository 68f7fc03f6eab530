//! Corral agent.
