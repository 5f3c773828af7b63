//! Bindings for `berth:plugin@1.2.0` (`wit/since_v1.2.0`): the world it
//! adds, `registry-policy`. The worlds 1.2.0 carries forward unchanged are
//! served by `bindings::v1_1` (`latest`): wasmtime looks component exports
//! up semver-compatibly (`wasmtime_environ::component::NameMap`, the map of
//! a component's exports), so a 1.2.0 plugin's
//! `berth:plugin/graph-layout@1.2.0` is found under the `@1.1.0` name, and
//! its records are the same field for field (checked structurally at
//! instantiation).
//!
//! `host` and `types` are bound to `latest`'s modules with `with`, as the
//! other versions' are: one set of host types whatever the version.

#![allow(missing_docs, clippy::all)]

/// `world registry-policy` (new in 1.2.0): sync, called from a blocking
/// thread before a registry is spoken to.
pub mod registry_policy {
    wasmtime::component::bindgen!({
        world: "registry-policy",
        path: "../../wit/since_v1.2.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "berth:plugin/host": crate::bindings::v1_1::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::v1_1::graph_policy::berth::plugin::types,
        },
    });
}
