//! Bindings for `berth:plugin@1.1.0` (`wit/since_v1.1.0`), the newest: the
//! rest of the crate programs against these types (`bindings::latest`).
//!
//! Job handlers run async (their stdio is the Job's streams, fed by tokio);
//! policies run sync, straight on the caller's blocking thread, which
//! avoids a fiber switch per call. wasmtime 48 allows both on one Engine.
//!
//! The linkers define only these versions of the imported interfaces
//! (`host`, `graph-admin`): wasmtime's component linker matches imports
//! semver-compatibly (a `berth:plugin/host@1.0.0` import is served by the
//! `@1.1.0` definition, see `wasmtime_environ::component::NameMap`), so
//! plugins built for 1.0.0 link against them unchanged.

#![allow(missing_docs, clippy::all)]

/// `world job-handler`: async imports and exports. Its `types` are the
/// policy worlds' (an interface of types only is the same sync or async).
pub mod job_handler {
    wasmtime::component::bindgen!({
        world: "job-handler",
        path: "../../wit/since_v1.1.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "berth:plugin/types": crate::bindings::v1_1::graph_policy::berth::plugin::types,
        },
    });
}

/// `world graph-policy`: sync; also owns the `types` bindings every world
/// reuses and the sync `host` bindings the other policy worlds reuse.
pub mod graph_policy {
    wasmtime::component::bindgen!({
        world: "graph-policy",
        path: "../../wit/since_v1.1.0",
        additional_derives: [PartialEq, Eq],
    });
}

/// `world registry-auth`: sync.
pub mod registry_auth {
    wasmtime::component::bindgen!({
        world: "registry-auth",
        path: "../../wit/since_v1.1.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "berth:plugin/host": crate::bindings::v1_1::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::v1_1::graph_policy::berth::plugin::types,
        },
    });
}

/// `world authz` (new in 1.1.0): sync, called from a blocking thread for
/// every API request.
pub mod authz {
    wasmtime::component::bindgen!({
        world: "authz",
        path: "../../wit/since_v1.1.0",
        additional_derives: [PartialEq, Eq],
        with: {
            "berth:plugin/host": crate::bindings::v1_1::graph_policy::berth::plugin::host,
            "berth:plugin/types": crate::bindings::v1_1::graph_policy::berth::plugin::types,
        },
    });
}
