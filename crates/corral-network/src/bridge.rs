//! The bridge driver.
