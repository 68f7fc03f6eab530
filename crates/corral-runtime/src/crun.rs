//! The crun driver.
