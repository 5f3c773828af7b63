//! berth-model: the trusted types that cross the seams between the engine
//! and its drivers.
//!
//! The API edge turns a request into these types once, validating as it
//! goes (STYLE.md rule 4); the engine stores and passes them on, and the
//! drivers (graph, exec, and next registry and network) take them without
//! checking again and without knowing the Docker API's wire types. Each
//! type is defined here once, so no seam copies a type field by field.
//!
//! The crate sits at the bottom of the workspace: it depends on no other
//! berth crate, and every crate above may use it.

#![warn(missing_docs)]

pub mod container;
pub mod dns;
pub mod exec;
pub mod exec_process;
pub mod files;
pub mod graph;
pub mod host;
pub mod net_policy;
pub mod network;
pub mod plugin;
pub mod ports;
pub mod stats;
pub mod time;

pub use time::Timestamp;
