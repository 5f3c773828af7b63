//! Write berth plugins in Rust.
//!
//! A berth plugin is a WebAssembly component built for `wasm32-wasip2` plus a
//! manifest (`NAME.toml`) next to it. This crate hides the generated
//! `wit-bindgen` code behind one trait per world of the `berth:plugin` WIT
//! package and a registration macro per world:
//!
//! | world | trait | macro |
//! |---|---|---|
//! | `job-handler` | [`job::JobHandler`] | [`register_job_handler!`] |
//! | `graph-policy` | [`graph::GraphPolicy`] | [`register_graph_policy!`] |
//! | `network-policy` | [`network::NetworkPolicy`] | [`register_network_policy!`] |
//! | `network-policy` (WIT 1.3) | [`network::v1_3::NetworkPolicy`] | [`register_network_policy_v1_3!`] |
//! | `registry-auth` | [`registry::RegistryAuth`] | [`register_registry_auth!`] |
//! | `authz` | [`authz::AuthzPolicy`] | [`register_authz_policy!`] |
//! | `registry-policy` | [`registry_policy::RegistryPolicy`] | [`register_registry_policy!`] |
//!
//! Every plugin may also log through berthd and read its configuration with
//! [`host`]. The WIT version a plugin targets is recorded in the component
//! (in the versioned names of its exports), and the host checks it against
//! the manifest: [`WIT_VERSION`] (1.0.0) for the first four worlds, so that
//! plugins built before 1.1 keep building unchanged, and
//! [`authz::WIT_VERSION`] (1.1.0, the minor version that added the world)
//! for `authz`, [`registry_policy::WIT_VERSION`] (1.2.0) for
//! `registry-policy`, [`network::v1_3::WIT_VERSION`] (1.3.0) for a network
//! policy that plans subnets and both families.
//!
//! A plugin crate is a `cdylib` that registers exactly one world:
//!
//! ```toml
//! [package]
//! name = "hello"
//! version = "1.0.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! berth-plugin-sdk = { path = "../../plugin-sdk" }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`, copy
//! `target/wasm32-wasip2/release/hello.wasm` into the plugin directory and
//! write `hello.toml` beside it (see the crate's README for every key):
//!
//! ```toml
//! name = "hello"
//! version = "1.0.0"
//! world = "job-handler"
//! wit = "1.0.0"
//! ```
//!
//! Each world module has a complete example in its documentation.
//!
//! Calls are isolated: the host instantiates the component afresh for every
//! call, so nothing survives from one call to the next (statics included).
//! Keep state in the host (configuration) or, for job handlers granted a
//! scratch directory, in files under `/scratch`.

#![warn(missing_docs)]

// The generated bindings name this crate by its path so that the export
// macros work from plugin crates; make that path resolve here as well.
extern crate self as berth_plugin_sdk;

pub mod authz;
#[doc(hidden)]
pub mod bindings;
pub mod graph;
pub mod host;
pub mod job;
pub mod network;
pub mod registry;
pub mod registry_policy;

/// The version of the `berth:plugin` WIT package the `job-handler`,
/// `graph-policy`, `network-policy` and `registry-auth` worlds of this SDK
/// target. Put it in the manifest's `wit` key (an authz plugin puts
/// [`authz::WIT_VERSION`]).
pub const WIT_VERSION: &str = "1.0.0";

/// Who a plugin is: returned by every world's `describe`.
///
/// The host refuses a component whose `name` or `version` disagrees with its
/// manifest, so that a file copied under the wrong manifest is caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin's name, as in the manifest.
    pub name: String,
    /// The plugin's semver version, as in the manifest.
    pub version: String,
    /// One line for `berth plugin ls`.
    pub summary: String,
}

impl PluginInfo {
    /// Info from the plugin crate's own `Cargo.toml`: pass
    /// `env!("CARGO_PKG_NAME")`, `env!("CARGO_PKG_VERSION")` and a summary.
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            summary: summary.to_owned(),
        }
    }
}

/// Every world's `describe` answers with this record.
impl From<PluginInfo> for bindings::plugin_imports::berth::plugin::types::PluginInfo {
    fn from(info: PluginInfo) -> Self {
        let PluginInfo {
            name,
            version,
            summary,
        } = info;
        Self {
            name,
            version,
            summary,
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
