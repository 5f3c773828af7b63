//! Generated host bindings, quarantined: one module per frozen WIT folder.
//!
//! - `v1` serves `wit/since_v1.0.0` (plugins built for 1.0.x);
//! - `v1_1` serves `wit/since_v1.1.0` (plugins built for 1.1.x) and is
//!   `latest`, the only types the rest of the crate sees for the worlds
//!   it has;
//! - `v1_2` serves the world `wit/since_v1.2.0` adds (`registry-policy`);
//!   the worlds that folder carries forward unchanged are served by
//!   `v1_1` (see `v1_2`'s module doc);
//! - `v1_3` serves the world `wit/since_v1.3.0` changes (`network-policy`:
//!   `plan-subnet`, an address per family) and holds the newest network
//!   types; a network policy built for 1.0 to 1.2 is served by `v1`
//!   (the interface was the same up to 1.2), its records converted there.
//!
//! An older module maps its types onto the newest ones at this boundary
//! (the Zed extension host's pattern, `wasm_host/wit/since_v*.rs`): the
//! interfaces it only imports or only uses for types (`host`, `types`,
//! `graph-admin`) are bound to the newest module's with bindgen's `with`,
//! and the records of the interfaces it exports are converted with `From`
//! in its module. [`crate::world`] picks the module by the WIT version a
//! plugin was built for.

pub mod v1;
pub mod v1_1;
pub mod v1_2;
pub mod v1_3;

/// The newest bindings of every world but `network-policy` (`v1_3`) and
/// `registry-policy` (`v1_2`): what the rest of the crate programs against.
pub use v1_1 as latest;
