//! Generated host bindings, quarantined: one module per frozen WIT folder.
//!
//! `v1` serves `wit/since_v1.0.0`. When a `since_v2.0.0` folder is added, a
//! `v2` module joins it and the host maps the older module's types onto the
//! newest ones at this boundary, so the rest of the crate only sees the
//! newest types (the Zed extension host's pattern).

pub mod v1;

/// The newest bindings: what the rest of the crate programs against.
pub use v1 as latest;
