//! Bindings for `berth:plugin@1.3.0` (`wit/since_v1.3.0`): the
//! `network-policy` world, whose `network` interface 1.3.0 changes
//! (`plan-subnet`, and `plan-network` with an address per family). These
//! are the newest network types, what the rest of the crate programs
//! against (`crate::network_types`); plugins built for 1.0 to 1.2 are
//! served by `bindings::v1` and their records converted there.
//!
//! The worlds 1.3.0 carries forward unchanged are served by the bindings
//! of the version that last changed them (`v1_1`, `v1_2`), as `v1_2`
//! explains: wasmtime finds their `@1.3.0` exports under the older names
//! (semver-compatible lookup) and the records are the same field for field.
//!
//! `host` and `types` are bound to `v1_1`'s modules with `with`, as every
//! version's are: one set of host types whatever the version.

#![allow(missing_docs, clippy::all)]

/// `world network-policy`: sync, called from the engine's blocking
/// threads.
pub mod network_policy {
    wasmtime::component::bindgen!({
        world: "network-policy",
        path: "../../wit/since_v1.3.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "berth:plugin/host": crate::bindings::v1_1::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::v1_1::graph_policy::berth::plugin::types,
        },
    });
}
