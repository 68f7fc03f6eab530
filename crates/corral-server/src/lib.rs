//! Corral server.
