//! Docker Engine API wire types, shared by `berthd`, the `berth` CLI, the
//! engine and the integration tests.
//!
//! Field names follow the Docker Engine API reference (v1.43) exactly, so the
//! real `docker` CLI and the Docker SDKs read what berthd writes. Only the
//! fields berth fills or reads are modelled; unknown request fields are
//! ignored, as dockerd does.
//!
//! - [`version`]: API version negotiation (`/v1.24` … `/v1.43`).
//! - [`system`], [`image`], [`container`], [`event`]: request and response bodies.
//! - [`stream`]: the 8-byte frame header of multiplexed attach/logs streams.
//! - [`filters`]: the `filters` query parameter.
//! - [`units`]: human sizes such as `512m`.
//! - [`job`]: berth's own `/berth/jobs` wire types.
//! - [`volume`]: the `/volumes` bodies.
//! - [`escape`]: detach keys (`--detach-keys`) and their matcher.

#![warn(missing_docs)]

pub mod container;
pub mod escape;
pub mod event;
pub mod exec;
pub mod filters;
pub mod image;
pub mod image_archive;
pub mod job;
pub mod network;
pub mod network_connect;
pub mod prune;
pub mod stream;
pub mod system;
pub mod units;
pub mod version;
pub mod volume;

use serde::{Deserialize, Serialize};

/// The body of every error response: `{"message": "..."}`.
///
/// Docker API reference, "Errors": the engine answers failures with an HTTP
/// status code and this JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Human-readable description of what went wrong.
    pub message: String,
}

/// The zero time as Docker prints it (`time.Time{}` in Go).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
