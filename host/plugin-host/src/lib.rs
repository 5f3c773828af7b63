//! berth's plugin host: sandboxed WebAssembly components behind the
//! versioned `berth:plugin` WIT package.
//!
//! - [`PluginHost::start`] creates one wasmtime `Engine` (pooling allocator,
//!   epoch interruption), loads the built-in plugins embedded in berthd and
//!   the plugin directory; [`PluginHost::watch`] keeps the directory loaded
//!   (added → loaded, replaced → validated off to the side then swapped
//!   atomically, deleted → unloaded; a broken replacement never replaces a
//!   working plugin).
//! - Every call gets a fresh `Store` from the plugin's `InstancePre`, with a
//!   memory limit and an epoch deadline; a trap, a timeout or an exhausted
//!   memory limit fails that call only, with the plugin's name and version
//!   in the error ([`PluginError::Call`]); repeated failures put the plugin
//!   in backoff ([`PluginState::Failing`]).
//! - Job handlers: [`PluginHost::jobs`], [`PluginHost::run_job`] with the
//!   Job's stdio as the plugin's WASI stdio ([`JobIo`]).
//! - Policies: [`PluginHost::graph_policy`] (graph layout, plans validated
//!   before use), [`PluginHost::plan_network`],
//!   [`PluginHost::registry_credentials`],
//!   [`PluginHost::choose_registry_credential`] (which held credential
//!   goes to which registry, without secrets), and [`PluginHost::authorize`]
//!   for every API request (fail-closed; see [`authz`]).
//! - Admin: [`PluginHost::list`], [`PluginHost::inspect`],
//!   [`PluginHost::set_enabled`], [`PluginHost::reload`], and
//!   [`PluginHost::subscribe`] for [`PluginEvent`]s.
//!
//! Manifests are described in [`manifest`], grants in [`capabilities`],
//! version compatibility in [`wit`].

// unsafe_code is denied workspace-wide; the plugin host deserialises compiled
// components from its own cache (wasmtime `Component::deserialize_file` is
// unsafe: the bytes are trusted native code), runtime.rs.
#![allow(unsafe_code)]
#![warn(missing_docs)]

pub mod authz;
mod bindings;
mod builtin;
pub mod capabilities;
mod error;
mod events;
mod graph_adapter;
mod host;
pub mod manifest;
mod network_policy;
mod plugin;
mod policy;
mod registry_policy;
mod runtime;
mod state;
mod watcher;
pub mod wit;
mod world;

pub use authz::{AuthzVerdict, DEFAULT_AUTHZ_PLUGIN, authz_types};
pub use builtin::{builtin_names, builtin_plugin};
pub use error::{CallFailure, PluginError};
pub use events::{PluginEvent, PluginEventKind};
pub use host::{
    DEFAULT_GRANTS_FILE, DEFAULT_PLUGIN_DIR, JobEntry, PluginHost, PluginHostConfig, PluginState,
    PluginStatus,
};
pub use manifest::{Capability, Manifest, World};
pub use network_policy::{DEFAULT_NETWORK_POLICY_PLUGIN, NetworkAnswer};
pub use plugin::{HealthPolicy, JobIo, JobSpec, PluginSource};
pub use policy::{GraphPolicyHandle, graph_types, network_types, registry_types};
pub use registry_policy::{DEFAULT_REGISTRY_POLICY_PLUGIN, registry_policy_types};
pub use runtime::{CompileOrigin, HostLimits, Limits};
pub use watcher::{DEBOUNCE, WatchHandle};

#[cfg(test)]
mod fuzz_manifest;
#[cfg(test)]
mod tests;
