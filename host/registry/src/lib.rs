//! berth-registry: the registry driver — the distribution client.
//!
//! It speaks the OCI distribution API (and Docker's Registry HTTP API V2,
//! which it grew from) over one HTTP client per registry: it resolves a reference
//! (`[registry/]repo[:tag|@digest]`, Docker Hub and `library/` by default)
//! to an image manifest, choosing one platform from a manifest list or OCI
//! index, fetches the image config, and streams each layer blob into a file
//! whose digest is verified before the caller may use it — a layer is never
//! held in memory. Basic and bearer-token auth follow the registry's
//! `WWW-Authenticate` challenge (tokens cached per scope until they expire).
//! A `certs.d` client certificate is presented to its registry.
//!
//! Registries on `127.0.0.0/8`, `::1` and `localhost` are spoken to over
//! plain HTTP, as dockerd does, unless a `certs.d` directory for them holds
//! CA material; others over TLS (with the system's roots and their
//! `certs.d/HOST/*.crt`) unless the daemon lists them as insecure
//! (`--insecure-registry`). Docker Hub pulls try the `--registry-mirror`s
//! first.
//!
//! What this crate does not do: store anything. The engine's pull verb
//! decides which layers are needed and hands the verified files to the graph.

#![warn(missing_docs)]

mod certs;
pub mod challenge;
mod client;
mod error;
mod manifest;
mod platform;
mod push;
mod reference;
mod search;
mod session;
mod tags;

pub use client::{
    BlobFile, BlobProgress, BlobTee, BlobTeeFn, Credentials, Mirror, Registry, RegistryConfig,
    ResolvedImage,
};
pub use error::RegistryError;
pub use manifest::{Layer, MediaKind};
pub use platform::Platform;
pub use push::UploadProgress;
pub use reference::{ImageName, is_loopback_registry};
pub use search::SearchResult;
