//! Generated bindings, one module per world: the four worlds of
//! `berth:plugin@1.0.0`, `authz` of `berth:plugin@1.1.0`,
//! `registry-policy` of `berth:plugin@1.2.0` and `network-policy` of
//! `berth:plugin@1.3.0`.
//!
//! Plugin authors never use these directly: the world modules of this crate
//! wrap them in idiomatic traits, and the `register_*!` macros export them.
//! The WIT lives in the repository's frozen `wit/since_v1.0.0/` folder.
//!
//! The `host` and `types` interfaces every world imports are generated once,
//! in `plugin_imports`, and shared by the world modules (paths through
//! `berth_plugin_sdk::` so that the export macros resolve them from plugin
//! crates too).

#![allow(missing_docs, clippy::all)]

/// `world job-handler`.
pub mod job_handler {
    wit_bindgen::generate!({
        world: "job-handler",
        path: "../wit/since_v1.0.0",
        pub_export_macro: true,
        export_macro_name: "__export_job_handler",
        default_bindings_module: "berth_plugin_sdk::bindings::job_handler",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world graph-policy`.
pub mod graph_policy {
    wit_bindgen::generate!({
        world: "graph-policy",
        path: "../wit/since_v1.0.0",
        pub_export_macro: true,
        export_macro_name: "__export_graph_policy",
        default_bindings_module: "berth_plugin_sdk::bindings::graph_policy",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world network-policy`.
pub mod network_policy {
    wit_bindgen::generate!({
        world: "network-policy",
        path: "../wit/since_v1.0.0",
        pub_export_macro: true,
        export_macro_name: "__export_network_policy",
        default_bindings_module: "berth_plugin_sdk::bindings::network_policy",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world registry-auth`.
pub mod registry_auth {
    wit_bindgen::generate!({
        world: "registry-auth",
        path: "../wit/since_v1.0.0",
        pub_export_macro: true,
        export_macro_name: "__export_registry_auth",
        default_bindings_module: "berth_plugin_sdk::bindings::registry_auth",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.0.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world authz`, from `berth:plugin@1.1.0` (the minor version that added
/// it). Its `host` and `types` are bound to the 1.0.0 ones every other world
/// shares: the records are the same, so the component imports
/// `berth:plugin/host@1.0.0` like every plugin of this SDK, which a 1.1
/// host serves (minor versions only add).
pub mod authz {
    wit_bindgen::generate!({
        world: "authz",
        path: "../wit/since_v1.1.0",
        pub_export_macro: true,
        export_macro_name: "__export_authz",
        default_bindings_module: "berth_plugin_sdk::bindings::authz",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.1.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.1.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world registry-policy`, from `berth:plugin@1.2.0` (the minor version
/// that added it). Its `host` and `types` are bound to the 1.0.0 ones every
/// other world shares, as `authz`'s are.
pub mod registry_policy {
    wit_bindgen::generate!({
        world: "registry-policy",
        path: "../wit/since_v1.2.0",
        pub_export_macro: true,
        export_macro_name: "__export_registry_policy",
        default_bindings_module: "berth_plugin_sdk::bindings::registry_policy",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.2.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.2.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world network-policy` of `berth:plugin@1.3.0`, whose `network`
/// interface 1.3.0 changed (`plan-subnet`, an address per family). Its
/// `host` and `types` are bound to the 1.0.0 ones every other world shares,
/// as `authz`'s are.
///
/// Generated through an SDK-local world that includes it: wit-bindgen names
/// its crate-level helper macros after the world, and the 1.0.0
/// `network-policy` world above already has those names. The component's
/// imports and exports are the included world's, unchanged.
pub mod network_policy_v1_3 {
    wit_bindgen::generate!({
        inline: "
            package berth:sdk;

            world network-policy-v1-3 {
                include berth:plugin/network-policy@1.3.0;
            }
        ",
        world: "network-policy-v1-3",
        path: "../wit/since_v1.3.0",
        pub_export_macro: true,
        export_macro_name: "__export_network_policy_v1_3",
        default_bindings_module: "berth_plugin_sdk::bindings::network_policy_v1_3",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "berth:plugin/host@1.3.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::host,
            "berth:plugin/types@1.3.0": berth_plugin_sdk::bindings::plugin_imports::berth::plugin::types,
        },
    });
}

/// `world plugin-imports`: the `host` and `types` interfaces, shared by
/// every world.
pub mod plugin_imports {
    wit_bindgen::generate!({
        world: "plugin-imports",
        path: "../wit/since_v1.0.0",
        runtime_path: "berth_plugin_sdk::__private::wit_bindgen::rt",
    });
}
